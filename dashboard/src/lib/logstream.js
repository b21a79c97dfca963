// A server's container log, streamed: GET /servers/NAME/logs as text/plain read through
// fetch's ReadableStream (the bearer header as every API call sends it; EventSource cannot
// send one), cut into lines as the bytes arrive.

import { API, ApiError, authHeaders, problemError, serverPath } from './api.js';
import { logQuery, splitLines } from './logs.js';

/**
 * Stream a server's log, calling `onLines` with each batch of complete lines; resolves when the
 * log ends (at once without follow; when the container stops with it), rejects with ApiError
 * (409 when there is no container, with Kubernetes' reason) or AbortError when `signal` aborts.
 * @param {string} name
 * @param {{tail?: number, follow?: boolean, previous?: boolean, signal?: AbortSignal,
 *          onLines: (lines: string[]) => void}} options
 */
export async function streamLogs(name, options) {
  let response;
  try {
    response = await fetch(`${API}${serverPath(name)}/logs?${logQuery(options)}`, {
      headers: authHeaders('text/plain, application/problem+json'),
      signal: options.signal,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    throw new ApiError(0, 'The gateway cannot be reached');
  }
  if (!response.ok) {
    throw problemError(response, await response.text().catch(() => ''));
  }
  if (!response.body) {
    const { lines, rest } = splitLines('', await response.text());
    options.onLines(rest ? [...lines, rest] : lines);
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const cut = splitLines(rest, value);
      rest = cut.rest;
      if (cut.lines.length) options.onLines(cut.lines);
    }
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    throw new ApiError(0, 'The log stream was cut off');
  } finally {
    reader.releaseLock();
  }
  if (rest) options.onLines([rest]);
}
