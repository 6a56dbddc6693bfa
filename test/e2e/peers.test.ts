/**
 * Real peers on the same host, before brmgr and after `brmgr run` is up:
 * Docker's rule sequence (iptables-nft and iptables-legacy), the real ufw, and
 * an nftables.conf with `flush ruleset` loaded as nftables.service loads it.
 * Each time the guests must lease, resolve, reach the outside and each other
 * (br_netfilter is on in every namespace: bridged traffic crosses iptables'
 * FORWARD too); what a peer removes while `brmgr run` runs is back within 2 s.
 */
import t from 'tap';
import { chmodSync } from 'node:fs';
import { dnsmasqReady, follow, label, skipReason, udhcpc } from '../helpers/e2e.js';
import {
  BACKENDS,
  conf,
  exec,
  ip,
  Lab,
  ping,
  topology,
  waitFor,
  type BackendName,
  type Topology,
} from '../helpers/netns.js';
import { dockerStarts, nftablesConf, nftablesService, ufwEnable } from '../helpers/peers.js';

const why = skipReason();
if (why) t.plan(0, why);

interface Peer {
  name: string;
  act(lab: Lab, top: Topology): Promise<void>;
  /** the iptables-save that shows brmgr's accept rules after this peer */
  save?: string;
}

const PEERS: Peer[] = [
  { name: 'Docker (iptables-nft)', act: (_lab, top) => dockerStarts(top.host) },
  {
    name: 'Docker (iptables-legacy)',
    act: (_lab, top) => dockerStarts(top.host, 'legacy'),
    save: 'iptables-legacy-save',
  },
  { name: 'ufw enable', act: (lab, top) => ufwEnable(lab, top.host) },
  { name: 'nftables.service (flush ruleset)', act: (lab, top) => nftablesService(lab, top.host) },
];

const config = (backend: BackendName) =>
  conf({
    firewall: backend,
    extra: '[dns]\nupstream = 10.0.1.1\n[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n',
  });

async function lab(t: Tap.Test, backend: BackendName) {
  const lab = Lab.create(t);
  chmodSync(lab.dir, 0o755);
  const top = await topology(lab);
  top.brmgr.config(config(backend));
  return { lab, top };
}

async function start(top: Topology) {
  const events = follow(top.brmgr.run());
  await dnsmasqReady(events);
  await top.attach();
  return events;
}

/** A second guest, 10.0.1.51, on a port that computes checksums in software like a real NIC. */
async function secondGuest(top: Topology) {
  const ns = await top.lab.ns('g2');
  const ifname = top.lab.name('s');
  const port = top.lab.name('t');
  await top.lab.veth(ns, ifname, top.host, port, { master: top.bridge });
  await exec(top.host, 'ethtool', ['-K', port, 'tx', 'off']);
  await ip(ns, 'address', 'add', '10.0.1.51/24', 'dev', ifname);
  return { ns, ifname };
}

/** What a guest needs, asserted from the guests' side. */
async function online(t: Tap.Test, top: Topology, g2: { ns: string; ifname: string }, when: string) {
  t.ok(await udhcpc(g2.ns, g2.ifname), `${when}: a guest leases (DHCP)`);
  const dns = await exec(top.guest, 'dig', ['+short', '+time=1', '+tries=2', '@10.0.1.1', 'web']);
  t.equal(dns.stdout.trim(), '10.0.1.10', `${when}: a guest resolves (DNS)`);
  t.ok(await ping(top.guest, '192.0.2.2'), `${when}: a guest reaches the outside (forwarding, NAT)`);
  t.ok(await ping(g2.ns, '10.0.1.50'), `${when}: the guests reach each other`);
}

/**
 * brmgr's objects as the kernel lists them: its nft table (nftables) and its jumps in iptables' INPUT and
 * FORWARD (the shim: each where that chain has a policy other than ACCEPT or a rule of the host's).
 */
async function inPlace(top: Topology, backend: BackendName, save = 'iptables-save'): Promise<boolean> {
  if (backend === 'nftables') {
    const table = await exec(top.host, 'nft', ['list', 'table', 'inet', `brmgr-${top.bridge}`]);
    if (table.exitCode !== 0) return false;
  }
  const rules = (await exec(top.host, save, ['-t', 'filter'])).stdout;
  const jumps = (chain: string) => new RegExp(`^-A ${chain} .*-j BRMGR-${top.bridge}-`, 'm').test(rules);
  const forward = /^:DOCKER-USER/m.test(rules) ? 'DOCKER-USER' : 'FORWARD';
  // the iptables backend's whole policy is in iptables' own tables; iptables-legacy's beside it gets the shim
  const needs = (chain: string) =>
    (backend === 'iptables' && save === 'iptables-save') ||
    new RegExp(`^:${chain} (?!ACCEPT)`, 'm').test(rules) ||
    new RegExp(`^-A ${chain} (?!.*-j BRMGR-)`, 'm').test(rules);
  const forwardNeeded = forward === 'DOCKER-USER' || needs('FORWARD');
  return !rules || ((jumps('INPUT') || !needs('INPUT')) && (jumps(forward) || !forwardNeeded));
}

for (const backend of why ? [] : BACKENDS) {
  for (const peer of PEERS) {
    t.test(`${label(backend)}: ${peer.name} before brmgr`, async (t) => {
      const { lab: l, top } = await lab(t, backend);
      await peer.act(l, top);
      await start(top);
      await online(t, top, await secondGuest(top), `${peer.name} first`);
    });

    t.test(`${label(backend)}: ${peer.name} after brmgr run is up`, async (t) => {
      const { lab: l, top } = await lab(t, backend);
      const events = await start(top);
      const g2 = await secondGuest(top);
      await online(t, top, g2, 'before');
      // the monitors subscribe a moment after they start
      await new Promise((r) => setTimeout(r, 300));
      await peer.act(l, top);
      const from = Date.now();
      await waitFor("brmgr's rules in place", () => inPlace(top, backend, peer.save), 2_000);
      t.pass(`brmgr's rules are in place ${Date.now() - from} ms after ${peer.name}`);
      await online(t, top, g2, `${peer.name} after`);
      const repairs = events.filter((e) => e.event === 'firewall');
      t.ok(repairs.length <= 1, 'at most one repair, logged', { repairs });
    });
  }
}

for (const _ of why ? [] : [1]) {
  t.test('firewall = nftables, pre alone (no brmgr run): Docker starting later needs pre again', async (t) => {
    const { top } = await lab(t, 'nftables');
    await top.brmgr.up();
    await top.attach();
    const g2 = await secondGuest(top);
    t.ok(await ping(top.guest, '192.0.2.2'), 'the guest reaches the outside, no iptables shim');
    await dockerStarts(top.host);
    // nothing watches: the shim, only where something could refuse, is not there yet
    t.notOk(await ping(top.guest, '192.0.2.2', 1), "control: Docker's FORWARD DROP cuts the guest off");
    await top.brmgr.up();
    t.ok(await ping(top.guest, '192.0.2.2'), "after pre again, the guest reaches the outside through Docker's DROP");
    t.ok(await ping(g2.ns, '10.0.1.50'), 'and the guests reach each other through iptables FORWARD');
  });

  t.test('an nftables.conf that drops forwarding, loaded while brmgr run runs: not overridden, but said', async (t) => {
    const { lab: l, top } = await lab(t, 'nftables');
    const events = await start(top);
    await new Promise((r) => setTimeout(r, 300));
    await nftablesService(l, top.host, nftablesConf('drop'));
    await waitFor("brmgr's table back", () => inPlace(top, 'nftables'), 2_000);
    await waitFor(
      'a warning naming the chain',
      async () => events.some((e) => e.event === 'foreign-firewall' && /inet filter forward/.test(String(e.msg))),
      2_000,
    );
    t.pass('the warning names table and chain');
    t.notOk(await ping(top.guest, '192.0.2.2', 2), "the host's deliberate drop stays in force");
    const doctor = await top.brmgr.cli('doctor', top.bridge);
    t.equal(doctor.exitCode, 1, 'doctor finds a problem');
    t.match(doctor.stdout, /inet filter forward/, 'and names the chain');
  });
}
