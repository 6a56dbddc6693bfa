/**
 * [vxlan] learning = evpn: brmgr creates the link without static peers and
 * FRR (zebra and bgpd, BGP EVPN) fills its forwarding table; two hosts as
 * namespaces, one FRR instance in each.
 */
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Brmgr, exec, ip, Lab, must, ping, snapshot, waitFor } from '../helpers/netns.js';
import { flooding } from '../helpers/vxlan.js';
import { skipReason } from '../helpers/e2e.js';
import { vxlanName } from '../../src/plan/vxlan.js';

const FRR = '/usr/lib/frr';
const why = skipReason() ?? (existsSync(join(FRR, 'zebra')) ? undefined : 'FRR is not installed (package frr)');

t.test('vxlan: learning = evpn leaves the peers to FRR', { skip: why, timeout: 90_000 }, async (t) => {
  const lab = Lab.create(t);
  chmodSync(lab.dir, 0o755);
  const [a, b] = await Promise.all([lab.ns('a'), lab.ns('b')]);
  const bridge = lab.name('br');
  const vx = vxlanName(bridge);
  const ua = lab.name('u');
  await lab.veth(a, ua, b, lab.name('u'));
  const ub = (JSON.parse(await ip(b, '-json', 'link', 'show', 'type', 'veth')) as { ifname: string }[])[0]!.ifname;
  await ip(a, 'address', 'add', '198.51.100.1/24', 'dev', ua);
  await ip(b, 'address', 'add', '198.51.100.2/24', 'dev', ub);
  const guests: Record<string, { ns: string; port: string }> = {};
  for (const [host, name, address] of [
    [a, 'ga', '10.0.9.1/24'],
    [b, 'gb', '10.0.9.2/24'],
  ] as const) {
    const ns = await lab.ns(name);
    const port = lab.name('p');
    const nic = lab.name('g');
    await lab.veth(ns, nic, host, port);
    await ip(ns, 'address', 'add', address, 'dev', nic);
    await ip(ns, 'link', 'set', nic, 'mtu', '1450');
    guests[name] = { ns, port };
  }
  const before = { a: await snapshot(a), b: await snapshot(b) };

  const hosts = [
    { ns: a, home: 'a', local: '198.51.100.1', peer: '198.51.100.2' },
    { ns: b, home: 'b', local: '198.51.100.2', peer: '198.51.100.1' },
  ];
  const brmgrs = hosts.map((h) => {
    const m = new Brmgr(lab, h.ns, bridge, h.home);
    m.config(`[bridge]\nmode = bridged\n[vxlan]\nid = 100\nlearning = evpn\nlocal = ${h.local}\n`);
    return m;
  });
  for (const m of brmgrs) await m.up();
  t.same(await flooding(a, vx), [], 'brmgr adds no peers itself');
  await ip(a, 'link', 'set', guests.ga!.port, 'master', bridge);
  await ip(b, 'link', 'set', guests.gb!.port, 'master', bridge);

  // one FRR per host: its own path space for sockets and pid files
  const pathspaces: string[] = [];
  for (const h of hosts) {
    const space = `brmgr-e2e-${lab.id}-${h.home}`;
    const runDir = `/var/run/frr/${space}`;
    mkdirSync(runDir, { recursive: true });
    await must(h.ns, 'chown', ['frr:frr', runDir]);
    pathspaces.push(runDir);
    const conf = lab.file(
      `${h.home}-frr.conf`,
      [
        'frr defaults datacenter',
        'router bgp 65000',
        ` bgp router-id ${h.local}`,
        ' no bgp default ipv4-unicast',
        ` neighbor ${h.peer} remote-as 65000`,
        ' address-family l2vpn evpn',
        `  neighbor ${h.peer} activate`,
        '  advertise-all-vni',
        ' exit-address-family',
        '',
      ].join('\n'),
    );
    for (const daemon of ['zebra', 'bgpd']) {
      lab.spawn(h.ns, join(FRR, daemon), ['-N', space, '-f', conf, '-i', `${runDir}/${daemon}.pid`]);
    }
  }
  t.teardown(() => {
    for (const d of pathspaces) rmSync(d, { recursive: true, force: true });
  });

  await waitFor('FRR to install the remote VTEP', async () => (await flooding(a, vx)).length > 0, 40_000);
  t.same(await flooding(a, vx), ['198.51.100.2'], 'zebra floods A’s traffic to B');
  await waitFor('and on B', async () => (await flooding(b, vx)).length > 0, 20_000);
  t.same(await flooding(b, vx), ['198.51.100.1'], 'and B’s to A');
  t.ok(await ping(guests.ga!.ns, '10.0.9.2'), 'a guest on A reaches a guest on B');

  await ip(a, 'link', 'set', guests.ga!.port, 'nomaster');
  await ip(b, 'link', 'set', guests.gb!.port, 'nomaster');
  for (const m of brmgrs) await m.down();
  t.notOk((await exec(a, 'ip', ['link', 'show', vx])).exitCode === 0, 'post deletes the link, FRR’s entries with it');
  // zebra and bgpd are stopped by the lab's teardown; what brmgr made is gone now
  const after = { a: await snapshot(a), b: await snapshot(b) };
  t.same(after.a.links, before.a.links, 'A’s links as before');
  t.same(after.b.links, before.b.links, 'B’s links as before');
  t.same(after.a.nft, before.a.nft, 'and its nftables');
});
