// Pure helpers of the log view: the request's query and cutting streamed text into lines.
// Unit-tested with `npm test`; the streaming itself is in logstream.js.

/** The most lines the gateway serves as a tail. */
export const MAX_TAIL = 5000;

/**
 * Lines complete so far: the text held back plus a new chunk, cut at each "\n" (a "\r" before it
 * dropped); the unfinished rest is held back for the next chunk.
 * @param {string} rest
 * @param {string} chunk
 * @returns {{lines: string[], rest: string}}
 */
export function splitLines(rest, chunk) {
  const parts = (rest + chunk).split('\n');
  const tail = parts.pop() ?? '';
  return { lines: parts.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line)), rest: tail };
}

/**
 * The query of a log request.
 * @param {{tail?: number, follow?: boolean, previous?: boolean}} options
 */
export function logQuery({ tail = 500, follow = false, previous = false } = {}) {
  const lines = Math.max(1, Math.min(MAX_TAIL, Math.floor(Number(tail) || 500)));
  return new URLSearchParams({ tail: String(lines), follow: String(!!follow), previous: String(!!previous) });
}
