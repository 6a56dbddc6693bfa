/**
 * IPv6 on the bridge: the address usable at once, the bridge's own
 * autoconfiguration off, and a host that learns its default route from
 * router advertisements keeps it when brmgr turns IPv6 forwarding on.
 * Without [ipv6] the bridge has no IPv6 at all, and [ipv6] can come and go.
 */
import t from 'tap';
import { join } from 'node:path';
import {
  BACKENDS,
  addresses,
  conf,
  exec,
  ip,
  Lab,
  must,
  snapshot,
  sysctl,
  topology,
  waitFor,
} from '../helpers/netns.js';
import { iptablesBrmgr, label, nftTable, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const raDefaultRoute = async (ns: string, dev: string) => {
  const routes = JSON.parse(await ip(ns, '-6', '-json', 'route', 'show', 'default', 'dev', dev)) as {
    protocol?: string;
  }[];
  return routes.some((r) => r.protocol === 'ra');
};

for (const backend of why ? [] : BACKENDS) {
  t.test(`IPv6 address and sysctls, RA-learned route kept, all restored by post (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, guest, outside, bridge, guestIf, uplink, outsideIf, brmgr } = topo;

    // outside is an IPv6 router: its advertisements give the host a default route on the uplink
    await ip(outside, '-6', 'address', 'add', '2001:db8:1::2/64', 'dev', outsideIf, 'nodad');
    const router = () =>
      lab.spawn(outside, 'dnsmasq', [
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        '--port=0',
        '--enable-ra',
        '--dhcp-range=2001:db8:1::,ra-only,64',
        `--interface=${outsideIf}`,
        '--bind-interfaces',
        `--pid-file=${join(lab.dir, 'ra.pid')}`,
        `--dhcp-leasefile=${join(lab.dir, 'ra.leases')}`,
        '--user=root',
        '--log-facility=-',
      ]);
    let ra = router();
    await waitFor('a default route from router advertisements', () => raDefaultRoute(host, uplink), 15_000);

    // control: turning forwarding on while accept_ra=1 drops the RA-learned default route,
    // so the check after pre can fail
    await must(host, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
    t.notOk(await raDefaultRoute(host, uplink), 'control: forwarding=1 with accept_ra=1 purges the RA default route');
    await must(host, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.forwarding=0']);
    ra.kill();
    await ra;
    ra = router(); // a restarted router advertises at once
    await waitFor('the default route to be learned again', () => raDefaultRoute(host, uplink), 15_000);

    t.equal(await sysctl(host, `net.ipv6.conf.${uplink}.accept_ra`), '1', 'the uplink accepts RAs (accept_ra=1)');
    await ip(guest, '-6', 'address', 'add', 'fd42:0:1::50/64', 'dev', guestIf, 'nodad');
    const before = await snapshot(host);

    brmgr.config(conf({ firewall: backend, extra: '[ipv6]\naddress = fd42:0:1::1/64\n' }));
    const r = await brmgr.pre();
    t.equal(r.exitCode, 0, 'pre exits 0', { output: r.output });

    const mine = (await addresses(host)).find((a) => a.ifname === bridge && a.local === 'fd42:0:1::1');
    t.ok(mine, 'the bridge has fd42:0:1::1');
    t.equal(mine?.prefixlen, 64, 'with prefix /64');
    t.notOk(mine?.tentative, 'not tentative: usable at once');
    t.notOk(mine?.dadfailed, 'no failed DAD');
    t.equal(await sysctl(host, `net.ipv6.conf.${bridge}.accept_dad`), '0', 'accept_dad=0 on the bridge');
    t.equal(await sysctl(host, `net.ipv6.conf.${bridge}.autoconf`), '0', 'autoconf=0 on the bridge');
    t.equal(await sysctl(host, 'net.ipv6.conf.all.forwarding'), '1', 'IPv6 forwarding is on');
    t.equal(await sysctl(host, `net.ipv6.conf.${uplink}.accept_ra`), '2', 'the uplink’s accept_ra=1 became 2');
    t.ok(
      await raDefaultRoute(host, uplink),
      'the RA-learned default route survived forwarding=1 (accept_ra=2 was set first)',
    );
    if (backend === 'nftables')
      t.match(await nftTable(host, bridge), /ip6 saddr fd42:0:1::\/64/, 'the nft table has the IPv6 subnet');
    else
      t.ok(
        (await iptablesBrmgr(host, bridge)).some((l) => l.includes('fd42:0:1::/64')),
        'ip6tables has the IPv6 subnet',
      );

    await topo.attach();
    const ping6 = await exec(guest, 'ping', ['-6', '-n', '-c', '1', '-w', '3', 'fd42:0:1::1']);
    t.equal(ping6.exitCode, 0, 'the guest reaches the bridge over IPv6', { output: ping6.stdout + ping6.stderr });
    const stillMine = (await addresses(host)).find((a) => a.ifname === bridge && a.local === 'fd42:0:1::1');
    t.notOk(stillMine?.tentative, 'still not tentative with a carrier');
    await ip(host, 'link', 'set', topo.port, 'nomaster');

    const down = await brmgr.post();
    t.equal(down.exitCode, 0, 'post exits 0', { output: down.output });
    t.equal(await sysctl(host, 'net.ipv6.conf.all.forwarding'), '0', 'IPv6 forwarding is off again');
    t.equal(await sysctl(host, `net.ipv6.conf.${uplink}.accept_ra`), '1', 'the uplink’s accept_ra is 1 again');
    t.same(await snapshot(host), before, 'post leaves the namespace as before pre');
  });
}

t.test('without [ipv6] the bridge has no IPv6; adding and removing [ipv6] converges', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, guest, bridge, guestIf, brmgr } = topo;
  const ipv6Of = async () =>
    (await addresses(host)).filter((a) => a.ifname === bridge && a.family === 'inet6').map((a) => a.local);

  brmgr.config(conf());
  t.equal((await brmgr.pre()).exitCode, 0, 'pre, IPv4 only');
  await topo.attach();
  t.equal(await sysctl(host, `net.ipv6.conf.${bridge}.disable_ipv6`), '1', 'IPv6 is disabled on the bridge');
  t.same(await ipv6Of(), [], 'not even a link-local address guests could reach the host on');

  brmgr.config(conf({ extra: '[ipv6]\naddress = fd42:0:1::1/64\n' }));
  const up6 = await brmgr.pre();
  t.equal(up6.exitCode, 0, 'pre with [ipv6] added', { output: up6.output });
  t.equal(await sysctl(host, `net.ipv6.conf.${bridge}.disable_ipv6`), '0', 'IPv6 is enabled again');
  t.ok((await ipv6Of()).includes('fd42:0:1::1'), 'the bridge has its IPv6 address');
  await ip(guest, '-6', 'address', 'add', 'fd42:0:1::50/64', 'dev', guestIf, 'nodad');
  const ping6 = await exec(guest, 'ping', ['-6', '-n', '-c', '1', '-w', '3', 'fd42:0:1::1']);
  t.equal(ping6.exitCode, 0, 'a guest reaches it', { output: ping6.stdout + ping6.stderr });

  brmgr.config(conf());
  t.equal((await brmgr.pre()).exitCode, 0, 'pre with [ipv6] removed');
  t.same(await ipv6Of(), [], 'no IPv6 on the bridge again');
  t.equal((await brmgr.post('--force')).exitCode, 0, 'post');
});

t.test(
  'a host whose new links start with IPv6 disabled (default.disable_ipv6=1) still gets the IPv6 address',
  { skip: why },
  async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, bridge, brmgr } = topo;
    await must(host, 'sysctl', ['-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    const before = await snapshot(host);
    brmgr.config(conf({ extra: '[ipv6]\naddress = fd42:0:1::1/64\n' }));
    const up = await brmgr.pre();
    t.equal(up.exitCode, 0, 'pre with [ipv6] succeeds', { output: up.output });
    t.ok(
      (await addresses(host)).some((a) => a.ifname === bridge && a.local === 'fd42:0:1::1'),
      'the bridge has its IPv6 address',
    );
    t.equal((await brmgr.post()).exitCode, 0, 'post');
    t.same(await snapshot(host), before, 'and the namespace is as before');
  },
);
