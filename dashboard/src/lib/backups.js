// Pure logic of the backups tab (no DOM, no Svelte): sizes and durations in words, the list
// kept in step with the socket's backup frames, progress, the verification badge, the schedule
// in a sentence and what a restore replaces. Unit-tested with `npm test`.

/**
 * @typedef {object} Backup
 * @property {string} name
 * @property {string} server
 * @property {string} [phase]  Pending | Running | Completed | Failed
 * @property {string} [reason]
 * @property {string} [message]
 * @property {string} [trigger]  manual | scheduled
 * @property {number} [sizeBytes]
 * @property {number} [files]
 * @property {number} [durationSeconds]
 * @property {string} [createdAt]
 * @property {string} [startedAt]
 * @property {string} [completedAt]
 * @property {{bytesDone: number, bytesTotal: number}} [progress]
 * @property {{state: string, reason?: string, message?: string}} [verification]
 * @property {boolean} [deleting]
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** A byte count as people read it: "512 B", "1.5 KiB", "12 MiB"; "—" when unknown. */
export function formatBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${value} B`;
  const shown = value < 10 ? value.toFixed(1).replace(/\.0$/, '') : String(Math.round(value));
  return `${shown} ${UNITS[unit]}`;
}

/** A duration: "42 s", "3 min 5 s", "2 h 10 min"; "—" when unknown. */
export function formatDuration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '—';
  const total = Math.round(seconds);
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return total % 60 ? `${minutes} min ${total % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}

/** When a backup is of: its end, else its start, else when it was asked for. */
export function backupTime(backup) {
  return backup?.completedAt || backup?.startedAt || backup?.createdAt || null;
}

/** Newest first (by when it was asked for, then by name, as the API lists them). */
export function sortBackups(backups) {
  return [...backups].sort((a, b) => {
    const at = Date.parse(a.createdAt || '') || 0;
    const bt = Date.parse(b.createdAt || '') || 0;
    if (at !== bt) return bt - at;
    return a.name < b.name ? 1 : a.name > b.name ? -1 : 0;
  });
}

/**
 * The list after a backup frame of the server: added or modified replaces by name, deleted
 * removes. Frames of other servers leave it as it is.
 * @param {Backup[]} backups
 * @param {{type: string, server?: string, change?: string, backup?: Backup}} frame
 * @param {string} server
 * @returns {Backup[]}
 */
export function applyBackupFrame(backups, frame, server) {
  if (frame?.type !== 'backup' || frame.server !== server || !frame.backup?.name) return backups;
  const rest = backups.filter((b) => b.name !== frame.backup.name);
  if (frame.change === 'deleted') return rest;
  return sortBackups([...rest, frame.backup]);
}

/** Whether anything in the list is still moving (the tab then re-reads it now and then). */
export function anyUnderWay(backups, restore = null) {
  const moving = (phase) => phase === 'Pending' || phase === 'Running';
  const restoring = restore && !['Completed', 'Failed'].includes(restore.phase || 'Pending');
  return backups.some((b) => moving(b.phase || 'Pending') || b.deleting) || !!restoring;
}

/**
 * How far a copy or restore is: a percentage (null while the total is unknown) and the bytes.
 * @param {{bytesDone?: number, bytesTotal?: number}|null|undefined} progress
 */
export function progressOf(progress) {
  const done = Math.max(0, Number(progress?.bytesDone) || 0);
  const total = Math.max(0, Number(progress?.bytesTotal) || 0);
  if (!total) return { percent: null, text: done ? `${formatBytes(done)} so far` : 'Starting…' };
  const percent = Math.min(100, Math.floor((done / total) * 100));
  return { percent, text: `${formatBytes(done)} of ${formatBytes(total)}` };
}

/** The verification badge of a backup, or null when none was asked for. */
export function verificationBadge(backup) {
  const verification = backup?.verification;
  if (!verification?.state) return null;
  const why = [verification.reason, verification.message].filter(Boolean).join(': ');
  switch (verification.state) {
    case 'Verified':
      return { label: 'Verified', kind: 'verified', title: 'Booted in a scratch server with the snapshot\'s files' };
    case 'Failed':
      return { label: 'Verification failed', kind: 'failed', title: why || 'The backup did not boot' };
    default:
      return { label: 'Verifying…', kind: 'pending', title: why || verification.state };
  }
}

/** Whether a backup can be verified or restored now (the API answers 409 otherwise). */
export function usable(backup) {
  return backup?.phase === 'Completed' && !backup.deleting;
}

/** A time for a sentence: the local date and time. */
export function formatMoment(iso) {
  const then = Date.parse(iso || '');
  return Number.isFinite(then) ? new Date(then).toLocaleString() : 'an unknown time';
}

/**
 * What restoring a backup into its server does, in the words of the confirmation.
 * @param {string} server
 * @param {string|null} time  the backup's time (ISO)
 * @param {number} announceSeconds  spec.lifecycle.announceSeconds
 */
export function restoreSentence(server, time, announceSeconds) {
  const warned = `${Number(announceSeconds) || 0} s`;
  return (
    `The world of ${server} is replaced by the backup of ${formatMoment(time)}; the server is stopped ` +
    `(players are warned for ${warned}), restored and started. Changes since the backup are lost.`
  );
}

/** What restoring into a new server does. */
export function newServerSentence(target, source, time) {
  return (
    `A new server ${target || '…'} is created with the settings of ${source} and starts from the ` +
    `backup of ${formatMoment(time)}. ${source} itself is not touched.`
  );
}

/**
 * The restore request's body: {} restores into the backup's own server, {server} into another
 * (a new one when no server has the name).
 */
export function restoreBody(intoNew, name) {
  return intoNew ? { server: String(name || '').trim() } : {};
}

/**
 * The API's field errors for one field (e.g. "server"), joined; '' when none.
 * @param {Array<{field: string, message: string}>} errors
 * @param {string} field
 */
export function fieldMessage(errors, field) {
  return (errors || [])
    .filter((e) => e.field === field || e.field?.startsWith(`${field}.`))
    .map((e) => e.message)
    .join('; ');
}

/**
 * spec.backups in a sentence.
 * @param {{schedule?: string|null, timeZone?: string, retention?: Record<string, number|null>,
 *          pauseWhenEmpty?: boolean, verify?: boolean}|null|undefined} policy
 */
export function scheduleSummary(policy) {
  if (!policy?.schedule) return 'No scheduled backups. Back up now whenever you like.';
  const keep = policy.retention || {};
  const kept = [
    `the last ${keep.keepLast ?? 7}`,
    keep.keepDaily ? `one a day for ${keep.keepDaily} days` : '',
    keep.keepWeekly ? `one a week for ${keep.keepWeekly} weeks` : '',
  ].filter(Boolean);
  const parts = [
    `On the schedule ${policy.schedule} (${policy.timeZone || 'UTC'}); keeps ${kept.join(', ')}.`,
    policy.pauseWhenEmpty ? 'Skipped when nobody was online since the last one.' : '',
    policy.verify ? 'Each is verified by booting it.' : '',
  ];
  return parts.filter(Boolean).join(' ');
}
