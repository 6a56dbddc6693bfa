/**
 * Isolation between brmgr bridges side by side in one host: guests of one
 * bridge never reach another bridge's guests, unless both bridges are routed.
 */
import t from 'tap';
import { BACKENDS, Brmgr, conf, ip, Lab, ping, snapshot, tcpConnect, tcpEchoPeer, topology } from '../helpers/netns.js';
import { label, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

for (const backend of why ? [] : BACKENDS) {
  t.test(`two nat and two routed bridges (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    // nat1 is the topology's bridge (guest 10.0.1.50, outside beyond the uplink)
    const topo = await topology(lab);
    const { host, outside } = topo;
    await ip(outside, 'route', 'add', '10.0.0.0/16', 'via', '192.0.2.1');

    const bridges: Record<string, { brmgr: Brmgr; guest: string; address: string; port: string; mode: string }> = {
      nat1: { brmgr: topo.brmgr, guest: topo.guest, address: '10.0.1.50', port: topo.port, mode: 'nat' },
    };
    const more = [
      ['nat2', 'nat', 2],
      ['routed3', 'routed', 3],
      ['routed4', 'routed', 4],
    ] as const;
    for (const [role, mode, n] of more) {
      const guest = await lab.ns(role);
      const guestIf = lab.name('g');
      const port = lab.name('p');
      await lab.veth(guest, guestIf, host, port);
      await ip(guest, 'address', 'add', `10.0.${n}.50/24`, 'dev', guestIf);
      await ip(guest, 'route', 'add', 'default', 'via', `10.0.${n}.1`);
      bridges[role] = { brmgr: new Brmgr(lab, host, lab.name('br')), guest, address: `10.0.${n}.50`, port, mode };
    }
    const before = await snapshot(host);
    for (const [role, b] of Object.entries(bridges)) {
      b.brmgr.config(conf({ firewall: backend, mode: b.mode, address: `10.0.${role.at(-1)}.1/24` }));
      await b.brmgr.up();
      if (role === 'nat1') await topo.attach();
      else await ip(host, 'link', 'set', b.port, 'master', b.brmgr.bridge);
    }
    const { nat1, nat2, routed3, routed4 } = bridges as Record<
      'nat1' | 'nat2' | 'routed3' | 'routed4',
      (typeof bridges)[string]
    >;

    // what every guest may do: its bridge works at all
    for (const [role, b] of Object.entries(bridges))
      t.ok(await ping(b.guest, '192.0.2.2'), `${role}'s guest reaches the outside`);
    t.ok(await ping(routed3.guest, routed4.address), 'routed to routed: allowed');
    t.ok(await ping(routed4.guest, routed3.address), 'and back');

    t.notOk(await ping(nat1.guest, nat2.address, 2), 'nat1 guest does not reach nat2 guest');
    t.notOk(await ping(nat2.guest, nat1.address, 2), 'nat2 guest does not reach nat1 guest');
    t.notOk(await ping(nat1.guest, routed3.address, 2), 'nat guest does not reach a routed guest');
    t.notOk(await ping(routed3.guest, nat1.address, 2), 'routed guest does not reach a nat guest');
    t.notOk(await ping(routed4.guest, nat2.address, 2), 'nor a later nat bridge’s guest');

    await tcpEchoPeer(lab, nat1.guest, 7001);
    await tcpEchoPeer(lab, routed3.guest, 7003);
    await tcpEchoPeer(lab, routed4.guest, 7004);
    t.notOk((await tcpConnect(nat2.guest, nat1.address, 7001)).ok, 'no TCP from nat2 to nat1');
    t.notOk((await tcpConnect(nat2.guest, routed3.address, 7003)).ok, 'no TCP from nat2 to routed3');
    const routedTcp = await tcpConnect(routed3.guest, routed4.address, 7004);
    t.ok(routedTcp.ok, 'TCP from routed3 to routed4', { output: routedTcp.output });
    t.equal(routedTcp.peer, routed3.address, 'without NAT between routed bridges');

    for (const b of Object.values(bridges).reverse()) await b.brmgr.down('--force');
    t.same(await snapshot(host), before, 'post of all four leaves the host as before');
  });
}
