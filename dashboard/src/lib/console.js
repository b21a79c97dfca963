// Pure logic of the console tab (no DOM, no Svelte): the capped list of log lines and commands,
// the command history, picking up a followed log again after a reconnect without repeating
// lines, and readable console errors. Unit-tested with `npm test`.

/** Items kept in the console view; older ones fall off the top. */
export const CONSOLE_CAP = 2000;
/** Commands kept in a server's history. */
export const HISTORY_CAP = 100;
/** The contract's limit on one command. */
export const MAX_COMMAND = 256;

/**
 * @typedef {{kind: 'line', key: number, text: string}} LineItem
 * @typedef {{kind: 'command', key: number, id: string, command: string, state: 'pending'|'done'|'error',
 *            output?: string, error?: string}} CommandItem
 * @typedef {LineItem|CommandItem|{kind: 'note', key: number, text: string}} ConsoleItem
 */

/**
 * The items after appending `more`, keeping at most `cap` (the newest).
 * @template T
 * @param {T[]} items
 * @param {T[]} more
 * @param {number} [cap]
 * @returns {T[]}
 */
export function appendCapped(items, more, cap = CONSOLE_CAP) {
  if (!more.length) return items;
  const next = items.concat(more);
  return next.length > cap ? next.slice(next.length - cap) : next;
}

/**
 * Why a command cannot be sent, or '' when it can (the gateway checks again).
 * @param {string} command
 */
export function commandProblem(command) {
  const text = command.trim();
  if (!text) return 'Type a command first.';
  if (text.length > MAX_COMMAND) return `A command is at most ${MAX_COMMAND} characters.`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) return 'A command is one line, without control characters.';
  return '';
}

/**
 * A readable sentence for a console error (a console.error frame or a REST problem).
 * @param {{status?: number, detail?: string, retryAfter?: number|null}} error
 */
export function consoleErrorText(error) {
  const detail = (error.detail || '').trim();
  switch (error.status) {
    case 429: {
      const wait = Number(error.retryAfter);
      const when = Number.isFinite(wait) && wait > 0 ? `in ${Math.ceil(wait)} s` : 'in a moment';
      return `Too many commands: the console's rate limit is reached. Try again ${when}.`;
    }
    case 409:
      return `The server is not running${detail ? `: ${detail}` : ''}. Start it to use the console.`;
    case 503:
      return `The server's console did not answer${detail ? `: ${detail}` : ''}. It may be starting or busy; try again.`;
    case 404:
      return 'This server no longer exists.';
    case 400:
    case 422:
      return `The command was refused${detail ? `: ${detail}` : ''}.`;
    case 0:
      return 'The gateway cannot be reached.';
    default:
      return detail || `The command failed (${error.status ?? 'no answer'}).`;
  }
}

/** @typedef {{entries: string[], index: number, draft: string}} HistoryState */

/**
 * A history to walk, fresh (positioned after the newest entry).
 * @param {string[]} entries  oldest first
 * @returns {HistoryState}
 */
export function historyState(entries) {
  return { entries, index: entries.length, draft: '' };
}

/**
 * Walk the history one step (Up: -1, older; Down: +1, newer). `current` is what the input holds;
 * leaving the newest end keeps it as the draft, coming back restores it.
 * @param {HistoryState} state
 * @param {-1|1} step
 * @param {string} current
 * @returns {{state: HistoryState, value: string}}
 */
export function historyStep(state, step, current) {
  const index = Math.max(0, Math.min(state.entries.length, state.index + step));
  if (index === state.index) return { state, value: current };
  const draft = state.index === state.entries.length ? current : state.draft;
  const value = index === state.entries.length ? draft : state.entries[index];
  return { state: { entries: state.entries, index, draft }, value };
}

/**
 * The history after running `command`: appended (a repeat of the newest is not), capped.
 * @param {string[]} entries
 * @param {string} command
 */
export function remember(entries, command, cap = HISTORY_CAP) {
  const text = command.trim();
  if (!text || entries[entries.length - 1] === text) return entries;
  return appendCapped(entries, [text], cap);
}

export const historyKey = (server) => `craftplane.console.history.${server}`;

/**
 * A server's command history from storage (sessionStorage: this tab only).
 * @param {Pick<Storage, 'getItem'>|null} storage
 * @param {string} server
 * @returns {string[]}
 */
export function loadHistory(storage, server) {
  try {
    const parsed = JSON.parse(storage?.getItem(historyKey(server)) || '[]');
    return Array.isArray(parsed) ? parsed.filter((e) => typeof e === 'string').slice(-HISTORY_CAP) : [];
  } catch {
    return [];
  }
}

/**
 * @param {Pick<Storage, 'setItem'>|null} storage
 * @param {string} server
 * @param {string[]} entries
 */
export function saveHistory(storage, server, entries) {
  try {
    storage?.setItem(historyKey(server), JSON.stringify(entries.slice(-HISTORY_CAP)));
  } catch {
    /* storage full or disabled: the history lives for this page only */
  }
}

/**
 * Picks a followed log up again after the socket reconnected: the gateway sends the last lines
 * again (the tail), of which those already shown are dropped. The incoming lines are held back
 * while they still match the end of what was shown; once they diverge, or the match reaches
 * the newest line shown, only the new ones come out.
 */
export class Resync {
  /** @param {string[]} recent  the lines shown before the reconnect, oldest first */
  constructor(recent) {
    this.recent = recent;
    /** @type {string[]} */
    this.held = [];
    /** Offsets into `recent` where the held lines still match it. */
    this.candidates = recent.map((_, i) => i);
    this.done = recent.length === 0;
  }

  /**
   * One incoming line; the lines to show now (none while it is still undecided).
   * @param {string} line
   * @returns {string[]}
   */
  push(line) {
    if (this.done) return [line];
    const k = this.held.length;
    this.held.push(line);
    this.candidates = this.candidates.filter((i) => this.recent[i + k] === line);
    if (!this.candidates.length) return this.flush();
    // A match that reaches the newest line shown: everything held is a repeat.
    if (this.candidates.some((i) => i + k + 1 === this.recent.length)) {
      this.done = true;
      this.held = [];
    }
    return [];
  }

  /** Give up waiting (the tail ended undecided): the held lines are shown. */
  flush() {
    this.done = true;
    const held = this.held;
    this.held = [];
    return held;
  }
}
