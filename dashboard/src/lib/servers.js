// Pure functions over the gateway's server objects and frames (no DOM, no Svelte):
// merging snapshots and event frames by name, timelines and player series, backoff.
// Unit-tested with `npm test` (node --test).

/** @typedef {{online: number, max: number}} Players */
/**
 * @typedef {object} Server
 * @property {string} name
 * @property {string} [uid]
 * @property {string} [status]  deploying | running | stopped | failed | terminating | deleted
 * @property {string|null} [phase]
 * @property {string|null} [address]  where a player joins (status.address.host)
 * @property {number|null} [port]
 * @property {string|null} [reach]  router | loadBalancer | nodePort | cluster (inside the cluster only)
 * @property {string[]} [hostnames]  routed to the server by the platform's router, canonical first
 * @property {Players|null} [players]
 * @property {string|null} [type]
 * @property {string|null} [version]
 * @property {string|null} [reason]
 * @property {string|null} [message]
 * @property {string|null} [createdAt]
 * @property {string|null} [updatedAt]
 * @property {boolean} [pending]   created here, not yet confirmed by the gateway
 * @property {number} [pendingSince]
 */

export const STATUSES = ['deploying', 'running', 'stopped', 'failed', 'terminating'];

export const STATUS_LABELS = {
  deploying: 'Deploying',
  running: 'Running',
  stopped: 'Stopped',
  failed: 'Failed',
  terminating: 'Terminating',
  deleted: 'Deleted',
};

// The reasons (the Ready condition's, the API's `reason`) of a server the operator put to sleep
// for spec.hibernation, and of one woken from it: its status word stays its phase's (stopped,
// deploying); the label says more. Spelled as craftplane.contracts.hibernation spells them (a unit
// test compares them).
export const HIBERNATING_REASON = 'Hibernating';
export const WAKING_REASON = 'Waking';

/**
 * What a server's status reads as: its status word's label, or Hibernating / Waking when its
 * reason says the platform put it to sleep or is waking it.
 * @param {string|undefined} status
 * @param {string|null|undefined} [reason]
 * @returns {string}
 */
export function statusLabel(status, reason) {
  if (status === 'stopped' && reason === HIBERNATING_REASON) return 'Hibernating';
  if (status === 'deploying' && reason === WAKING_REASON) return 'Waking';
  return STATUS_LABELS[status || ''] || status || 'unknown';
}

/**
 * Whether the server sleeps until a player joins (stopped by hibernation, not by its owner).
 * @param {Server|null|undefined} server
 * @returns {boolean}
 */
export function hibernating(server) {
  return server?.status === 'stopped' && server?.reason === HIBERNATING_REASON;
}

/** How long a server created from this page is kept when a snapshot does not list it yet. */
export const PENDING_GRACE_MS = 60_000;

/** Keys of a fetched server that fill in what live frames do not carry (event frames are partial). */
const FILL_KEYS = ['type', 'version', 'createdAt', 'namespace', 'tenant', 'uid', 'links'];

/**
 * A server after merging a partial view into it: keys present in `partial` win (null included,
 * e.g. a stopped server's address), keys absent keep their value.
 * @param {Server|undefined} current
 * @param {Partial<Server>} partial
 * @returns {Server}
 */
export function mergeServer(current, partial) {
  const next = { ...(current || {}) };
  for (const [key, value] of Object.entries(partial)) {
    if (value !== undefined) next[key] = value;
  }
  delete next.pending;
  delete next.pendingSince;
  return /** @type {Server} */ (next);
}

/**
 * The servers after a snapshot: exactly the snapshot's, plus servers created here so recently that
 * the projection may not have them yet.
 * @param {Record<string, Server>} current
 * @param {Server[]} snapshot
 * @param {number} now
 * @returns {Record<string, Server>}
 */
export function applySnapshot(current, snapshot, now) {
  /** @type {Record<string, Server>} */
  const next = {};
  for (const server of snapshot) {
    if (server.status === 'deleted') continue;
    next[server.name] = mergeServer(undefined, server);
  }
  for (const [name, server] of Object.entries(current)) {
    if (!next[name] && server.pending && now - (server.pendingSince || 0) < PENDING_GRACE_MS) {
      next[name] = server;
    }
  }
  return next;
}

/**
 * Apply one event frame's `server` (a partial view) to the servers, in place.
 * Returns what happened: 'removed', 'added', 'updated' or 'ignored'.
 * @param {Record<string, Server>} servers
 * @param {Partial<Server> & {name: string}} view
 * @returns {'removed'|'added'|'updated'|'ignored'}
 */
export function applyEvent(servers, view) {
  if (!view || !view.name) return 'ignored';
  const current = servers[view.name];
  const sameIncarnation = !current || !current.uid || !view.uid || current.uid === view.uid;
  if (view.status === 'deleted') {
    if (current && sameIncarnation) {
      delete servers[view.name];
      return 'removed';
    }
    return 'ignored';
  }
  if (!current) {
    servers[view.name] = mergeServer(undefined, view);
    return 'added';
  }
  // A server deleted and created again under the same name: start from the new one.
  servers[view.name] = mergeServer(sameIncarnation ? current : undefined, view);
  return 'updated';
}

/**
 * Fill in the keys a live server lacks from a fetched copy (never overwriting live state).
 * @param {Server} live
 * @param {Server} fetched
 * @returns {Server}
 */
export function fillServer(live, fetched) {
  if (live.uid && fetched.uid && live.uid !== fetched.uid) return live;
  const next = { ...live };
  for (const key of FILL_KEYS) {
    if ((next[key] === undefined || next[key] === null) && fetched[key] != null) {
      next[key] = fetched[key];
    }
  }
  if (next.status === undefined && fetched.status) next.status = fetched.status;
  if (next.players === undefined && fetched.players !== undefined) next.players = fetched.players;
  return next;
}

/** Whether a live server lacks details only a REST read gives (event frames are partial). */
export function needsDetails(server) {
  return !server.pending && (server.type == null || server.createdAt == null);
}

/**
 * Apply a metrics frame's playersByServer (online counts) to the servers, in place.
 * @param {Record<string, Server>} servers
 * @param {Record<string, number>} playersByServer
 */
export function applyMetrics(servers, playersByServer) {
  for (const [name, online] of Object.entries(playersByServer || {})) {
    const server = servers[name];
    if (server && server.players && typeof online === 'number') {
      server.players = { ...server.players, online };
    }
  }
}

/**
 * Servers sorted for display, filtered by a search text and a status.
 * @param {Record<string, Server>} servers
 * @param {{query?: string, status?: string}} [filter]
 */
export function visibleServers(servers, filter = {}) {
  const query = (filter.query || '').trim().toLowerCase();
  return Object.values(servers)
    .filter((s) => !filter.status || s.status === filter.status)
    .filter(
      (s) =>
        !query ||
        s.name.toLowerCase().includes(query) ||
        (s.type || '').toLowerCase().includes(query) ||
        (s.version || '').toLowerCase().includes(query),
    )
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Counts by status over the servers. */
export function countByStatus(servers) {
  /** @type {Record<string, number>} */
  const counts = {};
  for (const s of Object.values(servers)) counts[s.status || 'unknown'] = (counts[s.status || 'unknown'] || 0) + 1;
  return counts;
}

/**
 * A timeline entry (as GET /events returns them) from a live event frame, or null when the
 * frame is not a recorded event (cluster polling and drift frames carry no id).
 */
export function entryFromFrame(frame) {
  const event = frame && frame.event;
  if (!event || !event.id || !event.time) return null;
  const server = frame.server || {};
  /** @type {Record<string, any>} */
  const entry = { id: event.id, type: event.type, time: event.time };
  for (const key of ['status', 'phase', 'address', 'port', 'players']) {
    if (server[key] != null) entry[key] = server[key];
  }
  if (event.reason != null) entry.reason = event.reason;
  const actor = event.actor ?? frame.actor;
  if (actor != null) entry.actor = actor;
  if (event.message != null) entry.message = event.message;
  return entry;
}

/**
 * Whether a live event frame stands for changes whose timeline entries it does not carry: the
 * gateway merges the changes a client fell behind on into one frame per server (`coalesced`
 * says how many) and sends only the newest entry; the others are to be read from the timeline.
 */
export function missesEntries(frame) {
  return frame?.type === 'event' && Number(frame.coalesced) > 1;
}

/**
 * Timeline entries merged by id, newest first.
 * @param {Array<Record<string, any>>} existing
 * @param {Array<Record<string, any>>} more
 */
export function mergeTimeline(existing, more) {
  const byId = new Map();
  for (const entry of [...existing, ...more]) {
    if (entry && entry.id && !byId.has(entry.id)) byId.set(entry.id, entry);
  }
  return [...byId.values()].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
}

/**
 * Points (t in ms, online, max) of players online over time, oldest first, from timeline
 * entries and live samples. Consecutive equal values are kept: they mark when a value was seen.
 * @param {Array<Record<string, any>>} entries
 * @param {Array<{t: number, online: number, max?: number}>} samples
 */
export function playerSeries(entries, samples = []) {
  const points = [];
  for (const entry of entries) {
    if (entry.players && typeof entry.players.online === 'number') {
      points.push({ t: Date.parse(entry.time), online: entry.players.online, max: entry.players.max });
    } else if (entry.status === 'stopped' || entry.type === 'server.deleted') {
      points.push({ t: Date.parse(entry.time), online: 0, max: undefined });
    }
  }
  for (const sample of samples) points.push(sample);
  return points.filter((p) => Number.isFinite(p.t)).sort((a, b) => a.t - b.t);
}

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential, capped, with jitter.
 * @param {number} attempt
 * @param {{base?: number, cap?: number, random?: () => number}} [opts]
 */
export function backoffDelay(attempt, opts = {}) {
  const base = opts.base ?? 500;
  const cap = opts.cap ?? 15_000;
  const random = opts.random ?? Math.random;
  const exp = Math.min(cap, base * 2 ** Math.min(attempt, 20));
  // Full value plus or minus 20%, so many tabs do not reconnect in step.
  return Math.round(exp * (0.8 + 0.4 * random()));
}

/**
 * A short age such as "45s", "12m", "3h", "5d".
 * @param {string|null|undefined} iso
 * @param {number} now
 */
export function formatAge(iso, now) {
  if (!iso) return '—';
  const then = Date.parse(iso);
  if (!Number.isFinite(then)) return '—';
  const seconds = Math.max(0, Math.floor((now - then) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}

/**
 * When a time is, relative to now: "in 12m" or "3h ago" ("now" within a few seconds).
 * @param {string|null|undefined} iso
 * @param {number} now
 */
export function formatWhen(iso, now) {
  if (!iso) return '—';
  const then = Date.parse(iso);
  if (!Number.isFinite(then)) return '—';
  if (Math.abs(then - now) < 5000) return 'now';
  const span = formatAge(new Date(Math.min(then, now)).toISOString(), Math.max(then, now));
  return then > now ? `in ${span}` : `${span} ago`;
}

/**
 * The last restart (status.lastRestart) in words: who asked, when, and whether it is done.
 * @param {{requestedAt?: string, by?: string, doneAt?: string|null}|null|undefined} last
 * @param {number} now
 */
export function describeRestart(last, now) {
  if (!last || !last.requestedAt) return '—';
  const by = last.by ? ` by ${last.by}` : '';
  if (last.doneAt) return `${formatWhen(last.doneAt, now)}${by}`;
  return `asked ${formatWhen(last.requestedAt, now)}${by}, under way`;
}

/** The port a Minecraft client assumes when an address names none. */
export const DEFAULT_GAME_PORT = 25565;

/** Whether the server's address works only inside the cluster (no router, no load balancer). */
export function clusterOnly(server) {
  return !!server && !!server.address && server.reach === 'cluster';
}

/**
 * "host:port" a player can join by, or null while there is none. An address that works only
 * inside the cluster (a ClusterIP) is never offered as one.
 */
export function endpoint(server) {
  if (!server || !server.address || clusterOnly(server)) return null;
  return server.port ? `${server.address}:${server.port}` : server.address;
}

/**
 * The hostnames the router routes to the server, as a player types them: with the router's
 * port when it is not the default. Only when the server is joined through the router (its port
 * is then the router's); otherwise the names as they are.
 */
export function joinHostnames(server) {
  const names = Array.isArray(server?.hostnames) ? server.hostnames : [];
  if (server?.reach !== 'router' || !server.port || server.port === DEFAULT_GAME_PORT) return [...names];
  return names.map((name) => `${name}:${server.port}`);
}

/**
 * What the Connect card says.
 * kind: 'join' (address to copy; a hibernating server too: joining wakes it), 'stopped',
 * 'cluster' (inside the cluster only), 'waiting', 'deleted';
 * address: what to join by (null unless joinable); others: the other hostnames to join by (none
 * when the server is reachable only inside the cluster);
 * internal: the cluster-internal address, shown as such and never as the one to join.
 * @param {Server|null|undefined} server
 * @param {string|undefined} status
 * @param {boolean} deleted
 */
export function connectInfo(server, status, deleted) {
  const address = endpoint(server);
  const internal = clusterOnly(server) ? `${server.address}:${server.port || DEFAULT_GAME_PORT}` : null;
  // Inside the cluster only there is no router to take these names: listing them would
  // suggest a way in that is not there.
  const hostnames = internal ? [] : joinHostnames(server);
  const others = hostnames.filter((name) => name !== address && `${name}:${DEFAULT_GAME_PORT}` !== address);
  let kind = 'waiting';
  if (deleted) kind = 'deleted';
  else if (status === 'stopped' && !(hibernating(server) && address)) kind = 'stopped';
  else if (address) kind = 'join';
  else if (internal) kind = 'cluster';
  return { kind, address, others, internal };
}

/**
 * The claims of a JWT, read without verifying it (the gateway verifies): for the tenant's name
 * and the expiry time shown in the header. Null when it is not a JWT.
 * @param {string} token
 */
export function readClaims(token) {
  const parts = (token || '').split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const json = typeof atob === 'function' ? atob(padded) : Buffer.from(padded, 'base64').toString('binary');
    const claims = JSON.parse(json);
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/**
 * The create body the API expects, from the form's values. Empty optional fields are left out
 * (the API's defaults apply); values are sent as typed so the API reports what is wrong.
 * @param {Record<string, any>} form
 */
export function createBody(form) {
  const spec = { eula: !!form.eula };
  if (form.type) spec.type = form.type;
  if (form.version?.trim()) spec.version = form.version.trim();
  if (form.memory?.trim()) spec.resources = { memory: form.memory.trim() };
  const storage = {};
  if (form.storage?.trim()) storage.size = form.storage.trim();
  if (typeof form.retainOnDelete === 'boolean') storage.retainOnDelete = form.retainOnDelete;
  if (Object.keys(storage).length) spec.storage = storage;
  const properties = {};
  if (form.motd !== undefined && form.motd !== '') properties.motd = form.motd;
  if (form.maxPlayers !== undefined && form.maxPlayers !== null && `${form.maxPlayers}`.trim() !== '') {
    const raw = `${form.maxPlayers}`.trim();
    properties.maxPlayers = /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }
  if (form.gameMode) properties.gameMode = form.gameMode;
  if (form.difficulty) properties.difficulty = form.difficulty;
  if (Object.keys(properties).length) spec.properties = properties;
  return { name: (form.name || '').trim(), spec };
}
