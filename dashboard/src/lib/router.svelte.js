// Hash routing: #/ (servers), #/new (create), #/servers/NAME (one server).

/** @typedef {{page: 'list'} | {page: 'new'} | {page: 'server', name: string}} Route */

/** @returns {Route} */
export function parseRoute(hash) {
  const path = (hash || '').replace(/^#/, '');
  const server = /^\/servers\/([^/?#]+)\/?$/.exec(path);
  if (server) return { page: 'server', name: decodeURIComponent(server[1]) };
  if (path === '/new' || path === '/new/') return { page: 'new' };
  return { page: 'list' };
}

export const router = $state({ route: parseRoute(typeof window === 'undefined' ? '' : window.location.hash) });

if (typeof window !== 'undefined') {
  window.addEventListener('hashchange', () => {
    router.route = parseRoute(window.location.hash);
  });
}

export const href = {
  list: '#/',
  create: '#/new',
  server: (name) => `#/servers/${encodeURIComponent(name)}`,
};

/** Go to a route (a new history entry, as a link would). */
export function navigate(to) {
  if (window.location.hash === to) {
    router.route = parseRoute(to);
  } else {
    window.location.hash = to;
  }
}
