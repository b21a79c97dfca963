import assert from 'node:assert/strict';
import { test } from 'node:test';

import { logQuery, splitLines } from './logs.js';

test('streamed text is cut into lines, the unfinished rest held back', () => {
  let cut = splitLines('', 'one\r\ntwo\nthr');
  assert.deepEqual(cut, { lines: ['one', 'two'], rest: 'thr' });
  cut = splitLines(cut.rest, 'ee\n');
  assert.deepEqual(cut, { lines: ['three'], rest: '' });
  assert.deepEqual(splitLines('', ''), { lines: [], rest: '' });
});

test('the log query clamps the tail to what the gateway serves', () => {
  assert.equal(logQuery({ tail: 500, follow: true }).toString(), 'tail=500&follow=true&previous=false');
  assert.equal(logQuery({ tail: 99999 }).get('tail'), '5000');
  assert.equal(logQuery({ tail: 0 }).get('tail'), '500');
  assert.equal(logQuery({ tail: -3, previous: true }).get('tail'), '1');
  assert.equal(logQuery({ previous: true }).get('previous'), 'true');
});
