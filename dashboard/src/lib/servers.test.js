import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  applyEvent,
  applySnapshot,
  backoffDelay,
  clusterOnly,
  connectInfo,
  createBody,
  describeRestart,
  endpoint,
  entryFromFrame,
  fillServer,
  formatAge,
  formatWhen,
  HIBERNATING_REASON,
  hibernating,
  joinHostnames,
  mergeTimeline,
  missesEntries,
  playerSeries,
  readClaims,
  statusLabel,
  visibleServers,
  WAKING_REASON,
} from './servers.js';

test('snapshot replaces the servers but keeps a server created here moments ago', () => {
  const now = 1_000_000;
  const current = {
    gone: { name: 'gone', status: 'running' },
    fresh: { name: 'fresh', status: 'deploying', pending: true, pendingSince: now - 1000 },
    stale: { name: 'stale', status: 'deploying', pending: true, pendingSince: now - 120_000 },
  };
  const next = applySnapshot(current, [{ name: 'a', status: 'running' }], now);
  assert.deepEqual(Object.keys(next).sort(), ['a', 'fresh']);
});

test('event frames merge partial fields by name; null clears, absent keeps', () => {
  const servers = { a: { name: 'a', uid: 'u1', status: 'running', address: '10.0.0.1', type: 'PAPER' } };
  assert.equal(applyEvent(servers, { name: 'a', uid: 'u1', status: 'stopped', address: null }), 'updated');
  assert.deepEqual(servers.a, { name: 'a', uid: 'u1', status: 'stopped', address: null, type: 'PAPER' });
  assert.equal(applyEvent(servers, { name: 'b', status: 'deploying' }), 'added');
  assert.equal(applyEvent(servers, { name: 'a', uid: 'u1', status: 'deleted' }), 'removed');
  assert.equal(servers.a, undefined);
});

test('a deletion of an older incarnation does not remove the new server', () => {
  const servers = { a: { name: 'a', uid: 'new', status: 'deploying' } };
  assert.equal(applyEvent(servers, { name: 'a', uid: 'old', status: 'deleted' }), 'ignored');
  assert.ok(servers.a);
  applyEvent(servers, { name: 'a', uid: 'newer', status: 'running' });
  assert.equal(servers.a.uid, 'newer');
});

test('confirmation from the gateway clears the pending mark', () => {
  const servers = { a: { name: 'a', status: 'deploying', pending: true, pendingSince: 1 } };
  applyEvent(servers, { name: 'a', uid: 'u', status: 'deploying' });
  assert.equal(servers.a.pending, undefined);
});

test('fetched details fill only what live frames lack', () => {
  const live = { name: 'a', uid: 'u', status: 'running', type: null };
  const filled = fillServer(live, { name: 'a', uid: 'u', status: 'deploying', type: 'PAPER', version: 'LATEST' });
  assert.equal(filled.status, 'running');
  assert.equal(filled.type, 'PAPER');
  assert.equal(fillServer(live, { name: 'a', uid: 'other', type: 'X' }).type, null);
});

test('timeline entries from frames, merged and ordered newest first', () => {
  assert.equal(entryFromFrame({ event: { id: null, type: 'drift.observed', time: null }, server: {} }), null);
  const entry = entryFromFrame({
    event: { id: 'e2', type: 'k8s.running', time: '2026-01-01T00:00:02Z', reason: 'Running', message: null },
    server: { name: 'a', status: 'running', players: { online: 1, max: 20 } },
  });
  assert.deepEqual(entry, {
    id: 'e2', type: 'k8s.running', time: '2026-01-01T00:00:02Z', status: 'running',
    players: { online: 1, max: 20 }, reason: 'Running',
  });
  const merged = mergeTimeline([{ id: 'e1', time: '2026-01-01T00:00:01Z' }], [entry, { id: 'e1', time: 'x' }]);
  assert.deepEqual(merged.map((e) => e.id), ['e2', 'e1']);
  const series = playerSeries(merged, [{ t: Date.parse('2026-01-01T00:00:03Z'), online: 2 }]);
  assert.deepEqual(series.map((p) => p.online), [1, 2]);
});

test('a frame merging several changes asks for the timeline entries it does not carry', () => {
  const server = { name: 'a', status: 'running' };
  const event = { id: 'e3', type: 'k8s.running', time: '2026-01-01T00:00:03Z' };
  assert.equal(missesEntries({ type: 'event', event, server }), false);
  assert.equal(missesEntries({ type: 'event', event, server, coalesced: 3 }), true);
  assert.equal(missesEntries({ type: 'backup', server: 'a', change: 'modified', coalesced: 2 }), false);
  assert.equal(missesEntries(null), false);
  // The newest entry still comes with the frame.
  assert.equal(entryFromFrame({ type: 'event', event, server, coalesced: 3 }).id, 'e3');
});

test('backoff grows exponentially, is capped and jittered', () => {
  const mid = { random: () => 0.5 };
  assert.equal(backoffDelay(0, mid), 500);
  assert.equal(backoffDelay(3, mid), 4000);
  assert.equal(backoffDelay(30, mid), 15000);
  assert.equal(backoffDelay(0, { random: () => 0 }), 400);
});

test('ages, claims, filters and the create body', () => {
  const now = Date.parse('2026-01-02T00:00:00Z');
  assert.equal(formatAge('2026-01-01T23:59:30Z', now), '30s');
  assert.equal(formatAge('2026-01-01T21:00:00Z', now), '3h');
  assert.equal(formatAge(null, now), '—');
  const payload = Buffer.from(JSON.stringify({ tenant: 'demo', exp: 5 })).toString('base64url');
  assert.deepEqual(readClaims(`x.${payload}.y`), { tenant: 'demo', exp: 5 });
  assert.equal(readClaims('nonsense'), null);
  const list = visibleServers({ b: { name: 'b', status: 'running' }, a: { name: 'a', status: 'stopped' } }, { status: 'running' });
  assert.deepEqual(list.map((s) => s.name), ['b']);
  assert.deepEqual(
    createBody({ name: ' s1 ', eula: true, type: 'PAPER', version: '', memory: '2Gi', storage: '', retainOnDelete: true, motd: 'hi', maxPlayers: '12', gameMode: 'creative', difficulty: 'hard' }),
    { name: 's1', spec: { eula: true, type: 'PAPER', resources: { memory: '2Gi' }, storage: { retainOnDelete: true }, properties: { motd: 'hi', maxPlayers: 12, gameMode: 'creative', difficulty: 'hard' } } },
  );
  assert.equal(createBody({ maxPlayers: 'lots' }).spec.properties.maxPlayers, 'lots');
});

test('timeline entries keep who asked for a request', () => {
  const entry = entryFromFrame({
    event: { id: 'r1', type: 'request.update', time: '2026-01-01T00:00:00Z', actor: 'alice@tenant-a', message: 'changed spec.resources.memory' },
    server: { name: 'a' },
  });
  assert.equal(entry.actor, 'alice@tenant-a');
  assert.equal(entry.message, 'changed spec.resources.memory');
});

test('times relative to now, and the last restart in words', () => {
  const now = Date.parse('2026-01-02T00:00:00Z');
  assert.equal(formatWhen('2026-01-02T03:00:00Z', now), 'in 3h');
  assert.equal(formatWhen('2026-01-01T23:48:00Z', now), '12m ago');
  assert.equal(formatWhen('2026-01-02T00:00:01Z', now), 'now');
  assert.equal(formatWhen(null, now), '—');
  assert.equal(describeRestart({ requestedAt: '2026-01-01T23:00:00Z', by: 'schedule', doneAt: '2026-01-01T23:01:00Z' }, now), '59m ago by schedule');
  assert.equal(describeRestart({ requestedAt: '2026-01-01T23:59:00Z', by: 'bob' }, now), 'asked 1m ago by bob, under way');
  assert.equal(describeRestart(null, now), '—');
});

test('a cluster-internal address is never offered as the one to join', () => {
  const inside = { name: 'a', address: '10.96.0.10', port: 25565, reach: 'cluster', hostnames: ['a.t.mc.example.com'] };
  assert.equal(clusterOnly(inside), true);
  assert.equal(endpoint(inside), null);
  assert.deepEqual(connectInfo(inside, 'running', false), {
    kind: 'cluster',
    address: null,
    others: [],
    internal: '10.96.0.10:25565',
  });
  // Before the operator said how far it reaches (an older status), the address is shown as it was.
  assert.equal(endpoint({ name: 'a', address: '10.96.0.10', port: 25565 }), '10.96.0.10:25565');
});

test('through the router: the hostname and the router port, and every other hostname', () => {
  const routed = {
    name: 'survival',
    address: 'survival.acme.mc.example.com',
    port: 25565,
    reach: 'router',
    hostnames: ['survival.acme.mc.example.com', 'play.example.com'],
  };
  assert.deepEqual(connectInfo(routed, 'running', false), {
    kind: 'join',
    address: 'survival.acme.mc.example.com:25565',
    others: ['play.example.com'],
    internal: null,
  });
  const ownPort = { ...routed, port: 30000 };
  assert.deepEqual(joinHostnames(ownPort), ['survival.acme.mc.example.com:30000', 'play.example.com:30000']);
  assert.deepEqual(connectInfo(ownPort, 'running', false).others, ['play.example.com:30000']);
});

test('a load balancer or node port is joined as before; hostnames are listed as they are', () => {
  const balanced = { name: 'a', address: '203.0.113.9', port: 25565, reach: 'loadBalancer', hostnames: ['a.t.mc.example.com'] };
  assert.equal(endpoint(balanced), '203.0.113.9:25565');
  assert.deepEqual(connectInfo(balanced, 'running', false).others, ['a.t.mc.example.com']);
  assert.equal(endpoint({ name: 'b', address: '10.0.0.7', port: 30565, reach: 'nodePort' }), '10.0.0.7:30565');
});

test('the connect card while stopped, deleted or waiting', () => {
  const inside = { name: 'a', address: '10.96.0.10', port: 25565, reach: 'cluster' };
  assert.equal(connectInfo(inside, 'stopped', false).kind, 'stopped');
  assert.equal(connectInfo(inside, 'stopped', false).internal, '10.96.0.10:25565');
  assert.equal(connectInfo(inside, 'running', true).kind, 'deleted');
  assert.equal(connectInfo({ name: 'a' }, 'deploying', false).kind, 'waiting');
  assert.equal(connectInfo(null, undefined, false).kind, 'waiting');
});

test('a hibernating or waking server reads as such; its status word stays its phase', () => {
  assert.equal(statusLabel('stopped', HIBERNATING_REASON), 'Hibernating');
  assert.equal(statusLabel('deploying', WAKING_REASON), 'Waking');
  assert.equal(statusLabel('stopped', 'Stopped'), 'Stopped');
  assert.equal(statusLabel('running', HIBERNATING_REASON), 'Running'); // a stale reason
  assert.equal(statusLabel('deleted', null), 'Deleted');
  assert.equal(statusLabel(undefined), 'unknown');
  assert.ok(hibernating({ name: 'a', status: 'stopped', reason: 'Hibernating' }));
  assert.ok(!hibernating({ name: 'a', status: 'stopped', reason: 'Stopped' }));
  assert.ok(!hibernating(null));
});

test('a hibernating server behind the router is joined (joining wakes it); an owner-stopped one is not', () => {
  const routed = { name: 'a', address: 'a.t.mc.example.com', port: 25565, reach: 'router', hostnames: ['a.t.mc.example.com'] };
  const asleep = { ...routed, status: 'stopped', reason: 'Hibernating' };
  assert.equal(connectInfo(asleep, 'stopped', false).kind, 'join');
  assert.equal(connectInfo({ ...routed, status: 'stopped', reason: 'Stopped' }, 'stopped', false).kind, 'stopped');
  // Without an address to join by, asleep is stopped as far as the card goes.
  assert.equal(connectInfo({ name: 'a', status: 'stopped', reason: 'Hibernating' }, 'stopped', false).kind, 'stopped');
});
