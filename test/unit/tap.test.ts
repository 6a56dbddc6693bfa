/**
 * brmgr tap add/del planning against fake links, and the demo's config: the
 * installed default, DNS pointed inside the demo.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/config/validate.js';
import { DEFAULT_CONFIG, demoConfig } from '../../src/demo/config.js';
import { missingDemoTools } from '../../src/demo/index.js';
import { parseTapViews, planTapAdd, planTapDel, type TapView } from '../../src/plan/tap.js';

const bridge: TapView = { ifname: 'brmgr0', kind: 'bridge', up: true };
const tap = (extra: Partial<TapView> = {}): TapView => ({
  ifname: 'fc0',
  kind: 'tun',
  tunType: 'tap',
  persist: true,
  up: true,
  ...extra,
});

t.test('parseTapViews reads kind, tap type, persistence, owner and master', async (t) => {
  const json = JSON.stringify([
    {
      ifname: 'fc0',
      flags: ['UP'],
      master: 'brmgr0',
      linkinfo: { info_kind: 'tun', info_data: { type: 'tap', persist: true, user: 'nobody' } },
    },
    { ifname: 'fc1', flags: [], linkinfo: { info_kind: 'tun', info_data: { type: 'tap', persist: true, user: 4242 } } },
    { ifname: 'tun0', flags: [], linkinfo: { info_kind: 'tun', info_data: { type: 'tun', persist: false } } },
    { ifname: 'eth0', flags: ['UP'], ifalias: 'brmgr-rate:20mbit' },
  ]);
  t.same(parseTapViews(json), [
    { ifname: 'fc0', kind: 'tun', tunType: 'tap', persist: true, user: 'nobody', master: 'brmgr0', up: true },
    { ifname: 'fc1', kind: 'tun', tunType: 'tap', persist: true, user: 4242, up: false },
    { ifname: 'tun0', kind: 'tun', tunType: 'tun', persist: false, up: false },
    { ifname: 'eth0', up: true, alias: 'brmgr-rate:20mbit' },
  ]);
});

t.test('planTapAdd: create, attach, nothing, or a clear refusal', async (t) => {
  const closed = { 'net/ipv6/conf/fc0/disable_ipv6': '1' };
  t.same(
    planTapAdd('brmgr0', 'fc0', 1000, [bridge], true),
    {
      create: ['tuntap add dev fc0 mode tap user 1000'],
      sysctls: closed,
      rate: [],
      attach: ['link set dev fc0 master brmgr0 up'],
      creates: true,
    },
    'a new tap owned by uid 1000, closed to router advertisements before it comes up, then a port of the bridge',
  );
  t.same(
    planTapAdd('brmgr0', 'fc0', undefined, [bridge], true).create[0],
    'tuntap add dev fc0 mode tap',
    'no owner: root only',
  );
  t.same(
    planTapAdd('brmgr0', 'fc0', 1000, [bridge, tap({ master: 'brmgr0' })], true, 1000),
    { create: [], sysctls: closed, rate: [], attach: [], creates: false },
    'already there: nothing but making sure it is closed',
  );
  t.same(
    planTapAdd('brmgr0', 'fc0', 1000, [bridge, tap()], true, 1000),
    { create: [], sysctls: closed, rate: [], attach: ['link set dev fc0 master brmgr0 up'], creates: false },
    'detached (after post --force): closed, attached again',
  );
  t.same(
    planTapAdd('brmgr0', 'fc0', 1000, [bridge, tap({ master: 'brmgr0', up: false })], true, 1000).attach,
    ['link set dev fc0 master brmgr0 up'],
    'down: brought up',
  );
  t.same(
    planTapAdd('brmgr0', 'fc0', undefined, [bridge], true, undefined, 20_000_000).rate,
    ['link set dev fc0 alias brmgr-rate:20mbit'],
    '--rate: its own rate, kept in its alias',
  );
  const rated = tap({ master: 'brmgr0', alias: 'brmgr-rate:20mbit' });
  t.same(planTapAdd('brmgr0', 'fc0', undefined, [bridge, rated], true, undefined, 20_000_000).rate, [], 'the same');
  t.same(
    planTapAdd('brmgr0', 'fc0', undefined, [bridge, rated], true, undefined, 1_000_000_000).rate,
    ['link set dev fc0 alias brmgr-rate:1gbit'],
    'another rate',
  );
  t.same(
    planTapAdd('brmgr0', 'fc0', undefined, [bridge, rated], true).rate,
    ['link set dev fc0 alias ""'],
    'no --rate: its own rate taken away',
  );
  const named = tap({ master: 'brmgr0', alias: 'vm 7 of alice' });
  t.same(
    planTapAdd('brmgr0', 'fc0', undefined, [bridge, named], true).rate,
    [],
    "no --rate: the user's own alias stays",
  );

  const refuse = (args: Parameters<typeof planTapAdd>, message: string) =>
    t.throws(() => planTapAdd(...args), { name: 'UsageError', message }, message);
  t.throws(
    () => planTapAdd('brmgr0', 'fc/0', 1000, [bridge], true),
    {
      name: 'ConfigError',
      message: "(command line):0: TAP: 'fc/0' is not a valid interface name (1-15 letters, digits, '_', '.', '-')",
    },
    'a bad tap name: the one name rule',
  );
  refuse(['brmgr0', 'brmgr0', 1000, [bridge], true], "the tap needs a name of its own, not the bridge's (brmgr0)");
  refuse(
    ['brmgr0', 'fc0', 1000, [bridge], false],
    'brmgr0 is not up as a brmgr bridge: start it first (brmgr run brmgr0 or brmgr up brmgr0)',
  );
  refuse(
    ['brmgr0', 'fc0', 1000, [], true],
    'brmgr0 does not exist, though brmgr recorded it as up: run brmgr up brmgr0',
  );
  refuse(
    ['brmgr0', 'fc0', 1000, [{ ifname: 'brmgr0', kind: 'veth', up: true }], true],
    'brmgr0 is not a bridge (it is a veth)',
  );
  refuse(
    ['brmgr0', 'fc0', 1000, [bridge, { ifname: 'fc0', kind: 'veth', up: true }], true],
    'fc0 exists and is not a tap (it is a veth)',
  );
  refuse(
    ['brmgr0', 'fc0', 1000, [bridge, { ifname: 'fc0', up: true }], true],
    'fc0 exists and is not a tap (it is a plain device)',
  );
  refuse(
    ['brmgr0', 'fc0', 1000, [bridge, tap({ tunType: 'tun' })], true, 1000],
    'fc0 exists and is not a tap (it is a tun device)',
  );
  refuse(
    ['brmgr0', 'fc0', 1000, [bridge, tap({ persist: false })], true, 1000],
    'fc0 is a tap a running program created (not persistent); choose another name',
  );
  refuse(
    ['brmgr0', 'fc0', 1000, [bridge, tap()], true, 1001],
    'tap fc0 exists with owner 1001, not 1000: brmgr tap del fc0 first',
  );
  refuse(
    ['brmgr0', 'fc0', undefined, [bridge, tap()], true, 1001],
    'tap fc0 exists with owner 1001, not none: brmgr tap del fc0 first',
  );
  refuse(
    ['brmgr0', 'fc0', 1000, [bridge, tap({ master: 'lxcbr0' })], true, 1000],
    'tap fc0 is a port of lxcbr0, not brmgr0: brmgr tap del fc0 first',
  );
});

t.test('planTapDel deletes only a persistent tap', async (t) => {
  t.same(planTapDel('fc0', [tap()]), ['link del dev fc0']);
  t.same(planTapDel('fc0', []), [], 'no such link: nothing to do');
  t.throws(() => planTapDel('fc0', [{ ifname: 'fc0', kind: 'bridge', up: true }]), {
    message: 'fc0 is not a tap (it is a bridge); brmgr tap del deletes only taps',
  });
  t.throws(() => planTapDel('fc0', [tap({ tunType: 'tun' })]), {
    message: 'fc0 is not a tap (it is a tun device); brmgr tap del deletes only taps',
  });
  t.throws(() => planTapDel('fc0', [tap({ persist: false })]), {
    message: 'fc0 is a tap a running program created (not persistent); brmgr tap del deletes only persistent taps',
  });
  t.throws(() => planTapDel('all', []), { name: 'ConfigError' });
});

t.test("the demo runs the installed default config, with DNS kept inside the demo's namespaces", async (t) => {
  t.equal(
    DEFAULT_CONFIG,
    readFileSync(new URL('../../etc/brmgr/brmgr0.conf', import.meta.url), 'utf8'),
    'the embedded default is etc/brmgr/brmgr0.conf',
  );
  const cfg = parseConfig(demoConfig('192.0.2.2'), '/etc/brmgr/brmgr0.conf', 'brmgr0');
  const dflt = parseConfig(DEFAULT_CONFIG, '/etc/brmgr/brmgr0.conf', 'brmgr0');
  t.same(cfg.dns.upstream, [{ ip: '192.0.2.2' }], 'upstream is the demo outside');
  t.same(
    { ...cfg, dns: { ...cfg.dns, upstream: dflt.dns.upstream } },
    dflt,
    'and nothing else differs from the default',
  );
  t.same(
    missingDemoTools({ PATH: '/nonexistent' }),
    [
      'ip (package iproute2)',
      'ss (package iproute2)',
      'dnsmasq (package dnsmasq-base)',
      'busybox (package busybox)',
      'nft (package nftables) or iptables-restore (package iptables)',
    ],
    'missing tools are named with their packages',
  );
});
