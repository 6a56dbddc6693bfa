/**
 * Port forwards with real listeners in the guests: reached from outside, from
 * another guest through the host's address (hairpin), from the host itself;
 * ranges, UDP, a [host.*] target by name; the bridge address's DNS port stays
 * the host's; a changed config converges and after post nothing answers; in
 * isolated mode forwards answer while the guest itself reaches nothing.
 */
import t from 'tap';
import {
  BACKENDS,
  conf,
  exec,
  ip,
  Lab,
  listening,
  snapshot,
  topology,
  waitFor,
  type Topology,
} from '../helpers/netns.js';
import { label, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const UPLINK = '192.0.2.1';
const APP = { mac: '52:54:00:00:00:60', ip: '10.0.1.60' };

/** Another guest on the bridge, with the address and MAC of [host.app]. */
async function secondGuest(topo: Topology): Promise<{ ns: string; attach: () => Promise<void> }> {
  const { lab, host, bridge } = topo;
  const ns = await lab.ns('guest');
  const nic = lab.name('g');
  const port = lab.name('p');
  await lab.veth(ns, nic, host, port);
  await ip(ns, 'link', 'set', nic, 'address', APP.mac);
  await ip(ns, 'address', 'add', `${APP.ip}/24`, 'dev', nic);
  await ip(ns, 'route', 'add', 'default', 'via', '10.0.1.1');
  return {
    ns,
    attach: async () => {
      await ip(host, 'link', 'set', port, 'master', bridge);
      await waitFor(`${port} forwarding`, async () =>
        (await exec(host, 'bridge', ['-json', 'link', 'show', 'dev', port])).stdout.includes('"forwarding"'),
      );
    },
  };
}

/** A TCP server in `ns` that answers every connection with the namespace's TCP sockets (`ss`), until the test ends. */
async function tcpServer(lab: Lab, ns: string, port: number): Promise<void> {
  lab.spawn(ns, 'busybox', ['nc', '-ll', '-p', String(port), '-e', 'ss', '-tnH']);
  await listening(ns, 'tcp', port);
}

/**
 * Connects from `ns` to addr:port. `served` is the server socket (`IP:PORT`)
 * that must have answered; `peer` is where that server saw the call come from.
 */
async function call(
  ns: string,
  addr: string,
  port: number,
  served: string,
): Promise<{ ok: boolean; peer?: string; output: string }> {
  const r = await exec(ns, 'busybox', ['nc', '-w', '3', addr, String(port)], { input: 'hello\n', timeout: 10_000 });
  // ss lines: STATE RECV-Q SEND-Q LOCAL PEER; a v6 wildcard listener shows IPv4 peers as [::ffff:A]:P
  const sockets = r.stdout.split('\n').map((l) =>
    l
      .trim()
      .split(/\s+/)
      .map((a) => a.replace(/^\[::ffff:(.*)\]/, '$1')),
  );
  const peer = sockets.find((cols) => cols[3] === served)?.[4]?.replace(/:\d+$/, '');
  return { ok: r.exitCode === 0 && !!peer, ...(peer ? { peer } : {}), output: `${r.stdout}${r.stderr}` };
}

// node's dgram: busybox nc has no UDP; the reply names the address the datagram came from
const UDP_SERVER = `const d = require('node:dgram'); const s = d.createSocket('udp4');
s.on('message', (m, r) => s.send(r.address, r.port, r.address)); s.bind(Number(process.argv[1]));`;
const UDP_CLIENT = `const d = require('node:dgram'); const s = d.createSocket('udp4');
const [addr, port] = process.argv.slice(1); setTimeout(() => process.exit(1), 3000).unref();
s.on('message', (m, r) => { console.log(r.address + ':' + r.port + ' ' + m); process.exit(0); });
s.send('hello', Number(port), addr, () => setTimeout(() => process.exit(1), 3000));`;

/** A UDP server in `ns` until the test ends, or until `stop`. */
async function udpServer(lab: Lab, ns: string, port: number): Promise<{ stop: () => Promise<unknown> }> {
  const server = lab.spawn(ns, process.execPath, ['-e', UDP_SERVER, String(port)]);
  await listening(ns, 'udp', port);
  return {
    stop: () => {
      server.kill();
      return server;
    },
  };
}

/**
 * Sends a datagram from `ns` to addr:port: `from` is where the answer came from, `peer` where
 * the server saw the datagram come from.
 */
async function udpCall(
  ns: string,
  addr: string,
  port: number,
): Promise<{ ok: boolean; from?: string; peer?: string; output: string }> {
  const r = await exec(ns, process.execPath, ['-e', UDP_CLIENT, addr, String(port)], { timeout: 10_000 });
  const [from, peer] = r.stdout.trim().split(' ');
  return {
    ok: r.exitCode === 0,
    ...(from ? { from } : {}),
    ...(peer ? { peer } : {}),
    output: `${r.stdout}${r.stderr}`,
  };
}

const FORWARDS = `
[host.app]
mac = ${APP.mac}
ip = ${APP.ip}

[forward.web]
port = 8080
to = 10.0.1.50:80

[forward.app]
port = 9090
to = app:90

[forward.range]
port = 8000-8002
to = 10.0.1.50:8000-8002

[forward.dns]
proto = udp
port = 53
to = 10.0.1.50:7001

[forward.game]
proto = udp
port = 7000
to = 10.0.1.50:7001
`;

// web moves to 8081, game is gone
const CHANGED = FORWARDS.replace('port = 8080', 'port = 8081').replace(/\[forward\.game\][^[]*$/, '');

for (const backend of why ? [] : BACKENDS) {
  t.test(
    `forwards reach the guests from outside, from other guests and from the host (${label(backend)})`,
    async (t) => {
      const lab = Lab.create(t);
      const topo = await topology(lab);
      const { host, guest, outside, brmgr } = topo;
      const app = await secondGuest(topo);
      for (const p of [80, 8000, 8001, 8002]) await tcpServer(lab, guest, p);
      await tcpServer(lab, app.ns, 90);
      await udpServer(lab, guest, 7001);

      t.notOk(
        (await call(outside, UPLINK, 8080, '10.0.1.50:80')).ok,
        'control: before pre nothing answers on the host’s 8080',
      );

      brmgr.config(conf({ firewall: backend, extra: FORWARDS }));
      await brmgr.up();
      await topo.attach();
      await app.attach();

      let r = await call(outside, UPLINK, 8080, '10.0.1.50:80');
      t.ok(r.ok, 'outside → host:8080 is answered by the guest’s port 80', { output: r.output });
      t.equal(r.peer, '192.0.2.2', 'the guest sees the outside caller’s own address');

      r = await call(app.ns, UPLINK, 8080, '10.0.1.50:80');
      t.ok(r.ok, 'another guest → host’s uplink address:8080 is answered (hairpin)', { output: r.output });
      t.equal(
        r.peer,
        '10.0.1.1',
        'the guest sees the hairpin call from the bridge address, so its answer goes back through the host',
      );

      r = await call(guest, UPLINK, 9090, `${APP.ip}:90`);
      t.ok(r.ok, 'a forward to [host.app] by name: guest → host:9090 is answered by app’s port 90', {
        output: r.output,
      });
      r = await call(outside, UPLINK, 9090, `${APP.ip}:90`);
      t.ok(r.ok, 'and outside → host:9090 too', { output: r.output });

      r = await call(host, UPLINK, 8080, '10.0.1.50:80');
      t.ok(r.ok, 'the host → its own uplink address:8080 is answered by the guest', { output: r.output });
      t.equal(r.peer, UPLINK, 'coming from the address the host called');
      r = await call(host, '10.0.1.1', 8080, '10.0.1.50:80');
      t.ok(r.ok, 'the host → its bridge address:8080 is answered by the guest', { output: r.output });

      // forwards leave the host's loopback alone: its own service on 127.0.0.1:8080 keeps answering
      lab.spawn(host, 'busybox', ['nc', '-l', '-p', '8080', '-e', 'ss', '-tnH']);
      await listening(host, 'tcp', 8080);
      r = await call(host, '127.0.0.1', 8080, '127.0.0.1:8080');
      t.ok(r.ok, 'the host → 127.0.0.1:8080 reaches the host’s own listener, not the guest', { output: r.output });

      for (const p of [8000, 8001, 8002]) {
        r = await call(outside, UPLINK, p, `10.0.1.50:${p}`);
        t.ok(r.ok, `range forward: outside → host:${p} is answered by the guest’s port ${p}`, { output: r.output });
      }

      let u = await udpCall(outside, UPLINK, 7000);
      t.ok(u.ok, 'udp: outside → host:7000 is answered by the guest’s 7001', { output: u.output });
      t.equal(u.from, `${UPLINK}:7000`, 'the answer comes from the address and port outside sent to');
      t.equal(u.peer, '192.0.2.2', 'the guest saw the outside caller’s address');
      u = await udpCall(app.ns, UPLINK, 7000);
      t.ok(u.ok, 'udp hairpin: another guest → host’s uplink address:7000 is answered', { output: u.output });
      t.equal(u.from, `${UPLINK}:7000`, 'the calling guest gets the answer from the address it called');
      t.equal(u.peer, '10.0.1.1', 'the guest saw the call from the bridge address');
      u = await udpCall(host, UPLINK, 7000);
      t.ok(u.ok, 'udp: the host → its own uplink address:7000 is answered', { output: u.output });

      // a forward of udp 53 takes the host's port 53 but leaves the bridge address's to the host's
      // own DNS server there (dnsmasq, for the guests; a stand-in listener here)
      const standIn = await udpServer(lab, host, 53);
      u = await udpCall(outside, UPLINK, 53);
      t.ok(u.ok, 'udp 53 forward: outside → host:53 is answered', { output: u.output });
      t.equal(u.peer, '192.0.2.2', 'by the guest, which saw the outside caller');
      u = await udpCall(app.ns, '10.0.1.1', 53);
      t.ok(u.ok, 'a guest → the bridge address:53 is answered', { output: u.output });
      t.equal(u.peer, APP.ip, 'by the host’s own server, not forwarded to the other guest');
      // pre refuses to run beside another server on port 53
      await standIn.stop();

      // a changed config converges: web moves to 8081, game is removed
      brmgr.config(conf({ firewall: backend, extra: CHANGED }));
      await brmgr.up();
      r = await call(outside, UPLINK, 8081, '10.0.1.50:80');
      t.ok(r.ok, 'after the change outside → host:8081 is answered by the guest’s port 80', { output: r.output });
      t.notOk((await call(outside, UPLINK, 8080, '10.0.1.50:80')).ok, 'the old 8080 forward is gone');
      t.notOk((await udpCall(outside, UPLINK, 7000)).ok, 'the removed udp forward no longer answers');
      r = await call(app.ns, UPLINK, 8081, '10.0.1.50:80');
      t.ok(r.ok, 'hairpin works on the new port', { output: r.output });
      t.ok((await call(outside, UPLINK, 9090, `${APP.ip}:90`)).ok, 'the unchanged forward still answers');

      await brmgr.down('--force');
      for (const [ns, p, served] of [
        [outside, 8081, '10.0.1.50:80'],
        [outside, 9090, `${APP.ip}:90`],
        [outside, 8001, '10.0.1.50:8001'],
        [host, 8081, '10.0.1.50:80'],
      ] as const) {
        t.notOk(
          (await call(ns, UPLINK, p, served)).ok,
          `after post nothing answers host:${p} (from ${ns === host ? 'the host' : 'outside'})`,
        );
      }
      t.notOk((await udpCall(outside, UPLINK, 7000)).ok, 'nor udp 7000');
    },
  );
}

for (const backend of why ? [] : BACKENDS) {
  t.test(
    `isolated: a forward answers outside, yet the guest still reaches nothing itself (${label(backend)})`,
    async (t) => {
      const lab = Lab.create(t);
      const topo = await topology(lab);
      const { guest, outside, brmgr } = topo;
      await tcpServer(lab, guest, 80);
      await udpServer(lab, guest, 7001);
      await tcpServer(lab, outside, 7777);

      brmgr.config(
        conf({
          firewall: backend,
          mode: 'isolated',
          extra:
            '[forward.web]\nport = 8080\nto = 10.0.1.50:80\n' +
            '[forward.game]\nproto = udp\nport = 7000\nto = 10.0.1.50:7001\n',
        }),
      );
      await brmgr.up();
      await topo.attach();

      const r = await call(outside, UPLINK, 8080, '10.0.1.50:80');
      t.ok(r.ok, 'outside → host:8080 is answered by the guest’s port 80', { output: r.output });
      t.equal(r.peer, '192.0.2.2', 'the guest sees the outside caller');
      const u = await udpCall(outside, UPLINK, 7000);
      t.ok(u.ok, 'udp: outside → host:7000 is answered by the guest’s 7001', { output: u.output });
      t.equal(u.from, `${UPLINK}:7000`, 'from the address and port outside sent to');

      t.notOk((await call(guest, '192.0.2.2', 7777, '192.0.2.2:7777')).ok, 'the guest reaches nothing outside');
      const fromPort = await exec(guest, 'busybox', ['nc', '-w', '3', '-p', '80', '192.0.2.2', '7777'], {
        input: 'hello\n',
        timeout: 10_000,
      });
      t.notMatch(fromPort.stdout, /192\.0\.2\.2:7777/, 'nor from the forwarded port');
      await brmgr.down('--force');
    },
  );
}

for (const _ of why ? [] : [1]) {
  t.test(
    'a forward onto a port the host itself listens on is refused by check and pre, unless it means to',
    async (t) => {
      const lab = Lab.create(t);
      const topo = await topology(lab);
      const { host, outside, brmgr } = topo;
      // the host's own service on every address, as sshd is
      await tcpServer(lab, host, 2222);
      const forward = (extra = '') => conf({ extra: `[forward.ssh]\nport = 2222\nto = 10.0.1.50:22\n${extra}` });
      brmgr.config(forward());
      const check = await brmgr.cli('check', brmgr.bridge);
      t.equal(check.exitCode, 2, 'check exits 2');
      t.match(
        check.output,
        /\[forward\.ssh\] tcp port 2222 is the host's own: busybox \(pid \d+\) listens on/,
        'naming the listener',
      );
      const before = await snapshot(host);
      const pre = await brmgr.pre();
      t.equal(pre.exitCode, 2, 'pre exits 2');
      t.same(await snapshot(host), before, 'and changes nothing');
      t.ok((await call(outside, UPLINK, 2222, `${UPLINK}:2222`)).ok, "outside still reaches the host's own service");
      brmgr.config(forward('shadow = true\n'));
      t.equal((await brmgr.pre()).exitCode, 0, 'shadow = true: applied, as asked');
      await brmgr.down('--force');
    },
  );
}
