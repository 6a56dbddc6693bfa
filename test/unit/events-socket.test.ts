/** The lease events socket: every connected follower gets each line; a stalled one is dropped. */
import t from 'tap';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { followEvents, notFollowing } from '../../src/cli/events-client.js';
import type { LeaseEvent } from '../../src/dnsmasq/lease-events.js';
import { EventsServer } from '../../src/supervisor/events-socket.js';

const dir = mkdtempSync(join(tmpdir(), 'brmgr-events-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const warnings: string[] = [];
const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
const event = (ip: string): LeaseEvent => ({
  time: '2026-11-27T16:00:00.000Z',
  event: 'add',
  mac: '52:54:00:00:00:10',
  ip,
  reason: 'ack',
});

t.test('followers, a stalled one, and the end', async (t) => {
  const path = join(dir, 'events.sock');
  const none = await followEvents(path, () => undefined);
  t.notOk('socket' in none, 'nothing to follow before it listens');
  t.equal(notFollowing('br0', none as { error: string; code?: string }), 'brmgr run br0 is not running');

  const server = new EventsServer(path, log);
  await server.listen();
  t.equal(statSync(path).mode & 0o777, 0o600, 'only root may connect');

  const a: string[] = [];
  const b: string[] = [];
  const ca = await followEvents(path, (e) => a.push(e.ip));
  const cb = await followEvents(path, (e) => b.push(e.ip));
  t.ok('socket' in ca && 'socket' in cb, 'two followers connect');
  // a follower that never reads
  const stalled = connect(path);
  stalled.pause();
  await new Promise((resolve) => stalled.once('connect', resolve));
  await sleep(50);

  server.publish(event('10.0.1.10'));
  server.publish(event('10.0.1.11'));
  await sleep(100);
  t.same(a, ['10.0.1.10', '10.0.1.11'], 'the first follower got both, in order');
  t.same(b, ['10.0.1.10', '10.0.1.11'], 'so did the second');

  const big = event('x'.repeat(64 * 1024));
  for (let i = 0; i < 200 && warnings.length === 0; i++) {
    server.publish(big);
    await sleep(1);
  }
  stalled.destroy();
  t.match(warnings.join(''), /stopped reading; disconnecting it/, 'the stalled follower is dropped, with a warning');

  const ended = Promise.all(
    [ca, cb].map(
      (c) => new Promise((resolve) => (c as { socket: import('node:net').Socket }).socket.once('close', resolve)),
    ),
  );
  await server.close();
  await ended;
  t.pass('followers see the end when the server closes');
  t.notOk(existsSync(path), 'the socket file is removed');
});
