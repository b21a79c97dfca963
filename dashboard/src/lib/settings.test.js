import assert from 'node:assert/strict';
import { test } from 'node:test';

import { inputForField, parseNames, rebase, restartsServer, settingsForm, settingsPatch, sortFieldErrors } from './settings.js';

const SPEC = {
  eula: true,
  version: '1.21.4',
  resources: { cpu: '1', memory: '2Gi' },
  properties: { motd: 'hello', maxPlayers: 20, gameMode: 'survival', difficulty: 'easy' },
  allowlist: ['Alex', 'Steve'],
  ops: [],
  lifecycle: { announceSeconds: 30, restartSchedule: { cron: '0 4 * * *', timeZone: 'Europe/Berlin', whenEmptyOnly: true } },
};

test('the form is prefilled from the spec, with the defaults for what it lacks', () => {
  const form = settingsForm(SPEC);
  assert.equal(form.memory, '2Gi');
  assert.equal(form.allowlist, 'Alex\nSteve');
  assert.equal(form.cron, '0 4 * * *');
  assert.equal(form.whenEmptyOnly, true);
  assert.equal(form.announceSeconds, '30');
  const empty = settingsForm({ eula: true });
  assert.equal(empty.version, 'LATEST');
  assert.equal(empty.maxPlayers, '20');
  assert.equal(empty.cron, '');
  assert.equal(empty.timeZone, 'UTC');
});

test('only what changed is patched, and nothing when nothing did', () => {
  const base = settingsForm(SPEC);
  assert.deepEqual(settingsPatch(base, { ...base, allowlist: ' Alex,\n\nSteve ' }), {});
  assert.deepEqual(settingsPatch(base, { ...base, memory: ' 4Gi ', motd: 'new motd' }), {
    resources: { memory: '4Gi' },
    properties: { motd: 'new motd' },
  });
  assert.deepEqual(settingsPatch(base, { ...base, maxPlayers: '40', announceSeconds: 'soon' }), {
    properties: { maxPlayers: 40 },
    lifecycle: { announceSeconds: 'soon' }, // as typed: the API names what is wrong
  });
  assert.deepEqual(settingsPatch(base, { ...base, ops: 'Alex' }), { ops: ['Alex'] });
  assert.deepEqual(settingsPatch(base, { ...base, version: '' }), { version: null });
});

test('the restart schedule is sent whole, and an emptied cron removes it', () => {
  const base = settingsForm(SPEC);
  assert.deepEqual(settingsPatch(base, { ...base, timeZone: 'UTC' }), {
    lifecycle: { restartSchedule: { cron: '0 4 * * *', timeZone: 'UTC', whenEmptyOnly: true } },
  });
  assert.deepEqual(settingsPatch(base, { ...base, cron: '  ' }), { lifecycle: { restartSchedule: null } });
  const none = settingsForm({ eula: true });
  assert.deepEqual(settingsPatch(none, { ...none, timeZone: 'Asia/Tokyo' }), {}); // no schedule to zone
});

test('any change but allowlist, ops, allowlistMode, lifecycle and stopped restarts the server', () => {
  assert.equal(restartsServer({ allowlist: ['A'], ops: [], lifecycle: { announceSeconds: 5 } }), false);
  assert.equal(restartsServer({ properties: { motd: 'x' } }), true);
  assert.equal(restartsServer({ resources: { memory: '4Gi' }, allowlist: [] }), true);
  assert.equal(restartsServer({}), false);
});

test("the API's field errors land beside their inputs", () => {
  assert.equal(inputForField('spec.resources.memory'), 'memory');
  assert.equal(inputForField('spec.allowlist.2'), 'allowlist');
  assert.equal(inputForField('spec.lifecycle.restartSchedule.timeZone'), 'timeZone');
  assert.equal(inputForField('spec.lifecycle.restartSchedule'), 'cron');
  assert.equal(inputForField('spec.storage.size'), null);
  const sorted = sortFieldErrors([
    { field: 'spec.resources.memory', message: 'memory must be at least 512Mi' },
    { field: 'spec.resources.memory', message: 'not a quantity' },
    { field: 'spec.eula', message: 'must be true' },
    { field: 'body', message: 'bad' },
  ]);
  assert.deepEqual(sorted.byInput, { memory: 'memory must be at least 512Mi; not a quantity' });
  assert.deepEqual(sorted.rest, ['spec.eula: must be true', 'bad']);
});

test('a spec changing underneath updates the untouched inputs and keeps the edited ones', () => {
  const base = settingsForm(SPEC);
  const form = { ...base, motd: 'typing…' };
  const next = settingsForm({ ...SPEC, properties: { ...SPEC.properties, motd: 'theirs', maxPlayers: 30 } });
  const out = rebase(form, base, next);
  assert.equal(out.motd, 'typing…');
  assert.equal(out.maxPlayers, '30');
  assert.deepEqual(parseNames('a, b\nc  d'), ['a', 'b', 'c', 'd']);
});

test('the backup schedule: prefilled with the defaults, only what changed is patched', () => {
  const none = settingsForm({ eula: true });
  assert.deepEqual(
    [none.backupSchedule, none.backupTimeZone, none.keepLast, none.keepDaily, none.pauseWhenEmpty, none.backupVerify],
    ['', 'UTC', '7', '', false, false],
  );
  assert.deepEqual(settingsPatch(none, { ...none, backupSchedule: ' 0 */6 * * * ', backupVerify: true }), {
    backups: { schedule: '0 */6 * * *', verify: true },
  });
  const spec = { eula: true, backups: { schedule: '0 4 * * *', timeZone: 'Europe/Berlin', retention: { keepLast: 3, keepWeekly: 4 } } };
  const base = settingsForm(spec);
  assert.deepEqual([base.keepLast, base.keepWeekly, base.backupTimeZone], ['3', '4', 'Europe/Berlin']);
  assert.deepEqual(settingsPatch(base, { ...base, keepLast: '', keepDaily: '7', keepWeekly: 'x' }), {
    backups: { retention: { keepLast: null, keepDaily: 7, keepWeekly: 'x' } },
  });
  assert.deepEqual(settingsPatch(base, { ...base, backupSchedule: '' }), { backups: { schedule: null } });
  assert.equal(restartsServer({ backups: { schedule: '0 4 * * *' } }), false);
  assert.equal(inputForField('spec.backups.retention.keepDaily'), 'keepDaily');
  assert.equal(inputForField('spec.backups.schedule'), 'backupSchedule');
  assert.equal(inputForField('spec.backups.retention'), 'backupSchedule');
});
