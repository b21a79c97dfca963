import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  anyUnderWay,
  applyBackupFrame,
  backupTime,
  fieldMessage,
  formatBytes,
  formatDuration,
  formatMoment,
  newServerSentence,
  progressOf,
  restoreBody,
  restoreSentence,
  scheduleSummary,
  sortBackups,
  usable,
  verificationBadge,
} from './backups.js';

test('sizes read as people read them', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(1024 * 1024), '1 MiB');
  assert.equal(formatBytes(12.4 * 1024 * 1024), '12 MiB');
  assert.equal(formatBytes(3 * 1024 ** 4), '3 TiB');
  assert.equal(formatBytes(undefined), '—');
  assert.equal(formatBytes(-1), '—');
});

test('durations', () => {
  assert.equal(formatDuration(42.4), '42 s');
  assert.equal(formatDuration(185), '3 min 5 s');
  assert.equal(formatDuration(120), '2 min');
  assert.equal(formatDuration(7800), '2 h 10 min');
  assert.equal(formatDuration(3600), '1 h');
  assert.equal(formatDuration(null), '—');
});

test('a backup is of its end, else its start, else when it was asked for', () => {
  assert.equal(backupTime({ createdAt: 'c', startedAt: 's', completedAt: 'd' }), 'd');
  assert.equal(backupTime({ createdAt: 'c', startedAt: 's' }), 's');
  assert.equal(backupTime({ createdAt: 'c' }), 'c');
  assert.equal(backupTime({}), null);
});

test('frames keep the list newest first, by name', () => {
  const old = { name: 'a-1', server: 'a', createdAt: '2025-01-01T00:00:00Z', phase: 'Completed' };
  let list = [old];
  const added = { name: 'a-2', server: 'a', createdAt: '2025-01-02T00:00:00Z', phase: 'Pending' };
  list = applyBackupFrame(list, { type: 'backup', server: 'a', change: 'added', backup: added }, 'a');
  assert.deepEqual(list.map((b) => b.name), ['a-2', 'a-1']);
  const running = { ...added, phase: 'Running', progress: { bytesDone: 1, bytesTotal: 2 } };
  list = applyBackupFrame(list, { type: 'backup', server: 'a', change: 'modified', backup: running }, 'a');
  assert.equal(list[0].phase, 'Running');
  assert.equal(list.length, 2);
  const other = { type: 'backup', server: 'b', change: 'added', backup: { name: 'b-1', server: 'b' } };
  assert.equal(applyBackupFrame(list, other, 'a'), list);
  assert.equal(applyBackupFrame(list, { type: 'event', server: 'a' }, 'a'), list);
  list = applyBackupFrame(list, { type: 'backup', server: 'a', change: 'deleted', backup: old }, 'a');
  assert.deepEqual(list.map((b) => b.name), ['a-2']);
  assert.deepEqual(
    sortBackups([{ name: 'x-1' }, { name: 'x-2' }]).map((b) => b.name),
    ['x-2', 'x-1'],
  );
});

test('under way: pending, running, being deleted, or a restore that has not ended', () => {
  assert.equal(anyUnderWay([{ name: 'a', phase: 'Completed' }]), false);
  assert.equal(anyUnderWay([{ name: 'a' }]), true);
  assert.equal(anyUnderWay([{ name: 'a', phase: 'Running' }]), true);
  assert.equal(anyUnderWay([{ name: 'a', phase: 'Completed', deleting: true }]), true);
  assert.equal(anyUnderWay([], { phase: 'Restoring' }), true);
  assert.equal(anyUnderWay([], { phase: 'Completed' }), false);
});

test('progress: a bar once the total is known', () => {
  assert.deepEqual(progressOf({ bytesDone: 512, bytesTotal: 2048 }), { percent: 25, text: '512 B of 2 KiB' });
  assert.deepEqual(progressOf({ bytesDone: 5000, bytesTotal: 10 }), { percent: 100, text: '4.9 KiB of 10 B' });
  assert.deepEqual(progressOf({ bytesDone: 2048, bytesTotal: 0 }), { percent: null, text: '2 KiB so far' });
  assert.deepEqual(progressOf(undefined), { percent: null, text: 'Starting…' });
});

test('the verification badge', () => {
  assert.equal(verificationBadge({}), null);
  assert.equal(verificationBadge({ verification: { state: 'Verified' } }).label, 'Verified');
  const failed = verificationBadge({ verification: { state: 'Failed', reason: 'RestoreFailed', message: 'ciphertext verification failed' } });
  assert.deepEqual([failed.label, failed.kind], ['Verification failed', 'failed']);
  assert.equal(failed.title, 'RestoreFailed: ciphertext verification failed');
  assert.equal(verificationBadge({ verification: { state: 'Running' } }).label, 'Verifying…');
});

test('only a Completed backup not being deleted can be used', () => {
  assert.equal(usable({ phase: 'Completed' }), true);
  assert.equal(usable({ phase: 'Completed', deleting: true }), false);
  assert.equal(usable({ phase: 'Running' }), false);
  assert.equal(usable(null), false);
});

test('the restore confirmation says exactly what is replaced', () => {
  const at = '2025-03-04T05:06:07Z';
  assert.equal(
    restoreSentence('alpha', at, 30),
    `The world of alpha is replaced by the backup of ${formatMoment(at)}; the server is stopped ` +
      '(players are warned for 30 s), restored and started. Changes since the backup are lost.',
  );
  assert.match(restoreSentence('alpha', at, undefined), /warned for 0 s/);
  assert.match(newServerSentence('copy', 'alpha', at), /^A new server copy is created with the settings of alpha/);
  assert.equal(formatMoment('nonsense'), 'an unknown time');
});

test('the restore body and its field errors', () => {
  assert.deepEqual(restoreBody(false, 'x'), {});
  assert.deepEqual(restoreBody(true, ' copy '), { server: 'copy' });
  const errors = [
    { field: 'server', message: 'String should match pattern' },
    { field: 'spec.type', message: 'bad' },
  ];
  assert.equal(fieldMessage(errors, 'server'), 'String should match pattern');
  assert.equal(fieldMessage(errors, 'spec'), 'bad');
  assert.equal(fieldMessage([], 'server'), '');
});

test('the schedule in a sentence', () => {
  assert.match(scheduleSummary(undefined), /^No scheduled backups/);
  assert.match(scheduleSummary({ schedule: null }), /^No scheduled backups/);
  assert.equal(
    scheduleSummary({ schedule: '0 */6 * * *', timeZone: 'Europe/Berlin', retention: { keepLast: 4, keepDaily: 7 } }),
    'On the schedule 0 */6 * * * (Europe/Berlin); keeps the last 4, one a day for 7 days.',
  );
  assert.equal(
    scheduleSummary({ schedule: '0 4 * * *', pauseWhenEmpty: true, verify: true }),
    'On the schedule 0 4 * * * (UTC); keeps the last 7. Skipped when nobody was online since the last one. ' +
      'Each is verified by booting it.',
  );
});
