/**
 * `[ipv4] nat_address` and IPv6 port forwards with real traffic, in both
 * firewall backends: the outside sees a guest's connection come from the
 * chosen uplink address (and pre refuses one the uplink does not have); an
 * outside IPv6 client reaches a guest's service through the host's IPv6
 * address, another guest reaches it through hairpin, and an IPv4 forward of
 * the same host port still reaches its own guest.
 *
 * host ── bridge 10.0.1.1/24, fd42:0:1::1/64 ── guest 10.0.1.50, fd42:0:1::10; app fd42:0:1::11
 * host ── uplink 192.0.2.1/24, 2001:db8:2::1/64 ~ outside 192.0.2.2/24, 2001:db8:2::2/64 (no route back)
 */
import t from 'tap';
import {
  BACKENDS,
  conf,
  exec,
  ip,
  Lab,
  listening,
  tcpConnect,
  tcpEchoPeer,
  topology,
  waitFor,
} from '../helpers/netns.js';
import { label, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const UPLINK6 = '2001:db8:2::1';
const GUEST6 = 'fd42:0:1::10';

/** A TCP server in `ns` answering every connection with the namespace's TCP sockets (`ss`). */
async function tcpServer(lab: Lab, ns: string, port: number): Promise<void> {
  lab.spawn(ns, 'busybox', ['nc', '-ll', '-p', String(port), '-e', 'ss', '-tnH']);
  await listening(ns, 'tcp', port);
}

const bare = (a: string) =>
  a
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '')
    .replace(/^::ffff:/, '');

/** Connects from `ns` to addr:port; `peer` is where the server socket `served` (ADDR:PORT) saw the call come from. */
async function call(ns: string, addr: string, port: number, served: string) {
  const r = await exec(ns, 'busybox', ['nc', '-w', '3', addr, String(port)], { input: 'hello\n', timeout: 10_000 });
  const row = r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => cols[3] && `${bare(cols[3])}:${/:(\d+)$/.exec(cols[3])?.[1]}` === served);
  const peer = row?.[4] ? bare(row[4]) : undefined;
  return { ok: r.exitCode === 0 && !!peer, ...(peer ? { peer } : {}), output: `${r.stdout}${r.stderr}` };
}

for (const backend of why ? [] : BACKENDS) {
  t.test(`nat_address: the outside sees the guests from the chosen uplink address (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, guest, outside, uplink, brmgr } = topo;
    await ip(host, 'address', 'add', '192.0.2.10/24', 'dev', uplink);

    const natConf = (to: string) =>
      `[bridge]\nfirewall = ${backend}\nuplink = ${uplink}\n[ipv4]\naddress = 10.0.1.1/24\nnat_address = ${to}\n`;
    brmgr.config(natConf('192.0.2.99'));
    const check = await brmgr.cli('check', topo.bridge);
    t.equal(check.exitCode, 2, 'check refuses an address the uplink does not have', { output: check.output });
    t.match(check.output, `[ipv4] nat_address 192.0.2.99 is not an address of the uplink ${uplink}`, 'naming the key');
    t.match(check.output, 'it has 192.0.2.1, 192.0.2.10', 'and names the addresses it has');
    const refused = await brmgr.pre();
    t.equal(refused.exitCode, 2, 'so does pre', { output: refused.output });
    t.notOk((await exec(host, 'ip', ['link', 'show', topo.bridge])).exitCode === 0, 'before creating anything');

    brmgr.config(natConf('192.0.2.10'));
    t.equal((await brmgr.up()).exitCode, 0, 'pre with an address of the uplink');
    await topo.attach();
    await tcpEchoPeer(lab, outside, 8080);
    const tcp = await tcpConnect(guest, '192.0.2.2', 8080);
    t.ok(tcp.ok, 'the guest reaches the outside', { output: tcp.output });
    t.equal(tcp.peer, '192.0.2.10', 'which sees it come from nat_address, not the uplink’s first address');
  });

  t.test(`IPv6 forwards: from outside and through hairpin (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, guest, outside, uplink, outsideIf, guestIf, brmgr } = topo;
    await ip(host, 'address', 'add', `${UPLINK6}/64`, 'dev', uplink, 'nodad');
    await ip(outside, 'address', 'add', '2001:db8:2::2/64', 'dev', outsideIf, 'nodad');
    await ip(guest, 'address', 'add', `${GUEST6}/64`, 'dev', guestIf, 'nodad');
    await ip(guest, '-6', 'route', 'add', 'default', 'via', 'fd42:0:1::1');
    // another guest, for hairpin
    const app = await lab.ns('app');
    const appIf = lab.name('a');
    const appPort = lab.name('q');
    await lab.veth(app, appIf, host, appPort);
    await ip(app, 'address', 'add', 'fd42:0:1::11/64', 'dev', appIf, 'nodad');
    await ip(app, '-6', 'route', 'add', 'default', 'via', 'fd42:0:1::1');
    for (const p of [80, 81]) await tcpServer(lab, guest, p);

    t.notOk((await call(outside, UPLINK6, 8080, `${GUEST6}:80`)).ok, 'control: before pre nothing answers');
    brmgr.config(
      conf({
        firewall: backend,
        extra: `[ipv6]
address = fd42:0:1::1/64
[forward.web6]
port = 8080
to = [${GUEST6}]:80
[forward.web4]
port = 8080
to = 10.0.1.50:81
`,
      }),
    );
    t.equal((await brmgr.up()).exitCode, 0, 'pre');
    await topo.attach();
    await ip(host, 'link', 'set', appPort, 'master', topo.bridge);
    await waitFor(
      'the guests reach the bridge over IPv6',
      async () =>
        (await exec(app, 'ping', ['-6', '-c', '1', '-w', '1', 'fd42:0:1::1'])).exitCode === 0 &&
        (await exec(guest, 'ping', ['-6', '-c', '1', '-w', '1', 'fd42:0:1::1'])).exitCode === 0,
    );

    let r = await call(outside, UPLINK6, 8080, `${GUEST6}:80`);
    t.ok(r.ok, `outside → [${UPLINK6}]:8080 is answered by the guest’s port 80`, { output: r.output });
    t.equal(r.peer, '2001:db8:2::2', 'which sees the outside caller’s own address');
    r = await call(outside, '192.0.2.1', 8080, '10.0.1.50:81');
    t.ok(r.ok, 'the IPv4 forward of the same port reaches its own guest port', { output: r.output });
    r = await call(app, UPLINK6, 8080, `${GUEST6}:80`);
    t.ok(r.ok, `another guest → [${UPLINK6}]:8080 is answered (hairpin)`, { output: r.output });
    t.equal(r.peer, 'fd42:0:1::1', 'from the bridge address, so the answer goes back through the host');

    await brmgr.down('--force');
    t.notOk((await call(outside, UPLINK6, 8080, `${GUEST6}:80`)).ok, 'after post nothing answers');
  });
}
