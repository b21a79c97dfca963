// Who is signed in: the tenant token, kept in sessionStorage (this tab only, gone when it
// closes) and sent as a bearer header or in the WebSocket's first frame, never in a URL.

import { readClaims } from './servers.js';

const KEY = 'craftplane.token';
const MAX_TIMER_MS = 2 ** 31 - 1;

export const session = $state({
  /** @type {string|null} */
  token: null,
  /** @type {{tenant?: string, exp?: number}|null} */
  claims: null,
  /** A message for the sign-in page: why the user is there. @type {{kind: 'info'|'error', text: string}|null} */
  notice: null,
});

let expiryTimer = 0;

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the token lives in memory for this page only
  }
}

function armExpiry() {
  clearTimeout(expiryTimer);
  const exp = session.claims?.exp;
  if (typeof exp !== 'number') return;
  const delay = exp * 1000 - Date.now();
  if (delay <= 0) {
    signOut({ kind: 'error', text: 'Your session has expired. Sign in with a new token.' });
    return;
  }
  expiryTimer = window.setTimeout(armExpiry, Math.min(delay, MAX_TIMER_MS));
}

/** Sign in with a token the gateway accepted. */
export function signIn(token) {
  const value = token.trim();
  storage()?.setItem(KEY, value);
  session.token = value;
  session.claims = readClaims(value);
  session.notice = null;
  armExpiry();
}

/** Sign out, with an optional message shown on the sign-in page. */
export function signOut(notice = null) {
  clearTimeout(expiryTimer);
  storage()?.removeItem(KEY);
  session.token = null;
  session.claims = null;
  session.notice = notice;
}

/** Whether a token is past its expiry (by its own claims; the gateway has the last word). */
export function isExpired(token) {
  const exp = readClaims(token)?.exp;
  return typeof exp === 'number' && exp * 1000 <= Date.now();
}

/**
 * Read a sign-in link's token (#token=...), store it and take it out of the URL at once with
 * history.replaceState; otherwise restore the token this tab signed in with.
 */
export function takeTokenFromUrl() {
  const hash = window.location.hash || '';
  if (hash.startsWith('#token=')) {
    const token = decodeURIComponent(hash.slice('#token='.length));
    window.history.replaceState(null, '', `${window.location.pathname}${window.location.search}#/`);
    if (token && !isExpired(token)) {
      signIn(token);
    } else {
      signOut({ kind: 'error', text: 'That sign-in link has expired. Paste a new token.' });
    }
    return;
  }
  const stored = storage()?.getItem(KEY);
  if (stored) {
    if (isExpired(stored)) {
      signOut({ kind: 'error', text: 'Your session has expired. Sign in with a new token.' });
    } else {
      signIn(stored);
    }
  }
}
