// Hash routing: #/ (servers), #/new (create), #/servers/NAME (one server) and its tabs
// #/servers/NAME/console, /logs, /backups, /settings.

/** The tabs of a server's page; the first is its overview. */
export const SERVER_TABS = ['overview', 'console', 'logs', 'backups', 'settings'];

/** @typedef {{page: 'list'} | {page: 'new'} | {page: 'server', name: string, tab: string}} Route */

/** @returns {Route} */
export function parseRoute(hash) {
  const path = (hash || '').replace(/^#/, '');
  const server = /^\/servers\/([^/?#]+)(?:\/([a-z]+))?\/?$/.exec(path);
  if (server && (!server[2] || SERVER_TABS.includes(server[2]))) {
    return { page: 'server', name: decodeURIComponent(server[1]), tab: server[2] || 'overview' };
  }
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
  server: (name, tab = 'overview') =>
    `#/servers/${encodeURIComponent(name)}${tab && tab !== 'overview' ? `/${tab}` : ''}`,
};

/** Go to a route (a new history entry, as a link would). */
export function navigate(to) {
  if (window.location.hash === to) {
    router.route = parseRoute(to);
  } else {
    window.location.hash = to;
  }
}
