import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  appendCapped,
  commandProblem,
  consoleErrorText,
  historyState,
  historyStep,
  loadHistory,
  remember,
  Resync,
  saveHistory,
} from './console.js';

test('the console keeps the newest items up to its cap', () => {
  const items = appendCapped([1, 2, 3], [4, 5], 4);
  assert.deepEqual(items, [2, 3, 4, 5]);
  const same = [1];
  assert.equal(appendCapped(same, []), same);
});

test('commands are one line of at most 256 characters', () => {
  assert.equal(commandProblem('list'), '');
  assert.match(commandProblem('   '), /Type a command/);
  assert.match(commandProblem('x'.repeat(257)), /256/);
  assert.match(commandProblem('say a\u0007b'), /control characters/);
});

test('console errors read as sentences, with the retry time of a 429', () => {
  assert.match(consoleErrorText({ status: 429, retryAfter: 1.2 }), /Try again in 2 s/);
  assert.match(consoleErrorText({ status: 429, retryAfter: null }), /in a moment/);
  assert.match(consoleErrorText({ status: 409, detail: 'no pod' }), /not running: no pod/);
  assert.match(consoleErrorText({ status: 503, detail: 'timeout' }), /did not answer: timeout/);
  assert.match(consoleErrorText({ status: 404 }), /no longer exists/);
});

test('Up and Down walk the history and give back the draft at the end', () => {
  let state = historyState(['list', 'say hi']);
  let step = historyStep(state, -1, 'sa');
  assert.equal(step.value, 'say hi');
  step = historyStep(step.state, -1, step.value);
  assert.equal(step.value, 'list');
  step = historyStep(step.state, -1, step.value);
  assert.equal(step.value, 'list'); // the oldest stays
  step = historyStep(step.state, 1, step.value);
  step = historyStep(step.state, 1, step.value);
  assert.equal(step.value, 'sa');
  state = step.state;
  assert.equal(historyStep(state, 1, 'sa').value, 'sa');
});

test('the history skips repeats, is capped and survives storage', () => {
  assert.deepEqual(remember(['list'], 'list'), ['list']);
  assert.deepEqual(remember(['a', 'b'], ' c ', 2), ['b', 'c']);
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
  saveHistory(storage, 's1', ['list', 'say hi']);
  assert.deepEqual(loadHistory(storage, 's1'), ['list', 'say hi']);
  assert.deepEqual(loadHistory(storage, 's2'), []);
  store.set('craftplane.console.history.s3', '{not json');
  assert.deepEqual(loadHistory(storage, 's3'), []);
  assert.deepEqual(loadHistory(null, 's1'), []);
});

function replay(recent, incoming) {
  const resync = new Resync(recent);
  const out = [];
  for (const line of incoming) out.push(...resync.push(line));
  out.push(...resync.flush());
  return out;
}

test('after a reconnect the repeated tail is dropped and only new lines show', () => {
  assert.deepEqual(replay(['a', 'b', 'c'], ['b', 'c', 'd', 'e']), ['d', 'e']);
  assert.deepEqual(replay(['a', 'b', 'c'], ['a', 'b', 'c']), []);
  assert.deepEqual(replay(['a', 'b', 'c'], ['x', 'y']), ['x', 'y']); // a new container: all new
  assert.deepEqual(replay(['a', 'b', 'c'], ['a', 'b', 'z']), ['a', 'b', 'z']);
  assert.deepEqual(replay([], ['a']), ['a']);
  // Nothing new yet, the tail cut short: held back, then shown when the wait ends.
  const resync = new Resync(['a', 'b', 'c']);
  assert.deepEqual(resync.push('a'), []);
  assert.deepEqual(resync.flush(), ['a']);
});
