/**
 * isolated and routed modes with real traffic between the guest, the host
 * and the outside namespace.
 */
import t from 'tap';
import {
  BACKENDS,
  conf,
  ip,
  Lab,
  must,
  ping,
  snapshot,
  sysctl,
  tcpConnect,
  tcpEchoPeer,
  topology,
} from '../helpers/netns.js';
import { label, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

for (const backend of why ? [] : BACKENDS) {
  t.test(`isolated: the guest reaches the host, not the outside (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, guest, outside, brmgr } = topo;
    // the host forwards for other reasons: the isolation must come from brmgr's rules, not from ip_forward=0
    await must(host, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    await ip(outside, 'route', 'add', '10.0.1.0/24', 'via', '192.0.2.1');
    const before = await snapshot(host);

    brmgr.config(conf({ firewall: backend, mode: 'isolated' }));
    await brmgr.up();
    await topo.attach();

    t.ok(await ping(guest, '10.0.1.1'), 'the guest reaches the bridge address');
    await tcpEchoPeer(lab, host, 8080);
    const tcp = await tcpConnect(guest, '10.0.1.1', 8080);
    t.ok(tcp.ok, 'and a TCP service of the host on it', { output: tcp.output });
    t.notOk(await ping(guest, '192.0.2.2', 2), 'the guest does not reach outside');
    await tcpEchoPeer(lab, outside, 8081);
    t.notOk((await tcpConnect(guest, '192.0.2.2', 8081)).ok, 'not over TCP either');
    t.notOk(await ping(outside, '10.0.1.50', 2), 'outside, with a route to the guests, does not reach the guest');

    await brmgr.down('--force');
    t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '1', 'post leaves the host’s own ip_forward=1 alone');
    t.same(await snapshot(host), before, 'post leaves the namespace as before');

    // control: with the same bridge and no brmgr rules the host forwards, so the isolation above was brmgr's doing
    await ip(host, 'link', 'add', topo.bridge, 'type', 'bridge');
    await ip(host, 'address', 'add', '10.0.1.1/24', 'dev', topo.bridge);
    await ip(host, 'link', 'set', topo.bridge, 'up');
    await topo.attach();
    t.ok(await ping(outside, '10.0.1.50'), 'control: without brmgr’s rules outside reaches the guest');
  });

  t.test(`routed: both ways without NAT (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, guest, outside, brmgr } = topo;
    await ip(outside, 'route', 'add', '10.0.1.0/24', 'via', '192.0.2.1');
    const before = await snapshot(host);
    t.notOk(await ping(outside, '10.0.1.50', 1), 'control: before pre outside does not reach the guest');

    brmgr.config(conf({ firewall: backend, mode: 'routed' }));
    await brmgr.up();
    await topo.attach();
    t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '1', 'ip_forward is on');

    t.ok(await ping(outside, '10.0.1.50'), 'outside reaches the guest');
    await tcpEchoPeer(lab, guest, 8080);
    const inbound = await tcpConnect(outside, '10.0.1.50', 8080);
    t.ok(inbound.ok, 'a TCP connection from outside to the guest succeeds', { output: inbound.output });
    t.equal(inbound.peer, '192.0.2.2', 'the guest sees outside’s real address');

    t.ok(await ping(guest, '192.0.2.2'), 'the guest reaches outside');
    await tcpEchoPeer(lab, outside, 8081);
    const outbound = await tcpConnect(guest, '192.0.2.2', 8081);
    t.ok(outbound.ok, 'a TCP connection from the guest to outside succeeds', { output: outbound.output });
    t.equal(outbound.peer, '10.0.1.50', 'outside sees the guest’s real address (no NAT)');

    await brmgr.down('--force');
    t.same(await snapshot(host), before, 'post leaves the namespace as before');
  });
}
