/**
 * Bridged mode: the LAN's own DHCP server (and router advertisements) give
 * the guests their addresses, and brmgr still finds them by MAC: lookup,
 * leases and brmgr run's log, for a guest that booted before the question and
 * one that boots after, over IPv4 and IPv6 (SLAAC).
 */
import t from 'tap';
import { Brmgr, exec, ip, Lab, must, ping, snapshot, waitFor } from '../helpers/netns.js';
import { follow, foreignDhcp, skipReason, udhcpc } from '../helpers/e2e.js';

const why = skipReason();

t.test('bridged: guests leased by the LAN are found by MAC', { skip: why, timeout: 90_000 }, async (t) => {
  const lab = Lab.create(t);
  const [host, lan] = await Promise.all([lab.ns('host'), lab.ns('lan')]);
  const uplink = lab.name('u');
  const lanIf = lab.name('l');
  const bridge = lab.name('br');

  // the LAN: a gateway with its own DHCP server and router advertisements
  await lab.veth(host, uplink, lan, lanIf);
  await ip(lan, 'address', 'add', '192.168.50.1/24', 'dev', lanIf);
  await ip(lan, 'address', 'add', '2001:db8:50::1/64', 'dev', lanIf, 'nodad');
  await foreignDhcp(lab, lan, lanIf, {
    range: '192.168.50.100,192.168.50.150',
    ra6: '2001:db8:50::',
    leases: 'lan.leases',
  });
  await ip(host, 'address', 'add', '192.168.50.10/24', 'dev', uplink);
  // the host's own IPv6 would follow the LAN's RAs whenever they come; the guests' is what is looked at
  await must(host, 'sysctl', ['-q', '-w', `net.ipv6.conf.${uplink}.accept_ra=0`]);

  const guest = async (role: string, mac: string) => {
    const ns = await lab.ns(role);
    const ifname = lab.name('g');
    const port = lab.name('p');
    await lab.veth(ns, ifname, host, port);
    await ip(ns, 'link', 'set', ifname, 'address', mac);
    // a SLAAC guest: takes the LAN's prefix from its router advertisements
    await must(ns, 'sysctl', ['-q', '-w', `net.ipv6.conf.${ifname}.accept_ra=2`]);
    return { ns, ifname, port, mac };
  };
  const first = await guest('g1', '52:54:00:50:00:01');
  const second = await guest('g2', '52:54:00:50:00:02');
  const before = await snapshot(host);

  const brmgr = new Brmgr(lab, host, bridge);
  brmgr.config(`[bridge]\nmode = bridged\nuplink = ${uplink}\nfirewall = nftables\n`);
  await brmgr.up();

  // the first guest boots before anyone asks
  await ip(host, 'link', 'set', first.port, 'master', bridge);
  const lease1 = await udhcpc(first.ns, first.ifname);
  t.match(lease1, /^192\.168\.50\.\d+$/, 'the first guest leases from the LAN');
  const run = brmgr.run();
  const events = follow(run);
  await waitFor('brmgr run ready', async () => events.some((e) => e.event === 'ready'));
  t.equal(
    (await brmgr.cli('lookup', bridge, first.mac)).stdout.trim(),
    lease1,
    'lookup finds a guest that leased before the question',
  );
  await waitFor('the first guest logged', async () =>
    events.some((e) => e.event === 'lease-seen' && e.mac === first.mac && e.ip === lease1),
  );
  t.pass('brmgr run logs the address it saw (lease-seen)');

  // the second asks before it boots
  const early = brmgr.cli('lookup', bridge, second.mac, '--wait', '30');
  await ip(host, 'link', 'set', second.port, 'master', bridge);
  const lease2 = await udhcpc(second.ns, second.ifname);
  t.match(lease2, /^192\.168\.50\.\d+$/, 'the second guest leases from the LAN');
  const found = await early;
  t.equal(found.exitCode, 0, 'lookup --wait started before it booted succeeds');
  t.equal(found.stdout.trim(), lease2, 'with its address');
  t.equal((await brmgr.cli('lookup', bridge, lease2!)).stdout.trim(), second.mac, 'lookup by IP gives the MAC');
  t.equal((await brmgr.cli('lookup', bridge, '52:54:00:50:00:77')).exitCode, 1, 'an unknown guest is not found');

  // IPv6: SLAAC, no DHCP at all; the guest's address shows when it talks
  const v6 = await waitFor(
    'the SLAAC address',
    async () => {
      const r = JSON.parse(
        await ip(first.ns, '-6', '-json', 'address', 'show', 'dev', first.ifname, 'scope', 'global'),
      );
      return (r[0]?.addr_info?.[0]?.local as string | undefined) ?? false;
    },
    15_000,
  );
  t.ok(await ping(first.ns, '2001:db8:50::1'), 'the guest reaches the LAN over IPv6');
  const leases = JSON.parse((await brmgr.cli('leases', bridge, '--json')).stdout) as {
    mac: string;
    ip: string;
    source?: string;
  }[];
  t.ok(
    leases.some((l) => l.mac === first.mac && l.ip === lease1 && l.source === 'snooped'),
    'leases --json lists the first guest’s IPv4 address as snooped',
    { leases },
  );
  t.ok(
    leases.some((l) => l.mac === second.mac && l.ip === lease2 && l.source === 'snooped'),
    'and the second’s',
  );
  t.ok(
    leases.some((l) => l.mac === first.mac && l.ip === v6 && l.source === 'snooped'),
    'and the SLAAC address',
    { v6 },
  );
  t.equal((await brmgr.cli('lookup', bridge, v6)).stdout.trim(), first.mac, 'lookup by IPv6 address gives the MAC');
  t.notOk(
    leases.some((l) => l.ip === '192.168.50.1' || l.ip === '2001:db8:50::1'),
    'the LAN’s own router is no guest',
  );

  // the bridge table deleted by hand (a flush of the ruleset): brmgr run puts it back
  await must(host, 'nft', ['delete', 'table', 'bridge', `brmgr-${bridge}`]);
  await waitFor(
    'the bridge table back',
    async () => (await exec(host, 'nft', ['list', 'table', 'bridge', `brmgr-${bridge}`])).exitCode === 0,
    5_000,
  );
  await waitFor('brmgr run to say why', async () =>
    events.some((e) => e.event === 'firewall' && String(e.drift).includes(`bridge brmgr-${bridge} is gone`)),
  );
  t.pass('brmgr run puts the bridge table back and says why');

  run.kill('SIGTERM');
  t.equal((await run).exitCode, 0, 'brmgr run stops cleanly');
  for (const g of [first, second]) await ip(host, 'link', 'set', g.port, 'nomaster');
  await brmgr.down();
  t.same((await exec(host, 'nft', ['list', 'tables'])).stdout.trim(), '', 'post removes brmgr’s bridge table');
  t.same(await snapshot(host), before, 'post leaves the host as it was');
});
