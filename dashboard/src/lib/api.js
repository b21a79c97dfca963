// The gateway's REST API: bearer-authenticated JSON, errors as RFC 9457 problem details.

import { session, signOut } from './session.svelte.js';

export const API = './api/v1';

export class ApiError extends Error {
  /**
   * @param {number} status  HTTP status; 0 when the gateway could not be reached
   * @param {string} message
   * @param {{title?: string, detail?: string, errors?: Array<{field: string, message: string}>, retryAfter?: number}} [extra]
   */
  constructor(status, message, extra = {}) {
    super(message);
    this.status = status;
    this.title = extra.title || '';
    this.detail = extra.detail || message;
    this.errors = extra.errors || [];
    this.retryAfter = extra.retryAfter;
  }

  get unreachable() {
    return this.status === 0 || this.status === 502 || this.status === 504;
  }
}

/** A user-facing sentence for an error. */
export function describeError(error) {
  if (!(error instanceof ApiError)) return String(error?.message || error);
  if (error.status === 0) return 'The gateway cannot be reached. Check your connection; retrying helps once it is back.';
  if (error.status === 503) return `The platform is temporarily unavailable: ${error.detail}`;
  return error.detail || error.title || `Request failed (${error.status})`;
}

/**
 * Call the API. Resolves with the parsed JSON body (or null); rejects with ApiError.
 * A 401 on a signed-in session signs out with the gateway's reason.
 * @param {string} path  below /api/v1, e.g. "/servers"
 * @param {{method?: string, body?: any, token?: string, signal?: AbortSignal}} [options]
 */
export async function api(path, options = {}) {
  const token = options.token ?? session.token;
  const headers = authHeaders('application/json, application/problem+json', token);
  /** @type {RequestInit} */
  const init = { method: options.method || 'GET', headers, signal: options.signal, credentials: 'omit', cache: 'no-store' };
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(`${API}${path}`, init);
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    throw new ApiError(0, 'The gateway cannot be reached');
  }
  const text = await response.text().catch(() => '');
  const body = parseJson(text);
  if (response.ok) return body;
  throw problemError(response, body, options.token === undefined);
}

function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The headers of an API call with the session's (or a given) bearer token. */
export function authHeaders(accept, token = session.token) {
  /** @type {Record<string, string>} */
  const headers = { Accept: accept };
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

/**
 * The ApiError for a failed response, from its problem details (a parsed JSON body or its text).
 * A 401 on the signed-in session signs out with the gateway's reason.
 * @param {Response} response
 * @param {any} body
 * @param {boolean} [sessionToken]  whether the call used the session's token
 */
export function problemError(response, body, sessionToken = true) {
  if (typeof body === 'string') body = parseJson(body);
  const problem = body && typeof body === 'object' ? body : {};
  const error = new ApiError(response.status, problem.detail || problem.title || response.statusText || `HTTP ${response.status}`, {
    title: problem.title,
    detail: problem.detail,
    errors: Array.isArray(problem.errors) ? problem.errors : [],
    retryAfter: Number(response.headers.get('Retry-After')) || undefined,
  });
  if (response.status === 401 && sessionToken && session.token) {
    signOut({
      kind: 'error',
      text: `Your session has ended: ${problem.detail || 'the token was refused'}. Sign in again.`,
    });
  }
  return error;
}

/** Every server of the tenant, following the pages. */
export async function listAllServers(options = {}) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 50; page += 1) {
    const query = new URLSearchParams({ limit: '200' });
    if (cursor) query.set('cursor', cursor);
    const body = await api(`/servers?${query}`, options);
    items.push(...(body?.items || []));
    cursor = body?.nextCursor;
    if (!cursor) break;
  }
  return items;
}

export const serverPath = (name) => `/servers/${encodeURIComponent(name)}`;
