/**
 * [vxlan] peers: the VXLAN port accepts the listed peers only, and a changed
 * list is applied as its difference. Host A (authority, isolated, nothing
 * served) and host B (extending) on a veth underlay; an intruder on the same
 * underlay speaks VXLAN with the bridge's VNI.
 */
import t from 'tap';
import { Brmgr, exec, ip, Lab, must, ping, snapshot } from '../helpers/netns.js';
import { flooding, underlay } from '../helpers/vxlan.js';
import { skipReason } from '../helpers/e2e.js';
import { vxlanName } from '../../src/plan/vxlan.js';

const why = skipReason();

t.test('vxlan: peers only, and a changed peer list converges', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const [a, b, sw, intruder, guest] = await Promise.all(['a', 'b', 'sw', 'intruder', 'g'].map((r) => lab.ns(r)));
  const bridge = lab.name('br');
  const vx = vxlanName(bridge);
  await underlay(lab, sw, [
    [a, '198.51.100.1/24'],
    [b, '198.51.100.2/24'],
    [intruder, '198.51.100.9/24'],
  ]);
  // a guest on B with a static address
  const nic = lab.name('g');
  const port = lab.name('p');
  await lab.veth(guest, nic, b, port);
  await must(b, 'sysctl', ['-q', '-w', `net.ipv6.conf.${port}.accept_ra=0`]);
  await ip(guest, 'address', 'add', '10.0.1.50/24', 'dev', nic);
  await ip(guest, 'link', 'set', nic, 'mtu', '1450');
  const before = { a: await snapshot(a), b: await snapshot(b) };

  const A = new Brmgr(lab, a, bridge, 'a');
  const B = new Brmgr(lab, b, bridge, 'b');
  const vxlan = (peers: string[]) => `[vxlan]\nid = 4242\npeers = ${peers.join(', ')}\n`;
  A.config(
    '[bridge]\nmode = isolated\nfirewall = nftables\n[ipv4]\naddress = 10.0.1.1/24\ndhcp = false\n' +
      `[dns]\nenable = false\n${vxlan(['198.51.100.2'])}`,
  );
  const extending = (peers: string[]) => `[bridge]\nmode = bridged\nfirewall = nftables\n${vxlan(peers)}`;
  B.config(extending(['198.51.100.1']));
  await A.up();
  await B.up();
  await ip(b, 'link', 'set', port, 'master', bridge);
  t.ok(await ping(a, '10.0.1.50'), 'A reaches B’s guest through the tunnel');

  // the intruder: the bridge's VNI, flooding to B, an address in the guests' subnet
  await ip(intruder, 'link', 'add', 'vx', 'type', 'vxlan', 'id', '4242', 'local', '198.51.100.9', 'dstport', '4789');
  await must(intruder, 'bridge', ['fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx', 'dst', '198.51.100.2']);
  await ip(intruder, 'address', 'add', '10.0.1.77/24', 'dev', 'vx');
  await ip(intruder, 'link', 'set', 'vx', 'up');
  t.notOk(await ping(intruder, '10.0.1.50', 2), 'a host not among the peers does not reach B’s guest');

  B.config(extending(['198.51.100.1', '198.51.100.9']));
  await B.up();
  t.same(await flooding(b, vx), ['198.51.100.1', '198.51.100.9'], 'a peer added');
  t.ok(await ping(intruder, '10.0.1.50'), 'and, now a peer, it reaches B’s guest');
  B.config(extending(['198.51.100.3', '198.51.100.1']));
  await B.up();
  t.same(await flooding(b, vx), ['198.51.100.1', '198.51.100.3'], 'one peer removed, another added');
  t.notOk(await ping(intruder, '10.0.1.50', 2), 'the removed peer no longer reaches B’s guest');
  t.ok(await ping(a, '10.0.1.50'), 'A still does');
  B.config(extending(['198.51.100.1']));
  await B.up();
  t.same(await flooding(b, vx), ['198.51.100.1'], 'back as it was');

  await ip(b, 'link', 'set', port, 'nomaster');
  await A.down();
  await B.down();
  t.same(await snapshot(a), before.a, 'post leaves A as it was');
  t.same(await snapshot(b), before.b, 'and B');
});

t.test('vxlan over an IPv6 underlay: 70 bytes of overhead, peers only', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const [a, b, sw, intruder, guest] = await Promise.all(['a6', 'b6', 'sw6', 'intruder6', 'g6'].map((r) => lab.ns(r)));
  const bridge = lab.name('br');
  const vx = vxlanName(bridge);
  await underlay(lab, sw, [
    [a, '2001:db8:100::1/64'],
    [b, '2001:db8:100::2/64'],
    [intruder, '2001:db8:100::9/64'],
  ]);
  const nic = lab.name('g');
  const port = lab.name('p');
  await lab.veth(guest, nic, b, port);
  await ip(guest, 'address', 'add', '10.0.1.50/24', 'dev', nic);
  await ip(guest, 'link', 'set', nic, 'mtu', '1430');

  const A = new Brmgr(lab, a, bridge, 'a');
  const B = new Brmgr(lab, b, bridge, 'b');
  A.config(
    '[bridge]\nmode = isolated\nfirewall = nftables\n[ipv4]\naddress = 10.0.1.1/24\ndhcp = false\n' +
      '[dns]\nenable = false\n[vxlan]\nid = 7\npeers = 2001:db8:100::2\n',
  );
  B.config('[bridge]\nmode = bridged\nfirewall = nftables\n[vxlan]\nid = 7\npeers = 2001:db8:100::1\n');
  await A.up();
  await B.up();
  await ip(b, 'link', 'set', port, 'master', bridge);
  const link = JSON.parse(await ip(b, '-d', '-json', 'link', 'show', 'dev', vx))[0] as {
    mtu: number;
    linkinfo: { info_data: { local6?: string } };
  };
  t.equal(link.linkinfo.info_data.local6, '2001:db8:100::2', 'the local address is the source toward the peer');
  t.equal(link.mtu, 1430, 'the MTU is the underlay’s less 70');
  t.ok(await ping(a, '10.0.1.50'), 'A reaches B’s guest through the tunnel');

  await ip(intruder, 'link', 'add', 'vx', 'type', 'vxlan', 'id', '7', 'local', '2001:db8:100::9', 'dstport', '4789');
  await must(intruder, 'bridge', ['fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx', 'dst', '2001:db8:100::2']);
  await ip(intruder, 'address', 'add', '10.0.1.77/24', 'dev', 'vx');
  await ip(intruder, 'link', 'set', 'vx', 'up');
  t.notOk(await ping(intruder, '10.0.1.50', 2), 'a host not among the peers does not reach B’s guest');

  await ip(b, 'link', 'set', port, 'nomaster');
  await A.down();
  await B.down();
  t.equal((await exec(b, 'ip', ['link', 'show', vx])).exitCode, 1, 'post deletes the link');
});
