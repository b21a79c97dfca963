import { mount } from 'svelte';

import App from './App.svelte';
import './app.css';
import './tabs.css';
import { takeTokenFromUrl } from './lib/session.svelte.js';

// A sign-in link (#token=...) is read and removed from the URL before anything renders, so the
// token is not left in the address bar, the history or a bookmark.
takeTokenFromUrl();
window.addEventListener('hashchange', () => {
  if (window.location.hash.startsWith('#token=')) takeTokenFromUrl();
});

export default mount(App, { target: document.getElementById('app') });
