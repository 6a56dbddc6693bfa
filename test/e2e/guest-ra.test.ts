/**
 * A guest sending router advertisements onto the bridge (a rogue or a
 * misconfigured one) never gives the host a route or an address: the bridge
 * ignores RAs. Another guest on the same bridge, which does listen, proves
 * the advertisements were sent.
 *
 * host ── bridge ── guest   (advertises fd66:6::/64 with dnsmasq)
 *               └── listener (accepts RAs, as any guest does)
 */
import t from 'tap';
import { conf, exec, ip, Lab, sysctl, topology, waitFor } from '../helpers/netns.js';
import { skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const cases: { name: string; config: string; kept?: true }[] = [
  { name: 'nat, no [ipv6]', config: conf() },
  // the systemd stop path: brmgr run stopped, then brmgr-post keeps the bridge its guests are plugged into
  {
    name: 'a bridge brmgr-post kept for its guests',
    config: conf({ extra: '[ipv6]\naddress = fd00:b2::1/64\n' }),
    kept: true,
  },
  // isolated: IPv6 forwarding stays off, where the kernel would otherwise act on RAs
  {
    name: 'isolated with [ipv6]',
    config: conf({ mode: 'isolated', extra: '[ipv6]\naddress = fd00:b1::1/64\nra = false\n' }),
  },
];

for (const c of why ? [] : cases) {
  t.test(`a guest's router advertisement does not configure the host (${c.name})`, async (t) => {
    const lab = Lab.create(t);
    const top = await topology(lab);
    const { host, guest, bridge, brmgr } = top;
    // port security would stop the advertisements at the guest's port: here the host itself must ignore them
    brmgr.config(c.config.replace('[bridge]\n', '[bridge]\nport_security = off\n'));
    const pre = await brmgr.pre();
    t.equal(pre.exitCode, 0, 'pre', { output: pre.output });
    await top.attach();
    if (c.kept) {
      const post = await brmgr.post();
      t.match(post.output, /kept bridge/, 'post keeps the bridge', { output: post.output });
    }
    t.equal(await sysctl(host, `net.ipv6.conf.${bridge}.accept_ra`), '0', 'the bridge ignores router advertisements');

    const listener = await lab.ns('listener');
    await lab.veth(listener, 'nic', host, lab.name('l'), { master: bridge });

    await ip(guest, '-6', 'address', 'add', 'fd66:6::2/64', 'dev', top.guestIf, 'nodad');
    lab.spawn(guest, 'dnsmasq', [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--port=0',
      '--user=root',
      `--interface=${top.guestIf}`,
      '--enable-ra',
      '--dhcp-range=fd66:6::,ra-only',
      `--pid-file=${lab.dir}/rogue.pid`,
      `--dhcp-leasefile=${lab.dir}/rogue.leases`,
    ]);
    const learned = await waitFor(
      'the listening guest learns the advertised default route',
      async () => {
        const r = await exec(listener, 'ip', ['-6', '-json', 'route', 'show', 'default']);
        return (JSON.parse(r.stdout || '[]') as unknown[]).length > 0;
      },
      15_000,
    );
    t.ok(learned, 'the advertisements reach the bridge');

    t.same(
      JSON.parse(await ip(host, '-6', '-json', 'route', 'show', 'default')),
      [],
      'the host has no IPv6 default route via the guest',
    );
    const onBridge = JSON.parse(await ip(host, '-6', '-json', 'route', 'show', 'dev', bridge)) as { dst: string }[];
    t.notOk(
      onBridge.some((r) => r.dst.startsWith('fd66:6:')),
      'nor a route to the advertised prefix',
      { routes: onBridge },
    );
    const addrs = JSON.parse(await ip(host, '-6', '-json', 'address', 'show', 'dev', bridge)) as {
      addr_info: { local: string }[];
    }[];
    t.notOk(
      addrs.flatMap((l) => l.addr_info).some((a) => a.local.startsWith('fd66:6:')),
      'nor an address from it',
    );

    t.equal((await brmgr.post('--force')).exitCode, 0, 'post');
  });
}
