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
  listening,
  must,
  ping,
  snapshot,
  sysctl,
  tcpConnect,
  tcpEchoPeer,
  topology,
  waitFor,
} from '../helpers/netns.js';
import { label, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

/** echoes what one client sends, for as long as it stays connected */
const ECHO = `import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("", int(sys.argv[1]))); l.listen()
c, _ = l.accept()
while d := c.recv(100): c.sendall(d)`;
/** one connection held open: each word read from stdin is sent, and what became of it printed */
const HOLD = `import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); s.settimeout(2)
for w in map(str.strip, sys.stdin):
    try: s.sendall(w.encode()); print(w, "echoed" if s.recv(100).decode() == w else "garbled", flush=True)
    except OSError as e: print(w, "lost", type(e).__name__, flush=True)`;

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

  t.test(`a NAT bridge made isolated cuts its guest's connection out (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, guest, outside, brmgr } = topo;
    // as above: the cut must come from brmgr's rules, not from ip_forward=0; and another tool's NAT chain (Docker
    // has one) keeps NAT'd connections tracked when brmgr's NAT goes (the kernel forgets them with a family's last)
    await must(host, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    await must(host, 'nft', [
      'add table ip other; add chain ip other post { type nat hook postrouting priority 100; }',
    ]);
    brmgr.config(conf({ firewall: backend }));
    await brmgr.up();
    await topo.attach();
    lab.spawn(outside, 'python3', ['-c', ECHO, '8082']);
    await listening(outside, 'tcp', 8082);
    const held = lab.spawn(guest, 'python3', ['-c', HOLD, '192.0.2.2', '8082'], { stdin: 'pipe' });
    let said = '';
    held.stdout?.on('data', (d: Buffer) => {
      said += d.toString();
    });
    const send = (word: string) => {
      held.stdin?.write(`${word}\n`);
      return waitFor(`${word} sent`, async () => new RegExp(`^${word} (.*)$`, 'm').exec(said)?.[1]);
    };
    t.equal(await send('first'), 'echoed', 'the connection works');
    await brmgr.up();
    t.equal(await send('again'), 'echoed', 'control: it outlives pre run again with the same config');
    brmgr.config(conf({ firewall: backend, mode: 'isolated' }));
    await brmgr.up();
    t.match(await send('isolated'), /^lost/, 'made isolated, the bridge lets none of its packets by');
    await brmgr.down('--force');
  });
}
