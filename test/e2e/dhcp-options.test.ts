/**
 * What guests of `brmgr run` are told and served beyond an address: the MTU
 * (DHCP and router advertisements), classless static routes, NTP servers, a
 * static host's lease time, the boot file and its bytes over TFTP (from the
 * bridge only, through a host firewall that drops input), PTR answers for the
 * bridge's subnets that never reach the upstream, and a fixed DHCPv6 address.
 *
 * host ── bridge 11.0.1.1/24, 2a0b:1:1::1/64 ── guests
 * host ── uplink 192.0.2.1/24 ~ outside 192.0.2.2/24 (the upstream DNS server, logging every query)
 */
import t from 'tap';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, ip, Lab, listening, must, ping, topology, waitFor, type Topology } from '../helpers/netns.js';
import { dhcpv6Lease, dnsmasqReady, follow, skipReason, udhcpc } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const STATIC_MAC = '52:54:00:00:00:10';
// blocks of 512 bytes: a transfer of several needs the guest's acknowledgements to reach the server
const BOOT_BYTES = Array.from({ length: 120 }, (_, i) => `line ${i} of the boot file\n`).join('');

/** A guest namespace on a veth into the bridge with `mac`, brought up after it is a port (so it solicits an RA). */
async function guest(top: Topology, mac: string): Promise<{ ns: string; ifname: string }> {
  const ns = await top.lab.ns('dg');
  const ifname = top.lab.name('d');
  const port = top.lab.name('q');
  await top.lab.veth(ns, ifname, top.host, port, { master: top.bridge, up: false });
  await ip(ns, 'link', 'set', ifname, 'address', mac);
  await ip(top.host, 'link', 'set', port, 'up');
  await ip(ns, 'link', 'set', ifname, 'up');
  return { ns, ifname };
}

/** busybox udhcpc asking for the options under test; the environment its script saw on `bound`. */
async function lease(lab: Lab, ns: string, ifname: string): Promise<Record<string, string>> {
  const out = join(lab.dir, `env.${ifname}`);
  const script = lab.file(`udhcpc-${ifname}.sh`, `#!/bin/sh\n[ "$1" = bound ] && env > ${out}\nexit 0\n`, 0o755);
  const options = ['mtu', 'staticroutes', 'msstaticroutes', 'ntpsrv', 'bootfile'].flatMap((o) => ['-O', o]);
  const got = await udhcpc(ns, ifname, options, script);
  let text = '';
  try {
    text = readFileSync(out, 'utf8');
  } catch {
    throw new Error(`no lease on ${ifname} (${got ?? 'none'})`);
  }
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** busybox tftp from `ns`: the bytes fetched (undefined when nothing came) and what tftp said. */
async function tftp(lab: Lab, ns: string, server: string, file: string): Promise<{ bytes?: string; output: string }> {
  const local = join(lab.dir, `fetched-${ns}-${server}`);
  const r = await exec(ns, 'busybox', ['tftp', '-g', '-r', file, '-l', local, server], { timeout: 8_000 });
  const output = `exit ${r.exitCode}: ${r.stdout}${r.stderr}`;
  if (r.exitCode !== 0) return { output };
  try {
    return { bytes: readFileSync(local, 'utf8'), output };
  } catch {
    return { output };
  }
}

const digFull = async (ns: string, server: string, ...args: string[]) =>
  (await exec(ns, 'dig', [`@${server}`, ...args, '+time=2', '+tries=1'])).stdout;
const status = (out: string) => /status: (\w+)/.exec(out)?.[1];

for (const _ of why ? [] : [1]) {
  t.test('guests are told MTU, routes, NTP and boot file; TFTP from the bridge only; PTR stays local', async (t) => {
    const lab = Lab.create(t);
    // dnsmasq, after dropping root, reads the run dir and the TFTP root inside the lab's folder
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab, { guestAddress: '11.0.1.50/24', gateway: '11.0.1.1' });
    lab.file('tftp/boot.txt', BOOT_BYTES, 0o644);
    chmodSync(join(lab.dir, 'tftp'), 0o755);

    // the upstream: answers example.org and logs every query it gets
    const upstreamLog = join(lab.dir, 'upstream.log');
    lab.spawn(top.outside, 'dnsmasq', [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--bind-interfaces',
      '--listen-address=192.0.2.2',
      '--no-resolv',
      '--no-hosts',
      '--address=/example.org/192.0.2.99',
      '--log-queries',
      `--log-facility=${upstreamLog}`,
      `--pid-file=${join(lab.dir, 'upstream.pid')}`,
      '--user=root',
    ]);
    await listening(top.outside, 'udp', 53);
    const upstreamQueries = () => {
      try {
        return readFileSync(upstreamLog, 'utf8');
      } catch {
        return '';
      }
    };

    // a host firewall that drops input by default: brmgr must let TFTP and its transfers through
    await must(top.host, 'iptables', ['-P', 'INPUT', 'DROP']);
    // as such a host does for its own traffic: the upstream's answers come back in
    const replies = ['-i', top.uplink, '-m', 'conntrack', '--ctstate', 'ESTABLISHED', '-j', 'ACCEPT'];
    await must(top.host, 'iptables', ['-A', 'INPUT', ...replies]);
    top.brmgr.config(`[bridge]
firewall = nftables
mtu = 1400
[ipv4]
address = 11.0.1.1/24
range = 11.0.1.100-11.0.1.119, 11.0.1.200-11.0.1.219
routes = 203.0.113.0/24 via 11.0.1.5
ntp = self, 192.0.2.123
[ipv6]
address = 2a0b:1:1::1/64
[dns]
domain = lab.test
upstream = 192.0.2.2
[host.web]
mac = ${STATIC_MAC}
ip = 11.0.1.10
lease_time = 2h
[pxe]
tftp_root = ${join(lab.dir, 'tftp')}
boot_file = boot.txt
`);
    const proc = top.brmgr.run();
    const events = follow(proc);
    await dnsmasqReady(events);
    await top.attach();

    // DHCP options as the guest's client hands them to its script
    const g = await guest(top, '52:54:00:aa:00:01');
    const env = await lease(lab, g.ns, g.ifname);
    const last = Number(env.ip?.split('.')[3]);
    t.ok(
      env.ip?.startsWith('11.0.1.') && ((last >= 100 && last <= 119) || (last >= 200 && last <= 219)),
      `${env.ip} is inside one of the ranges`,
    );
    t.equal(env.mtu, '1400', 'option 26: the bridge MTU');
    t.equal(env.staticroutes, '0.0.0.0/0 11.0.1.1 203.0.113.0/24 11.0.1.5', 'option 121: the default route and ours');
    t.equal(env.msstaticroutes, env.staticroutes, 'option 249: the same routes');
    t.equal(env.ntpsrv, '11.0.1.1 192.0.2.123', 'option 42: self is the bridge address');
    t.equal(env.bootfile, 'boot.txt', 'the boot file');
    t.equal(env.siaddr, '11.0.1.1', 'next server: the bridge');
    t.equal(env.lease, '3600', 'a dynamic guest: [ipv4] lease_time');
    const web = await guest(top, STATIC_MAC);
    const webEnv = await lease(lab, web.ns, web.ifname);
    t.equal(webEnv.ip, '11.0.1.10', 'the static host gets its address');
    t.equal(webEnv.lease, '7200', 'with its own lease time');

    // the MTU in router advertisements: the guest's IPv6 MTU follows
    await waitFor(
      'the RA MTU on the guest',
      async () =>
        (await exec(g.ns, 'cat', [`/proc/sys/net/ipv6/conf/${g.ifname}/mtu`])).stdout.trim() === '1400' || undefined,
      20_000,
    );
    t.pass("the guest's IPv6 MTU is 1400 from the router advertisement (its link is 1500)");

    // TFTP: the guest (11.0.1.50) fetches the file's bytes, several blocks, through the host's INPUT DROP
    const fetched = await tftp(lab, top.guest, '11.0.1.1', 'boot.txt');
    t.ok(fetched.bytes === BOOT_BYTES, 'the guest fetches the boot file over TFTP', { output: fetched.output });
    const above = await tftp(lab, top.guest, '11.0.1.1', '../upstream.pid');
    t.equal(above.bytes, undefined, 'nothing above the TFTP root', { output: above.output });

    // from the uplink side nothing is served, even with the host's firewall out of the way
    await must(top.host, 'iptables', ['-P', 'INPUT', 'ACCEPT']);
    await must(top.outside, 'ip', ['route', 'add', '11.0.1.0/24', 'via', '192.0.2.1']);
    t.ok(await ping(top.outside, '11.0.1.1'), 'control: outside reaches the bridge address');
    t.equal((await tftp(lab, top.outside, '192.0.2.1', 'boot.txt')).bytes, undefined, 'no TFTP on the uplink address');
    t.equal(
      (await tftp(lab, top.outside, '11.0.1.1', 'boot.txt')).bytes,
      undefined,
      'no TFTP on the bridge address to a request from the uplink',
    );
    await must(top.outside, 'ip', ['route', 'del', '11.0.1.0/24']);
    await must(top.host, 'iptables', ['-P', 'INPUT', 'DROP']);

    const doctor = await top.brmgr.cli('doctor', top.bridge);
    t.match(doctor.output, /dnsmasq \d+ serves [^\n]*udp\/69/, 'doctor sees dnsmasq serving TFTP too', {
      output: doctor.output,
    });

    // the host's own questions to dnsmasq are dropped by that firewall: no reason to replace it
    await new Promise((r) => setTimeout(r, 3500));
    t.notOk(
      events.some((e) => e.event === 'unresponsive'),
      'the health probe does not take a dropped question for a hung dnsmasq',
    );

    // PTR for the bridge's subnets: answered here, never forwarded; outside them, forwarded as usual
    const ptr = await digFull(top.guest, '11.0.1.1', '-x', '11.0.1.10');
    t.match(ptr, /PTR\s+web\.lab\.test\.$/m, 'a static host’s address has its name');
    const unknown4 = await digFull(top.guest, '11.0.1.1', '-x', '11.0.1.77');
    t.equal(status(unknown4), 'NXDOMAIN', 'an unleased IPv4 address of the subnet: NXDOMAIN', { unknown4 });
    const unknown6 = await digFull(top.guest, '11.0.1.1', '-x', '2a0b:1:1::77');
    t.equal(status(unknown6), 'NXDOMAIN', 'an unknown IPv6 address of the subnet: NXDOMAIN', { unknown6 });
    t.equal(
      (await digFull(top.guest, '11.0.1.1', 'example.org', 'A', '+short')).trim(),
      '192.0.2.99',
      'control: other names are forwarded to the upstream',
    );
    await digFull(top.guest, '11.0.1.1', '-x', '11.0.2.77');
    await digFull(top.guest, '11.0.1.1', '-x', '2a0b:1:2::77');
    await waitFor('the upstream logs the control queries', async () =>
      upstreamQueries().includes('2.0.11.in-addr.arpa'),
    );
    await waitFor('the upstream logs the IPv6 control query', async () =>
      upstreamQueries().includes('2.0.0.0.1.0.0.0.b.0.a.2.ip6.arpa'),
    );
    const log = upstreamQueries();
    t.ok(log.includes('example.org'), 'control: the upstream logged the forwarded name');
    t.notOk(log.includes('1.0.11.in-addr.arpa'), 'the upstream never saw a PTR query of the IPv4 subnet', { log });
    t.notOk(log.includes('1.0.0.0.1.0.0.0.b.0.a.2.ip6.arpa'), 'the upstream never saw a PTR query of the IPv6 subnet', {
      log,
    });
  });

  t.test('a static host gets its fixed DHCPv6 address', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    top.brmgr.config(`[bridge]
firewall = nftables
[ipv4]
address = 10.0.1.1/24
[ipv6]
address = fd00:b2::1/64
dhcp = stateful
[dns]
domain = lab.test
upstream = 10.0.1.1
[host.v6]
mac = 52:54:00:b2:00:07
ip = 10.0.1.17
ip6 = fd00:b2::77
`);
    const proc = top.brmgr.run();
    const events = follow(proc);
    await dnsmasqReady(events);
    await top.attach();
    t.equal(
      (await digFull(top.guest, '10.0.1.1', 'v6.lab.test', 'AAAA', '+short')).trim(),
      'fd00:b2::77',
      'its name resolves to the fixed address before it leases',
    );
    const g = await guest(top, '52:54:00:b2:00:07');
    const addr = await dhcpv6Lease(lab, g.ns, g.ifname);
    t.equal(addr, 'fd00:b2::77', 'the [host.v6] ip6, outside the dynamic ::1000-::ffff');
  });

  t.test('a TFTP root dnsmasq cannot enter is refused by check and pre, before any change', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const root = join(lab.dir, 'tftp');
    lab.file('tftp/boot.txt', 'x', 0o644);
    chmodSync(root, 0o700);
    top.brmgr.config(`[bridge]\nfirewall = nftables\n[pxe]\ntftp_root = ${root}\nboot_file = boot.txt\n`);
    const check = await top.brmgr.cli('check', top.bridge);
    t.equal(check.exitCode, 2, 'check exits 2', { output: check.output });
    t.match(check.output, `[pxe] tftp_root ${root}: dnsmasq serves TFTP as`, 'and names the folder');
    t.match(check.output, `cannot enter ${root} (mode 700)`, 'and what is wrong with it');
    const pre = await top.brmgr.pre();
    t.equal(pre.exitCode, 2, 'pre refuses it too', { output: pre.output });
    t.notOk((await exec(top.host, 'ip', ['link', 'show', top.bridge])).exitCode === 0, 'and creates no bridge');
    chmodSync(root, 0o755);
    const fixed = await top.brmgr.cli('check', top.bridge);
    t.equal(fixed.exitCode, 0, 'control: once dnsmasq may enter it, check passes', { output: fixed.output });
  });
}
