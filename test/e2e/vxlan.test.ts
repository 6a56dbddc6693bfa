/**
 * One bridge stretched over three hosts with VXLAN: host A is the DHCP/DNS
 * authority and the NAT gateway, hosts B and C extend it (mode = bridged with
 * [vxlan]). Hosts are namespaces on one underlay switch. Peers changing and the
 * underlay filter: vxlan-peers.test.ts.
 */
import t from 'tap';
import { chmodSync } from 'node:fs';
import { Brmgr, ip, Lab, must, ping, snapshot, waitFor } from '../helpers/netns.js';
import { flooding, offloads, underlay } from '../helpers/vxlan.js';
import { dnsmasqReady, doctorReport, follow, foreignDhcp, skipReason, udhcpcRun } from '../helpers/e2e.js';
import { vxlanName } from '../../src/plan/vxlan.js';

const why = skipReason();

interface RawLink {
  ifname: string;
  mtu: number;
  address: string;
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; port?: number } };
}
const linkOf = async (ns: string, dev: string) =>
  (JSON.parse(await ip(ns, '-d', '-json', 'link', 'show', 'dev', dev)) as RawLink[])[0]!;

t.test('vxlan: an authority and two extending hosts', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  chmodSync(lab.dir, 0o711);
  const [a, b, c, sw, out] = await Promise.all(['a', 'b', 'c', 'sw', 'out'].map((r) => lab.ns(r)));
  const bridge = lab.name('br');
  const vx = vxlanName(bridge);
  const under = { a: '198.51.100.1', b: '198.51.100.2', c: '198.51.100.3' };

  // the underlay: one switch, an MTU of 1500 everywhere
  const [uA, uB, uC] = await underlay(lab, sw, [
    [a, `${under.a}/24`],
    [b, `${under.b}/24`],
    [c, `${under.c}/24`],
  ]);
  // A's way out: through its NAT to a namespace that has no route back to the guests
  const aUp = lab.name('o');
  const outIf = lab.name('x');
  await lab.veth(a, aUp, out, outIf);
  await ip(a, 'address', 'add', '192.0.2.1/24', 'dev', aUp);
  await ip(a, 'route', 'add', 'default', 'via', '192.0.2.2');
  await ip(out, 'address', 'add', '192.0.2.2/24', 'dev', outIf);

  // guests: a namespace each, its veth's host end a port to attach once the bridge is up
  const guest = async (host: string, role: string, mac: string) => {
    const ns = await lab.ns(role);
    const ifname = lab.name('g');
    const port = lab.name('p');
    await lab.veth(ns, ifname, host, port);
    await ip(ns, 'link', 'set', ifname, 'address', mac);
    // the host's end of a guest's veth takes no address from a guest's router advertisements once detached
    await must(host, 'sysctl', ['-q', '-w', `net.ipv6.conf.${port}.accept_ra=0`]);
    return { ns, ifname, port, mac, host };
  };
  const gB = await guest(b, 'gb', '52:54:00:0b:00:01');
  const gC = await guest(c, 'gc', '52:54:00:0c:00:01');
  // A ignores these two: only a rogue could lease them an address
  const ignoredB = await guest(b, 'ib', '52:54:00:00:00:98');
  const ignoredC = await guest(c, 'ic', '52:54:00:00:00:99');
  const rogue = await guest(c, 'rogue', '52:54:00:0c:00:66');
  const attach = (g: { host: string; port: string }) => ip(g.host, 'link', 'set', g.port, 'master', bridge);

  const before = { a: await snapshot(a), b: await snapshot(b), c: await snapshot(c) };
  const underlays = [
    [a, uA!],
    [b, uB!],
    [c, uC!],
  ] as const;
  const offloadsBefore = await Promise.all(underlays.map(([ns, dev]) => offloads(ns, dev)));

  const extra = lab.file('a-dnsmasq.conf', 'dhcp-host=52:54:00:00:00:98,ignore\ndhcp-host=52:54:00:00:00:99,ignore\n');
  const A = new Brmgr(lab, a, bridge, 'a');
  const B = new Brmgr(lab, b, bridge, 'b');
  const C = new Brmgr(lab, c, bridge, 'c');
  const vxlanSection = (peers: string[]) => `[vxlan]\nid = 4242\npeers = ${peers.join(', ')}\n`;
  A.config(
    `[bridge]\nmode = nat\nuplink = ${aUp}\nfirewall = nftables\n[ipv4]\naddress = 10.0.1.1/24\n` +
      `[dnsmasq]\nconf_file = ${extra}\n${vxlanSection([under.b, under.c])}`,
  );
  const extending = (peers: string[], extra = '') =>
    `[bridge]\nmode = bridged\nfirewall = nftables\n${extra}${vxlanSection(peers)}`;
  B.config(extending([under.a, under.c]));
  // the control below needs C's rogue to serve C's own guests: the tunnel's guard alone is under test
  C.config(extending([under.a, under.b], 'port_security = off\n'));

  const runA = A.run();
  const events = follow(runA);
  await dnsmasqReady(events);
  await B.up();
  await C.up();

  const macs = new Set<string>();
  for (const [name, host, peers] of [
    ['A', a, [under.b, under.c]],
    ['B', b, [under.a, under.c]],
    ['C', c, [under.a, under.b]],
  ] as const) {
    const link = await linkOf(host, vx);
    t.equal(link.linkinfo?.info_kind, 'vxlan', `${name}: ${vx} is a VXLAN link`);
    t.equal(link.linkinfo?.info_data?.id, 4242, `${name}: with the VNI`);
    t.equal(link.master, bridge, `${name}: a port of the bridge`);
    t.equal(link.mtu, 1450, `${name}: its MTU is the underlay's less 50`);
    const br = await linkOf(host, bridge);
    t.equal(br.mtu, 1450, `${name}: so is the bridge's`);
    macs.add(br.address);
    t.same(await flooding(host, vx), [...peers].sort(), `${name}: floods to each peer`);
    const tunnel = await offloads(host, vx);
    t.equal(tunnel.get('generic-receive-offload')?.on, true, `${name}: ${vx} merges what it decapsulates (GRO)`);
    t.equal(tunnel.get('tcp-segmentation-offload')?.on, true, `${name}: and hands the underlay whole TCP segments`);
    t.match(
      link.linkinfo?.info_data,
      { udp_csum: true, udp_zero_csum6_rx: false },
      `${name}: the outer UDP checksum is sent and checked`,
    );
  }
  t.same(
    await Promise.all(underlays.map(([ns, dev]) => offloads(ns, dev))),
    offloadsBefore,
    'pre changes no offload of the underlay it did not create',
  );
  t.equal(macs.size, 3, 'each host’s bridge has its own MAC (the machine-id is the same)');

  // B's lookup waits from before its guest boots
  const early = B.cli('lookup', bridge, gB.mac, '--wait', '30');
  const script = lab.file(
    'udhcpc.sh',
    '#!/bin/sh\n[ "$1" = bound ] && echo "bound ip=$ip mtu=$mtu serverid=$serverid"\nexit 0\n',
    0o755,
  );
  const dhcp = async (g: { ns: string; ifname: string }) => {
    const r = await udhcpcRun(g.ns, g.ifname, { extra: ['-O', 'mtu'], script });
    const m = /bound ip=(\S*) mtu=(\S*) serverid=(\S*)/.exec(r.stdout);
    return m ? { ip: m[1]!, mtu: m[2]!, server: m[3]! } : undefined;
  };

  for (const g of [gB, gC, ignoredB, ignoredC, rogue]) await attach(g);
  const leaseB = await dhcp(gB);
  t.match(leaseB?.ip, /^10\.0\.1\.\d+$/, 'a guest on B leases from A over the tunnel', { leaseB });
  t.equal(leaseB?.server, '10.0.1.1', 'from A’s dnsmasq');
  t.equal(leaseB?.mtu, '1450', 'and is told MTU 1450');
  await ip(gB.ns, 'address', 'add', `${leaseB!.ip}/24`, 'dev', gB.ifname);
  await ip(gB.ns, 'route', 'add', 'default', 'via', '10.0.1.1');
  t.ok(await ping(gB.ns, '10.0.1.1'), 'B’s guest reaches A’s bridge address');
  t.ok(await ping(gB.ns, '192.0.2.2'), 'and, through A’s NAT, the outside');

  const leaseC = await dhcp(gC);
  t.equal(leaseC?.server, '10.0.1.1', 'a guest on C leases from A too');
  await ip(gC.ns, 'address', 'add', `${leaseC!.ip}/24`, 'dev', gC.ifname);
  t.ok(await ping(gC.ns, leaseB!.ip), 'C’s guest reaches B’s guest');

  t.equal((await early).stdout.trim(), leaseB!.ip, 'lookup --wait on B, started before the guest booted, finds it');
  t.equal((await B.cli('lookup', bridge, gB.mac)).stdout.trim(), leaseB!.ip, 'lookup on B afterwards too');
  t.equal((await A.cli('lookup', bridge, gB.mac)).stdout.trim(), leaseB!.ip, 'and on A, from its leases');
  const listed = JSON.parse((await B.cli('leases', bridge, '--json')).stdout) as {
    mac: string;
    ip: string;
    source?: string;
  }[];
  t.ok(
    listed.some((l) => l.mac === gB.mac && l.ip === leaseB!.ip && l.source === 'snooped'),
    'leases --json on B lists it as snooped',
    { listed },
  );

  // a rogue DHCP server on C
  await ip(rogue.ns, 'address', 'add', '10.66.0.1/24', 'dev', rogue.ifname);
  await ip(rogue.ns, 'address', 'add', '2001:db8:66::1/64', 'dev', rogue.ifname, 'nodad');
  // and router advertisements
  await foreignDhcp(lab, rogue.ns, rogue.ifname, {
    range: '10.66.0.100,10.66.0.150',
    ra6: '2001:db8:66::',
    leases: 'rogue.leases',
  });
  const local = await dhcp(ignoredC);
  t.equal(local?.server, '10.66.0.1', 'control: the rogue serves a guest on its own host');
  t.equal(await dhcp(ignoredB), undefined, 'but none on B: its answers never enter the tunnel');
  const rogue6 = async (ns: string) =>
    (await ip(ns, '-6', 'address', 'show', 'scope', 'global')).includes('2001:db8:66:');
  await waitFor('control: the rogue’s RA configures a guest on its own host', () => rogue6(ignoredC.ns), 15_000);
  await new Promise((r) => setTimeout(r, 4000));
  t.notOk(await rogue6(ignoredB.ns), 'but not one on B: its router advertisements never enter the tunnel');
  const again = await dhcp(gB);
  t.equal(again?.server, '10.0.1.1', 'B’s guest still gets A’s answer');

  const status = JSON.parse((await B.cli('status', bridge, '--json')).stdout) as {
    vxlan: { link: string; id: number; peers: string[]; mtu: number };
  };
  t.match(status.vxlan, { link: vx, id: 4242, mtu: 1450 }, 'status shows the tunnel');
  t.same(status.vxlan.peers.sort(), [under.a, under.c], 'and its peers');

  // the underlay's offloads, as the doctor sees them: a veth segments the tunnel's packets itself
  const offloadFinding = async (host: Brmgr) =>
    (await doctorReport(host)).report.findings.filter((f) => f.check === 'vxlan offload');
  t.match(
    await offloadFinding(C),
    [{ ok: true, detail: new RegExp(`^${uC}, the tunnel's underlay, offloads`) }],
    'doctor on C: the underlay offloads the tunnel',
  );
  await must(c, 'ethtool', ['-K', uC!, 'tx-udp_tnl-csum-segmentation', 'off']);
  const advised = await offloadFinding(C);
  t.match(
    advised,
    [{ ok: true, advice: true, detail: new RegExp(`^${uC} has tx-udp_tnl-csum-segmentation off: .*in software`) }],
    'without tunnel segmentation: advice naming the device (a finding, not a problem)',
  );
  const fix = advised[0]?.fix;
  t.equal(fix, `ethtool -K ${uC} tx-udp_tnl-csum-segmentation on`, 'with the command that turns it on');
  const [cmd, ...args] = fix!.split(' ');
  await must(c, cmd!, args);
  t.match(await offloadFinding(C), [{ ok: true, detail: /offloads what it carries/ }], 'which does');

  const tap = lab.name('t');
  t.equal((await B.cli('tap', 'add', bridge, tap)).exitCode, 0, 'a tap on B');
  t.equal((await linkOf(b, tap)).mtu, 1450, 'gets the bridge’s MTU');
  t.equal((await B.cli('tap', 'del', tap)).exitCode, 0);

  runA.kill('SIGTERM');
  t.equal((await runA).exitCode, 0, 'A’s brmgr run stops cleanly');
  for (const g of [gB, gC, ignoredB, ignoredC, rogue]) await ip(g.host, 'link', 'set', g.port, 'nomaster');
  await A.down();
  await B.down();
  await C.down();
  t.same(await snapshot(a), before.a, 'post leaves A as it was');
  t.same(await snapshot(b), before.b, 'and B');
  t.same(await snapshot(c), before.c, 'and C');
  t.same(
    await Promise.all(underlays.map(([ns, dev]) => offloads(ns, dev))),
    offloadsBefore,
    'the underlays’ offloads are as before',
  );
});
