// The live view of the tenant's servers over /api/v1/ws.
//
// Protocol: {"type":"auth","token"} first, then {"type":"subscribe","servers":"all"}; the gateway
// answers with a snapshot, then event frames carrying the changed fields of one server (merged
// by name; a socket that fell behind gets one frame per server merging what it missed, marked
// `coalesced`, so merging by name still ends at the latest state). On any disconnect it reconnects with exponential backoff, and the fresh snapshot
// replaces everything, so nothing that happened while disconnected is missed.

import { untrack } from 'svelte';

import { api, ApiError, listAllServers, serverPath } from './api.js';
import {
  applyEvent,
  applyMetrics,
  applySnapshot,
  backoffDelay,
  fillServer,
  needsDetails,
} from './servers.js';
import { session, signOut } from './session.svelte.js';

const PING_EVERY_MS = 15_000;
const SILENCE_LIMIT_MS = 40_000; // no frame at all for this long: the connection is dead
const POLICY_VIOLATION = 1008;
const DETAIL_RETRIES = 5;

/** @typedef {'idle'|'connecting'|'live'|'reconnecting'} LinkState */

function socketUrl() {
  const url = new URL('./api/v1/ws', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  return url.toString();
}

class Live {
  /** @type {LinkState} */
  state = $state('idle');
  /** @type {Record<string, import('./servers.js').Server>} */
  servers = $state({});
  /** Whether the list holds data from the gateway yet (a snapshot or a REST read). */
  loaded = $state(false);
  /** When the list was last known complete (the last snapshot), ms since epoch. */
  syncedAt = $state(0);
  /** The time of the next reconnect attempt while reconnecting, ms since epoch. */
  retryAt = $state(0);
  attempt = $state(0);
  /** Why the link is down or why the list could not load, for the user. */
  problem = $state('');
  /** Servers whose row should be highlighted briefly (just created here). */
  highlight = $state('');

  /** @type {WebSocket|null} */
  #ws = null;
  #token = '';
  #retryTimer = 0;
  #pingTimer = 0;
  #lastFrameAt = 0;
  #gotSnapshot = false;
  /** @type {Set<(frame: any) => void>} */
  #listeners = new Set();
  /** @type {Map<string, number>} */
  #detailTries = new Map();
  #detailInFlight = new Set();
  /** The console.open frame to send again on every new connection (one console per socket). */
  #console = null;

  constructor() {
    if (typeof window !== 'undefined') {
      window.addEventListener('online', () => this.retryNow());
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'visible') this.retryNow();
      });
    }
  }

  /** Start following the signed-in tenant's servers. */
  start(token) {
    if (this.#token === token && this.state !== 'idle') return;
    this.stop();
    this.#token = token;
    this.servers = {};
    this.loaded = false;
    this.problem = '';
    this.attempt = 0;
    this.#gotSnapshot = false;
    this.#detailTries.clear();
    this.#loadByRest();
    this.#open();
  }

  /** Stop and forget everything (sign-out). */
  stop() {
    this.#token = '';
    clearTimeout(this.#retryTimer);
    clearInterval(this.#pingTimer);
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000, 'signed out');
      } catch {
        /* already closed */
      }
    }
    this.state = 'idle';
    this.servers = {};
    this.loaded = false;
    this.#console = null;
  }

  /** Reconnect at once instead of waiting for the backoff (a button, the browser back online). */
  retryNow() {
    if (this.state !== 'reconnecting' || !this.#token) return;
    clearTimeout(this.#retryTimer);
    this.#open();
  }

  /** Send a frame on the socket; false when it is not connected (the caller falls back to REST). */
  send(frame) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.state !== 'live') return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Follow a server's log on the socket (console.line frames), now and after every reconnect;
   * it replaces a console open for another server.
   */
  openConsole(server, tail = 100) {
    this.#console = { type: 'console.open', server, tail };
    const ws = this.#ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(this.#console));
  }

  /** Stop following a server's log (leaving the console tab). */
  closeConsole(server) {
    if (this.#console?.server !== server) return;
    this.#console = null;
    const ws = this.#ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'console.close', server }));
  }

  /** Listen to every frame (the server page builds its timeline from them). */
  subscribe(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A server created from this page: shown at once as deploying, until the gateway confirms. */
  addPending(name, fields = {}) {
    if (this.servers[name]) return;
    this.servers[name] = {
      name,
      status: 'deploying',
      createdAt: new Date().toISOString(),
      ...fields,
      pending: true,
      pendingSince: Date.now(),
    };
    this.highlight = name;
  }

  /** Merge fields learnt elsewhere (a REST read) into the live view. */
  learn(server) {
    const current = this.servers[server.name];
    if (current) this.servers[server.name] = fillServer(current, server);
  }

  /** Mark a server as changing at once (optimistic), until the next frame tells the truth. */
  expect(name, fields) {
    const current = this.servers[name];
    if (current) this.servers[name] = { ...current, ...fields };
  }

  async #loadByRest() {
    const token = this.#token;
    try {
      const items = await listAllServers({ token });
      if (token !== this.#token || this.#gotSnapshot) return;
      this.servers = applySnapshot(this.servers, items, Date.now());
      this.loaded = true;
    } catch (error) {
      if (token !== this.#token) return;
      if (error instanceof ApiError && error.status === 401) {
        signOut({ kind: 'error', text: `Your session has ended: ${error.detail}. Sign in again.` });
        return;
      }
      if (!this.loaded) this.problem = error instanceof ApiError && error.status === 0
        ? 'The gateway cannot be reached.'
        : `The servers could not be loaded: ${error.message}`;
    }
  }

  #open() {
    const token = this.#token;
    if (!token) return;
    this.state = this.#gotSnapshot || this.attempt > 0 ? 'reconnecting' : 'connecting';
    this.retryAt = 0;
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch {
      this.#scheduleRetry();
      return;
    }
    this.#ws = ws;
    let refused = '';
    ws.onopen = () => {
      this.#lastFrameAt = Date.now();
      ws.send(JSON.stringify({ type: 'auth', token }));
      ws.send(JSON.stringify({ type: 'subscribe', servers: 'all' }));
      if (this.#console) {
        ws.send(JSON.stringify(this.#console));
        // Not a gateway frame: tells the console that its tail is coming again.
        this.#notify({ type: 'console.reopened', server: this.#console.server });
      }
      clearInterval(this.#pingTimer);
      this.#pingTimer = window.setInterval(() => this.#heartbeat(ws), PING_EVERY_MS);
    };
    ws.onmessage = (message) => {
      if (ws !== this.#ws) return;
      this.#lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.type === 'error' && frame.code === 'unauthorized') refused = frame.message || 'the token was refused';
      this.#handle(frame);
    };
    ws.onclose = (event) => {
      if (ws !== this.#ws) return;
      this.#ws = null;
      clearInterval(this.#pingTimer);
      if (!this.#token) return;
      if (refused) {
        signOut({ kind: 'error', text: `Your session has ended: ${refused}. Sign in again.` });
        return;
      }
      if (event.code === POLICY_VIOLATION) {
        // Refused without a reason given: find out whether the token is still good.
        this.problem = 'The gateway refused the live connection.';
        api('/servers?limit=1').catch(() => {});
      } else {
        this.problem = this.#gotSnapshot ? 'Connection to the gateway lost.' : 'The gateway cannot be reached.';
      }
      this.#scheduleRetry();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  #heartbeat(ws) {
    if (ws !== this.#ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.#lastFrameAt > SILENCE_LIMIT_MS) {
      ws.close(4000, 'no frames');
      return;
    }
    ws.send(JSON.stringify({ type: 'ping' }));
  }

  #scheduleRetry() {
    if (!this.#token) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.state = 'reconnecting';
    this.retryAt = Date.now() + delay;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = window.setTimeout(() => this.#open(), delay);
  }

  #handle(frame) {
    switch (frame.type) {
      case 'snapshot': {
        this.servers = applySnapshot(this.servers, frame.servers || [], Date.now());
        this.#gotSnapshot = true;
        this.loaded = true;
        this.state = 'live';
        this.attempt = 0;
        this.problem = '';
        this.syncedAt = Date.now();
        for (const server of Object.values(this.servers)) this.#details(server);
        break;
      }
      case 'event': {
        if (!this.#gotSnapshot || !frame.server) break;
        const outcome = applyEvent(this.servers, frame.server);
        if (outcome === 'removed') {
          this.#detailTries.delete(frame.server.name);
        } else if (outcome !== 'ignored') {
          this.#details(this.servers[frame.server.name]);
        }
        break;
      }
      case 'metrics':
        applyMetrics(this.servers, frame.playersByServer);
        break;
      case 'error':
        if (frame.code === 'unavailable' && this.#ws) {
          this.problem = frame.message;
          this.#ws.close(4000, 'unavailable');
        }
        break;
      default:
        break;
    }
    this.#notify(frame);
  }

  #notify(frame) {
    for (const listener of this.#listeners) {
      try {
        listener(frame);
      } catch (error) {
        console.error(error);
      }
    }
  }

  /** Fetch what event frames do not carry (type, version, age) for a server that lacks it. */
  async #details(server) {
    if (!server || !needsDetails(server) || this.#detailInFlight.has(server.name)) return;
    const tries = this.#detailTries.get(server.name) || 0;
    if (tries >= DETAIL_RETRIES) return;
    this.#detailTries.set(server.name, tries + 1);
    this.#detailInFlight.add(server.name);
    const token = this.#token;
    try {
      const fetched = await api(serverPath(server.name), { token });
      if (token === this.#token && fetched) this.learn(fetched);
    } catch (error) {
      // The projection may not have it yet: try again shortly.
      if (token === this.#token && error instanceof ApiError && error.status === 404) {
        window.setTimeout(() => this.#details(this.servers[server.name]), 1000 * 2 ** tries);
      }
    } finally {
      this.#detailInFlight.delete(server.name);
    }
  }
}

export const live = new Live();

/** Keep the live view following the signed-in token. */
export function followSession() {
  $effect.root(() => {
    $effect(() => {
      const token = session.token;
      untrack(() => (token ? live.start(token) : live.stop()));
    });
  });
}

