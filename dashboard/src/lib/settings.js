// Pure logic of the settings form (no DOM, no Svelte): the form's values from a server's spec,
// the merge patch of only what changed, whether it restarts the server, which input an API
// field error belongs to, and keeping edits when the spec changes underneath. Unit-tested.

/** Spec keys the operator applies without a restart (allowlist and ops live over RCON; the
 * backup schedule and hibernation are the operator's own). */
export const LIVE_KEYS = new Set(['allowlist', 'ops', 'allowlistMode', 'lifecycle', 'stopped', 'backups', 'hibernation']);

/** The form's inputs, in order. */
export const SETTINGS_KEYS = [
  'version', 'memory', 'motd', 'maxPlayers', 'gameMode', 'difficulty',
  'allowlist', 'ops', 'cron', 'timeZone', 'whenEmptyOnly', 'announceSeconds',
  'backupSchedule', 'backupTimeZone', 'keepLast', 'keepDaily', 'keepWeekly', 'pauseWhenEmpty', 'backupVerify',
];

export const SETTINGS_LABELS = {
  version: 'Version',
  memory: 'Memory',
  motd: 'Message of the day',
  maxPlayers: 'Max players',
  gameMode: 'Game mode',
  difficulty: 'Difficulty',
  allowlist: 'Allowlist',
  ops: 'Operators',
  cron: 'Restart schedule',
  timeZone: 'Time zone',
  whenEmptyOnly: 'Only restart when nobody is online',
  announceSeconds: 'Countdown before a stop (seconds)',
  backupSchedule: 'Backup schedule',
  backupTimeZone: 'Backup time zone',
  keepLast: 'Keep the last',
  keepDaily: 'Keep one a day for (days)',
  keepWeekly: 'Keep one a week for (weeks)',
  pauseWhenEmpty: 'Skip a backup when nobody was online since the last one',
  backupVerify: 'Verify each backup by booting it',
};

/** @typedef {Record<string, string|boolean>} SettingsForm */

/**
 * The form's values from a spec (the CRD's defaults where the spec has none).
 * @param {Record<string, any>|null|undefined} spec
 * @returns {SettingsForm}
 */
export function settingsForm(spec) {
  const s = spec || {};
  const properties = s.properties || {};
  const schedule = s.lifecycle?.restartSchedule;
  return {
    version: s.version ?? 'LATEST',
    memory: s.resources?.memory ?? '2Gi',
    motd: properties.motd ?? 'A Craftplane server',
    maxPlayers: String(properties.maxPlayers ?? 20),
    gameMode: properties.gameMode ?? 'survival',
    difficulty: properties.difficulty ?? 'easy',
    allowlist: (s.allowlist || []).join('\n'),
    ops: (s.ops || []).join('\n'),
    cron: schedule?.cron ?? '',
    timeZone: schedule?.timeZone ?? 'UTC',
    whenEmptyOnly: !!schedule?.whenEmptyOnly,
    announceSeconds: String(s.lifecycle?.announceSeconds ?? 0),
    ...backupForm(s.backups),
  };
}

/** The backup inputs from spec.backups (the CRD's defaults where it has none). */
function backupForm(backups) {
  const b = backups || {};
  const keep = b.retention || {};
  return {
    backupSchedule: b.schedule ?? '',
    backupTimeZone: b.timeZone ?? 'UTC',
    keepLast: String(keep.keepLast ?? 7),
    keepDaily: String(keep.keepDaily ?? ''),
    keepWeekly: String(keep.keepWeekly ?? ''),
    pauseWhenEmpty: !!b.pauseWhenEmpty,
    backupVerify: !!b.verify,
  };
}

/** The merge patch of spec.backups for what changed ({} when nothing did); an emptied count
 * is removed (its default applies: keep the last 7, no daily or weekly ones). */
function backupsPatch(base, form) {
  const changed = (key) => isChanged(base, form, key);
  const text = (key) => String(form[key] ?? '').trim() || null;
  const count = (key) => (text(key) === null ? null : numberOrText(form[key]));
  /** @type {Record<string, any>} */
  const patch = {};
  if (changed('backupSchedule')) patch.schedule = text('backupSchedule');
  if (changed('backupTimeZone')) patch.timeZone = text('backupTimeZone');
  const retention = {};
  for (const key of ['keepLast', 'keepDaily', 'keepWeekly']) if (changed(key)) retention[key] = count(key);
  if (Object.keys(retention).length) patch.retention = retention;
  if (changed('pauseWhenEmpty')) patch.pauseWhenEmpty = !!form.pauseWhenEmpty;
  if (changed('backupVerify')) patch.verify = !!form.backupVerify;
  return patch;
}

/** Player names from a text: one per line, or separated by commas or spaces. */
export function parseNames(text) {
  return String(text || '')
    .split(/[\s,]+/)
    .map((n) => n.trim())
    .filter(Boolean);
}

/** A number when the text is an integer, else the text as typed (the API says what is wrong). */
function numberOrText(value) {
  const raw = String(value ?? '').trim();
  return /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

/** The value an input stands for, so that only real changes count (spaces, list layout). */
function normal(key, value) {
  if (key === 'allowlist' || key === 'ops') return parseNames(value).join('\n');
  if (typeof value === 'boolean') return value;
  return key === 'motd' ? String(value ?? '') : String(value ?? '').trim();
}

/** Whether the input `key` differs from the value it started from. */
export function isChanged(base, form, key) {
  return normal(key, form[key]) !== normal(key, base[key]);
}

/**
 * The merge patch of the spec for what changed between `base` (the form built from the spec)
 * and `form`: {} when nothing did. An emptied version or memory goes back to its default.
 * @param {SettingsForm} base
 * @param {SettingsForm} form
 * @returns {Record<string, any>}
 */
export function settingsPatch(base, form) {
  const changed = (key) => isChanged(base, form, key);
  /** @type {Record<string, any>} */
  const spec = {};
  const text = (key) => String(form[key] ?? '').trim() || null;
  if (changed('version')) spec.version = text('version');
  if (changed('memory')) spec.resources = { memory: text('memory') };
  const properties = {};
  if (changed('motd')) properties.motd = String(form.motd ?? '');
  if (changed('maxPlayers')) properties.maxPlayers = numberOrText(form.maxPlayers);
  if (changed('gameMode')) properties.gameMode = form.gameMode;
  if (changed('difficulty')) properties.difficulty = form.difficulty;
  if (Object.keys(properties).length) spec.properties = properties;
  if (changed('allowlist')) spec.allowlist = parseNames(form.allowlist);
  if (changed('ops')) spec.ops = parseNames(form.ops);
  const lifecycle = {};
  if (changed('cron') || (text('cron') && (changed('timeZone') || changed('whenEmptyOnly')))) {
    lifecycle.restartSchedule = text('cron')
      ? { cron: text('cron'), timeZone: text('timeZone') || 'UTC', whenEmptyOnly: !!form.whenEmptyOnly }
      : null;
  }
  if (changed('announceSeconds')) lifecycle.announceSeconds = numberOrText(form.announceSeconds);
  if (Object.keys(lifecycle).length) spec.lifecycle = lifecycle;
  const backups = backupsPatch(base, form);
  if (Object.keys(backups).length) spec.backups = backups;
  return spec;
}

/** Whether applying this spec patch restarts the server (anything but the live keys). */
export function restartsServer(specPatch) {
  return Object.keys(specPatch || {}).some((key) => !LIVE_KEYS.has(key));
}

// API field paths (dotted camelCase, list indexes included) -> the input showing them; the
// longest known prefix of a path wins, so `spec.allowlist.2` lands on the allowlist.
const FIELD_INPUTS = {
  'spec.version': 'version',
  'spec.resources': 'memory',
  'spec.resources.memory': 'memory',
  'spec.properties.motd': 'motd',
  'spec.properties.maxPlayers': 'maxPlayers',
  'spec.properties.gameMode': 'gameMode',
  'spec.properties.difficulty': 'difficulty',
  'spec.allowlist': 'allowlist',
  'spec.ops': 'ops',
  'spec.lifecycle.restartSchedule': 'cron',
  'spec.lifecycle.restartSchedule.cron': 'cron',
  'spec.lifecycle.restartSchedule.timeZone': 'timeZone',
  'spec.lifecycle.restartSchedule.whenEmptyOnly': 'whenEmptyOnly',
  'spec.lifecycle.announceSeconds': 'announceSeconds',
  'spec.backups': 'backupSchedule',
  'spec.backups.schedule': 'backupSchedule',
  'spec.backups.timeZone': 'backupTimeZone',
  'spec.backups.retention.keepLast': 'keepLast',
  'spec.backups.retention.keepDaily': 'keepDaily',
  'spec.backups.retention.keepWeekly': 'keepWeekly',
  'spec.backups.pauseWhenEmpty': 'pauseWhenEmpty',
  'spec.backups.verify': 'backupVerify',
};

/**
 * The input an API field error belongs to, or null when none of the form shows it.
 * @param {string} field  e.g. "spec.resources.memory"
 */
export function inputForField(field) {
  const parts = String(field || '').split('.');
  for (let n = parts.length; n > 1; n -= 1) {
    const input = FIELD_INPUTS[parts.slice(0, n).join('.')];
    if (input) return input;
  }
  return null;
}

/**
 * Field errors by input, and the messages no input shows.
 * @param {Array<{field: string, message: string}>} errors
 */
export function sortFieldErrors(errors) {
  /** @type {Record<string, string>} */
  const byInput = {};
  const rest = [];
  for (const error of errors) {
    const input = inputForField(error.field);
    if (input) {
      byInput[input] = byInput[input] ? `${byInput[input]}; ${error.message}` : error.message;
    } else {
      rest.push(error.field && error.field !== 'body' ? `${error.field}: ${error.message}` : error.message);
    }
  }
  return { byInput, rest };
}

/**
 * The form after the spec changed underneath (another tab, kubectl, the save itself): inputs the
 * user has not touched take the new values, edited ones keep what was typed.
 * @param {SettingsForm} form
 * @param {SettingsForm} base  what the form was built from
 * @param {SettingsForm} next  the form from the new spec
 * @returns {SettingsForm}
 */
export function rebase(form, base, next) {
  /** @type {SettingsForm} */
  const out = {};
  for (const key of SETTINGS_KEYS) out[key] = isChanged(base, form, key) ? form[key] : next[key];
  return out;
}
