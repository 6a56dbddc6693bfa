/**
 * IPv6 guests of `brmgr run`: SLAAC from router advertisements, NAT66 and
 * routed traffic to an IPv6 outside, stateful DHCPv6 leases, and AAAA
 * answers for guests' names.
 *
 * host ── bridge (fd00:b1::1/64 or 2001:db8:1::1/64) ── guests
 * host ── uplink 2001:db8:ffff::1/64 (default via ::2) ~ outside 2001:db8:ffff::2/64
 */
import t from 'tap';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BACKENDS,
  exec,
  ip,
  Lab,
  tcpConnect,
  tcpEchoPeer,
  topology,
  waitFor,
  type BackendName,
  type Topology,
} from '../helpers/netns.js';
import { dhcpv6Lease, follow, label, skipReason, udhcpcRun } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const HOST_UP6 = '2001:db8:ffff::1';
const OUTSIDE6 = '2001:db8:ffff::2';
const PORT = 5060;

interface V6Lab {
  lab: Lab;
  top: Topology;
  /** the bridge's own IPv6 address */
  gw: string;
}

/**
 * The topology with IPv6 on the uplink and in outside, and `brmgr run`
 * serving the bridge with the given [ipv6] section; the guest's port attached.
 */
async function serve(
  t: Parameters<typeof Lab.create>[0],
  o: { backend: BackendName; mode: 'nat' | 'routed'; ipv6: string },
): Promise<V6Lab> {
  const lab = Lab.create(t);
  // dnsmasq, after dropping root, re-reads its hosts files from the run dir inside the lab's folder
  chmodSync(lab.dir, 0o755);
  const top = await topology(lab);
  await ip(top.host, '-6', 'address', 'add', `${HOST_UP6}/64`, 'dev', top.uplink, 'nodad');
  await ip(top.host, '-6', 'route', 'add', 'default', 'via', OUTSIDE6);
  await ip(top.outside, '-6', 'address', 'add', `${OUTSIDE6}/64`, 'dev', top.outsideIf, 'nodad');
  top.brmgr.config(`[bridge]
mode = ${o.mode}
firewall = ${o.backend}
uplink = ${top.uplink}
[ipv4]
address = 10.0.1.1/24
range = 10.0.1.100-10.0.1.150
[ipv6]
${o.ipv6}
[dns]
domain = lab.test
; never forward out of the test's namespaces
upstream = 10.0.1.1
`);
  const proc = top.brmgr.run();
  const events = follow(proc);
  await waitFor(
    'brmgr run ready',
    async () => {
      if (proc.exitCode !== null && proc.exitCode !== undefined)
        throw new Error(`brmgr run exited ${proc.exitCode}:\n${JSON.stringify(events)}`);
      return events.some((e) => e.event === 'ready');
    },
    15_000,
  );
  await top.attach();
  const gw = /address = ([^/\s]+)/.exec(o.ipv6)![1]!;
  return { lab, top, gw };
}

interface Addr6 {
  local: string;
  prefixlen: number;
  tentative?: boolean;
  dynamic?: boolean;
}

/** Global IPv6 addresses of an interface, as the kernel reports them. */
async function global6(ns: string, dev: string): Promise<Addr6[]> {
  const raw = JSON.parse(await ip(ns, '-6', '-json', 'address', 'show', 'dev', dev, 'scope', 'global')) as {
    addr_info?: Addr6[];
  }[];
  // with a filter, ip -json lists the addresses it leaves out as empty objects
  return raw.flatMap((l) => l.addr_info ?? []).filter((a) => a.local);
}

/** Waits for a usable (not tentative) address that SLAAC configured from `prefix`. */
async function slaac(ns: string, dev: string, prefix: string): Promise<string> {
  return waitFor(
    `a SLAAC address from ${prefix}/64 on ${dev}`,
    async () =>
      (await global6(ns, dev)).find(
        (a) => a.local.startsWith(prefix) && a.prefixlen === 64 && a.dynamic && !a.tentative,
      )?.local,
    20_000,
  );
}

/** The bridge's link-local address (in host). */
async function linkLocal(ns: string, dev: string): Promise<string> {
  const raw = JSON.parse(await ip(ns, '-6', '-json', 'address', 'show', 'dev', dev, 'scope', 'link')) as {
    addr_info?: Addr6[];
  }[];
  const a = raw.flatMap((l) => l.addr_info ?? []).find((x) => x.local?.startsWith('fe80:'));
  if (!a) throw new Error(`${dev} has no link-local address`);
  return a.local;
}

/** The guest's IPv6 default route learned from router advertisements: gateway and device. */
async function raDefault(ns: string): Promise<{ gateway?: string; dev?: string } | undefined> {
  const routes = JSON.parse(await ip(ns, '-6', '-json', 'route', 'show', 'default')) as {
    gateway?: string;
    dev?: string;
    protocol?: string;
  }[];
  return routes.find((r) => r.protocol === 'ra');
}

/** A second guest on a veth into the bridge, with the given MAC from the start (SLAAC derives its address from it). */
async function guest(v: V6Lab, mac: string): Promise<{ ns: string; ifname: string }> {
  const { lab, top } = v;
  const ns = await lab.ns('g6');
  const ifname = lab.name('d');
  const port = lab.name('q');
  await lab.veth(ns, ifname, top.host, port, { master: top.bridge, up: false });
  await ip(ns, 'link', 'set', ifname, 'address', mac);
  await ip(top.host, 'link', 'set', port, 'up');
  await ip(ns, 'link', 'set', ifname, 'up');
  return { ns, ifname };
}

const dig = async (ns: string, server: string, name: string, type: string) =>
  (await exec(ns, 'dig', [`@${server}`, name, type, '+short', '+time=1', '+tries=1'])).stdout.trim();

/** An address's last group as a number: fd00:b1::1234 → 0x1234. */
const lastGroup = (a: string) => parseInt(a.split(':').at(-1)!, 16);

for (const backend of why ? [] : BACKENDS) {
  t.test(`a SLAAC guest reaches an IPv6 outside through NAT66 (${label(backend)})`, async (t) => {
    const v = await serve(t, { backend, mode: 'nat', ipv6: 'address = fd00:b1::1/64\nnat = true' });
    const { lab, top } = v;

    t.equal(
      (await exec(top.guest, 'cat', [`/proc/sys/net/ipv6/conf/${top.guestIf}/accept_ra`])).stdout.trim(),
      '1',
      'the guest accepts RAs',
    );
    const addr = await slaac(top.guest, top.guestIf, 'fd00:b1:');
    t.pass(`the guest configured ${addr} from the bridge's router advertisements`);
    const route = await waitFor('a default route from RA', () => raDefault(top.guest), 10_000);
    t.same(
      route,
      { ...route, gateway: await linkLocal(top.host, top.bridge), dev: top.guestIf },
      "the guest's default route is via the bridge's link-local address",
    );

    const ping = await exec(top.guest, 'ping', ['-6', '-n', '-c', '1', '-w', '5', OUTSIDE6]);
    t.equal(ping.exitCode, 0, 'the guest pings outside over IPv6', { output: ping.stdout + ping.stderr });

    await tcpEchoPeer(lab, top.outside, PORT);
    const c = await tcpConnect(top.guest, OUTSIDE6, PORT);
    t.ok(c.ok, 'a TCP connection from the guest reaches outside', { output: c.output });
    t.equal(c.peer, HOST_UP6, "outside sees the host's uplink address as the source (masqueraded)");
  });

  t.test(`a routed IPv6 guest reaches outside with its own address (${label(backend)})`, async (t) => {
    const v = await serve(t, { backend, mode: 'routed', ipv6: 'address = 2001:db8:1::1/64' });
    const { lab, top } = v;
    await ip(top.outside, '-6', 'route', 'add', '2001:db8:1::/64', 'via', HOST_UP6);

    const addr = await slaac(top.guest, top.guestIf, '2001:db8:1:');
    await waitFor('a default route from RA', () => raDefault(top.guest), 10_000);
    const ping = await exec(top.guest, 'ping', ['-6', '-n', '-c', '1', '-w', '5', OUTSIDE6]);
    t.equal(ping.exitCode, 0, 'the guest pings outside over IPv6', { output: ping.stdout + ping.stderr });

    await tcpEchoPeer(lab, top.outside, PORT);
    const c = await tcpConnect(top.guest, OUTSIDE6, PORT);
    t.ok(c.ok, 'a TCP connection from the guest reaches outside', { output: c.output });
    t.equal(c.peer, addr, "outside sees the guest's own address (no NAT)");
    const back = await exec(top.outside, 'ping', ['-6', '-n', '-c', '1', '-w', '5', addr]);
    t.equal(back.exitCode, 0, 'outside reaches the guest by its address', { output: back.stdout + back.stderr });
  });
}

for (const _ of why ? [] : [1]) {
  t.test('stateful DHCPv6: a guest leases an address from the range, recorded and resolvable', async (t) => {
    const v = await serve(t, {
      backend: 'nftables',
      mode: 'nat',
      ipv6: 'address = fd00:b1::1/64\ndhcp = stateful\nnat = true',
    });
    const { lab, top } = v;
    const g = await guest(v, '52:54:00:b1:00:06');
    const addr = await dhcpv6Lease(lab, g.ns, g.ifname, 'send fqdn.fqdn "dhcp6guest";\n');
    t.ok(
      addr.startsWith('fd00:b1::') && lastGroup(addr) >= 0x1000 && lastGroup(addr) <= 0xffff,
      `${addr} is inside fd00:b1::1000-fd00:b1::ffff`,
    );
    t.ok(
      (await global6(g.ns, g.ifname)).some((a) => a.local === addr),
      'the guest has the leased address',
    );
    t.notOk(
      (await global6(g.ns, g.ifname)).some((a) => a.dynamic),
      'and no SLAAC address (stateful: the prefix is not autonomous)',
    );
    const ping = await exec(g.ns, 'ping', ['-6', '-n', '-c', '1', '-w', '5', '-I', addr, v.gw]);
    t.equal(ping.exitCode, 0, 'the guest reaches the bridge from its leased address', {
      output: ping.stdout + ping.stderr,
    });

    const leases = readFileSync(join(top.brmgr.stateDir, `dnsmasq.${top.bridge}.leases`), 'utf8');
    const after = leases.split('\n').slice(leases.split('\n').findIndex((l) => l.startsWith('duid ')));
    t.ok(
      after.some((l) => l.split(' ')[2] === addr && l.split(' ')[3] === 'dhcp6guest'),
      "dnsmasq's lease file holds the DHCPv6 lease with the hostname",
      { leases },
    );

    const listed = JSON.parse((await top.brmgr.cli('leases', top.bridge, '--json')).stdout) as {
      ip: string;
      hostname?: string;
      mac?: string;
      kind: string;
    }[];
    t.same(
      listed.filter((l) => l.kind === 'dhcpv6').map((l) => [l.ip, l.hostname]),
      [[addr, 'dhcp6guest']],
      'brmgr leases lists the DHCPv6 lease',
    );
    // dnsmasq's lease names a DUID, not a MAC: the MAC is the one the bridge's neighbour table shows using it
    t.ok(
      listed.every((l) => l.mac === undefined || l.mac === '52:54:00:b1:00:06'),
      'with no MAC, or the guest’s',
      { listed },
    );
    t.equal(
      (await top.brmgr.cli('lookup', top.bridge, 'dhcp6guest')).stdout.trim(),
      addr,
      'brmgr lookup finds it by hostname',
    );

    t.equal(
      await dig(g.ns, v.gw, 'dhcp6guest.lab.test', 'AAAA'),
      addr,
      'its hostname resolves to the leased address (AAAA)',
    );
  });

  t.test('a dual-stack SLAAC guest resolves to its IPv6 address', async (t) => {
    const v = await serve(t, { backend: 'nftables', mode: 'nat', ipv6: 'address = fd00:b1::1/64\nnat = true' });
    const g = await guest(v, '52:54:00:b1:00:07');
    const addr = await slaac(g.ns, g.ifname, 'fd00:b1:');
    // the kernel's default EUI-64 interface id: what dnsmasq derives from the MAC
    t.equal(addr, 'fd00:b1::5054:ff:feb1:7', 'the SLAAC address is EUI-64 from the MAC');
    const { lease: v4, output } = await udhcpcRun(g.ns, g.ifname, { extra: ['-x', 'hostname:slaacguest'] });
    t.ok(v4, 'the guest leased an IPv4 address with its hostname', { output });

    t.equal(await dig(g.ns, v.gw, 'slaacguest.lab.test', 'A'), v4, 'the name resolves to the IPv4 lease');
    const aaaa = await waitFor(
      'an AAAA record',
      async () => (await dig(g.ns, v.gw, 'slaacguest.lab.test', 'AAAA')) || undefined,
      20_000,
    ).catch(() => '');
    t.equal(aaaa, addr, 'and to its SLAAC address (AAAA), asked over IPv6');
    t.equal(await dig(v.top.guest, '10.0.1.1', 'slaacguest.lab.test', 'AAAA'), addr, 'the same answer over IPv4');
  });
}
