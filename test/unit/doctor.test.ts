/**
 * The doctor's walk over fixture facts, without root: the bridge and address
 * checks answer as plan/link.ts's bridgeDamage says, in the doctor's words.
 */
import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import type { Facts } from '../../src/converge/facts.js';
import { CHECKS, doctorContext, runChecks, type DoctorOptions } from '../../src/doctor/index.js';
import type { ObservedAddr, ObservedLink } from '../../src/host/links.js';
import { paths } from '../../src/paths.js';
import type { Run } from '../../src/system/exec.js';
import type { State } from '../../src/system/state.js';

const cfg = parseConfig('[ipv4]\naddress = 10.0.1.1/24\n', '/etc/brmgr/brmgr0.conf', 'brmgr0');

/** Any tool the walk would run fails the test: these checks read the gathered facts only. */
const run = (async (file: string) => {
  throw new Error(`ran ${file}`);
}) as unknown as Run;
const opts: DoctorOptions = { run, paths: paths('brmgr0', { BRMGR_RUN_DIR: '/nonexistent' }), others: [] };
const state = { version: 1, bridge: 'brmgr0', up: true } as State;

const link = (up: boolean): ObservedLink => ({
  ifname: 'brmgr0',
  kind: 'bridge',
  mtu: 1500,
  address: '02:00:00:00:00:01',
  up,
  stp: false,
  group: 'default',
});
const addr: ObservedAddr = { ifname: 'brmgr0', family: 'inet', local: '10.0.1.1', prefixlen: 24, scope: 'global' };
const facts = (links: ObservedLink[], addrs: ObservedAddr[]): Facts => ({
  observed: { links, addrs, routes: [] },
  listeners: [],
  forwarded: [],
  ruleset: [],
});

const bridgeAndAddress = CHECKS.filter((c) => c.name === 'bridge' || c.name === 'address');
const walk = (f: Facts, checks = bridgeAndAddress) => runChecks(doctorContext(cfg, opts, f, state), checks);

t.test('a deleted bridge: named, and nothing after it is judged', async (t) => {
  t.same(await runChecks(doctorContext(cfg, opts, facts([], []), state)), [
    {
      check: 'bridge',
      ok: false,
      detail: 'brmgr0 does not exist',
      fix: 'systemctl restart brmgr@brmgr0 (or: brmgr run brmgr0)',
    },
  ]);
});

t.test('a down bridge: named with the command that brings it up', async (t) => {
  t.same(await walk(facts([link(false)], [addr])), [
    { check: 'bridge', ok: false, detail: 'brmgr0 is down', fix: 'ip link set dev brmgr0 up' },
  ]);
});

t.test('a lost address: the bridge is up, the address is named', async (t) => {
  t.same(await walk(facts([link(true)], [])), [
    { check: 'bridge', ok: true, detail: 'brmgr0 is up' },
    { check: 'address', ok: false, detail: 'brmgr0 lacks its address 10.0.1.1/24', fix: 'brmgr up brmgr0' },
  ]);
});

t.test('a healthy bridge: up, with its address', async (t) => {
  t.same(await walk(facts([link(true)], [addr])), [
    { check: 'bridge', ok: true, detail: 'brmgr0 is up' },
    { check: 'address', ok: true, detail: 'brmgr0 has 10.0.1.1/24' },
  ]);
});

t.test('a bridge brmgr has not brought up is named as such', async (t) => {
  const down = { ...state, up: false };
  t.match(await runChecks(doctorContext(cfg, opts, facts([link(true)], [addr]), down), bridgeAndAddress), [
    { check: 'bridge', ok: false, detail: 'brmgr0 exists but brmgr has not brought it up' },
  ]);
});

t.test('every check has its own name', async (t) => {
  const names = CHECKS.map((c) => c.name);
  t.equal(new Set(names).size, names.length);
});
