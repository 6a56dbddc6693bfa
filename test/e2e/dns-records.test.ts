/**
 * What guests of `brmgr run` are answered and told from [dns] records, a
 * static host's own DHCP options and `[ipv4] gateway = false`: dig's answers
 * for each record type and the wildcard; the DNS servers and boot file one
 * guest's DHCP client is handed, and another's not; a guest of a network
 * without a gateway gets an address and no default route.
 *
 * host ── bridge 10.0.1.1/24 ── guests
 */
import t from 'tap';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, ip, Lab, ping, topology, type Topology } from '../helpers/netns.js';
import { dnsmasqReady, follow, skipReason, udhcpc } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

/** A guest namespace on a veth into the bridge with `mac`, without addresses or routes. */
async function guest(top: Topology, mac: string): Promise<{ ns: string; ifname: string }> {
  const ns = await top.lab.ns('rg');
  const ifname = top.lab.name('r');
  await top.lab.veth(ns, ifname, top.host, top.lab.name('s'), { master: top.bridge });
  await ip(ns, 'link', 'set', ifname, 'address', mac);
  return { ns, ifname };
}

/**
 * busybox udhcpc asking for DNS servers and the boot file; its script sets the address and, like
 * busybox's own script, a default route via each router it was told. The environment it saw on `bound`.
 */
async function lease(lab: Lab, ns: string, ifname: string): Promise<Record<string, string>> {
  const out = join(lab.dir, `env.${ifname}`);
  const script = lab.file(
    `udhcpc-${ifname}.sh`,
    `#!/bin/sh
[ "$1" = bound ] || exit 0
env > ${out}
ip address add "$ip/$mask" dev "$interface"
for r in $router; do ip route add default via "$r" dev "$interface"; done
exit 0
`,
    0o755,
  );
  const got = await udhcpc(ns, ifname, ['-O', 'dns', '-O', 'bootfile', '-O', 'staticroutes'], script);
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

const dig = async (ns: string, name: string, type: string) =>
  (await exec(ns, 'dig', ['@10.0.1.1', name, type, '+short', '+time=2', '+tries=2'])).stdout.trim();
const digStatus = async (ns: string, name: string, type: string) =>
  /status: (\w+)/.exec((await exec(ns, 'dig', ['@10.0.1.1', name, type, '+time=2', '+tries=2'])).stdout)?.[1];

for (const _ of why ? [] : [1]) {
  t.test(
    'dig answers cname, srv, txt, mx and the wildcard; one guest gets its own DNS servers and boot file',
    async (t) => {
      const lab = Lab.create(t);
      chmodSync(lab.dir, 0o755);
      const top = await topology(lab);
      top.brmgr.config(`[bridge]
firewall = nftables
[ipv4]
address = 10.0.1.1/24
[dns]
domain = lab.test
upstream = 192.0.2.2
cname = www:web, alias.example.:www
srv = _http._tcp:web:80, _etcd-server._tcp:web:2380:10:5
txt = info:hello world
mx = lab.test.:mail:10
wildcard = apps:10.0.1.50, apps:fd42::50
[host.web]
mac = 52:54:00:00:00:10
ip = 10.0.1.10
dns = 192.0.2.53, 192.0.2.54
boot_file = web.efi
[host.mail]
mac = 52:54:00:00:00:11
ip = 10.0.1.11
[pxe]
boot_file = pxelinux.0
next_server = 10.0.1.1
`);
      await dnsmasqReady(follow(top.brmgr.run()));
      await top.attach();

      t.equal(
        await dig(top.guest, 'www.lab.test', 'A'),
        'web.lab.test.\n10.0.1.10',
        'CNAME www → web, and its address',
      );
      t.equal(
        await dig(top.guest, 'alias.example', 'A'),
        'www.lab.test.\nweb.lab.test.\n10.0.1.10',
        'a name that ends in a dot is absolute; a chain of CNAMEs',
      );
      t.equal(
        (await dig(top.guest, '_http._tcp.lab.test', 'SRV')) +
          (await dig(top.guest, '_etcd-server._tcp.lab.test', 'SRV')),
        '0 0 80 web.lab.test.10 5 2380 web.lab.test.',
        'SRV: priority, weight, port and target',
      );
      t.equal(await dig(top.guest, 'info.lab.test', 'TXT'), '"hello world"', 'TXT');
      t.equal(await dig(top.guest, 'lab.test', 'MX'), '10 mail.lab.test.', 'MX');
      t.equal(await dig(top.guest, 'apps.lab.test', 'A'), '10.0.1.50', 'the wildcard domain itself');
      t.equal(await dig(top.guest, 'console.apps.lab.test', 'A'), '10.0.1.50', 'a name under it');
      t.equal(await dig(top.guest, 'oauth.console.apps.lab.test', 'A'), '10.0.1.50', 'a name two labels under it');
      t.equal(await dig(top.guest, 'console.apps.lab.test', 'AAAA'), 'fd42::50', 'and its IPv6 address');
      t.equal(await digStatus(top.guest, 'nothing.lab.test', 'A'), 'NXDOMAIN', 'control: other names of the domain');

      const web = await guest(top, '52:54:00:00:00:10');
      const webEnv = await lease(lab, web.ns, web.ifname);
      t.equal(webEnv.ip, '10.0.1.10', 'the static host leases its address');
      t.equal(webEnv.dns, '192.0.2.53 192.0.2.54', 'option 6: its own DNS servers');
      t.equal(webEnv.bootfile, 'web.efi', "its own boot file, not [pxe]'s");
      t.equal(webEnv.siaddr, '10.0.1.1', 'from the next server');
      const mail = await guest(top, '52:54:00:00:00:11');
      const mailEnv = await lease(lab, mail.ns, mail.ifname);
      t.equal(mailEnv.ip, '10.0.1.11', 'another static host');
      t.equal(mailEnv.dns, '10.0.1.1', 'is told the bridge as its DNS server');
      t.equal(mailEnv.bootfile, 'pxelinux.0', "and [pxe]'s boot file");
      const other = await guest(top, '52:54:00:00:00:77');
      const otherEnv = await lease(lab, other.ns, other.ifname);
      t.equal(otherEnv.dns, '10.0.1.1', 'a dynamic guest too');
      t.equal(otherEnv.router, '10.0.1.1', 'control: the bridge is the gateway on this network');
    },
  );

  t.test('gateway = false: a guest gets an address and no default route', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    top.brmgr.config(`[bridge]
firewall = nftables
[ipv4]
address = 10.0.1.1/24
gateway = false
routes = 203.0.113.0/24 via 10.0.1.5
`);
    await dnsmasqReady(follow(top.brmgr.run()));
    await top.attach();
    const g = await guest(top, '52:54:00:00:00:31');
    const env = await lease(lab, g.ns, g.ifname);
    t.ok(env.ip?.startsWith('10.0.1.'), `the guest leases ${env.ip}`);
    t.equal(env.router, undefined, 'no router option');
    t.equal(env.staticroutes, '203.0.113.0/24 10.0.1.5', 'the classless routes carry no default route');
    const routes = JSON.parse(await ip(g.ns, '-json', 'route', 'show')) as { dst: string }[];
    t.notOk(
      routes.some((r) => r.dst === 'default'),
      'no default route in the guest',
      { routes },
    );
    t.ok(await ping(g.ns, '10.0.1.1'), 'and the bridge is reachable on the link');
  });
}
