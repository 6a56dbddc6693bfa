/**
 * mode = bridged: the host's LAN interface is enslaved into the bridge with
 * its addresses and routes, guests get their leases from the LAN's own DHCP,
 * and post gives the uplink back exactly as it was.
 */
import t from 'tap';
import { join } from 'node:path';
import { BACKENDS, Brmgr, exec, ip, Lab, ping, snapshot, waitFor } from '../helpers/netns.js';
import { follow, foreignDhcp, label, skipReason, udhcpcRun } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

interface RawAddr {
  ifname: string;
  address: string;
  master?: string;
  addr_info?: { local: string; prefixlen: number; scope: string }[];
}

const linkInfo = async (ns: string, dev: string) =>
  (JSON.parse(await ip(ns, '-json', 'address', 'show', 'dev', dev)) as RawAddr[])[0]!;
const globalAddrs = (l: RawAddr) =>
  (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
const routesVia = async (ns: string, family: '-4' | '-6', dev: string) =>
  (
    JSON.parse(await ip(ns, family, '-json', 'route', 'show', 'table', 'all', 'dev', dev)) as {
      dst: string;
      gateway?: string;
      protocol?: string;
      metric?: number;
      table?: string;
    }[]
  )
    .filter((r) => r.protocol !== 'kernel' && r.table !== 'local' && !r.dst.startsWith('f'))
    .map(
      (r) =>
        `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} proto ${r.protocol} metric ${r.metric ?? 0}` +
        `${r.table && r.table !== 'main' ? ` table ${r.table}` : ''}`,
    )
    .sort();

for (const backend of why ? [] : BACKENDS) {
  t.test(`bridged: the uplink's addresses and routes move to the bridge and back (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const [host, lan, guest] = await Promise.all([lab.ns('host'), lab.ns('lan'), lab.ns('guest')]);
    const uplink = lab.name('u');
    const lanIf = lab.name('l');
    const port = lab.name('p');
    const guestIf = lab.name('g');
    const bridge = lab.name('br');

    // the LAN: a gateway with its own DHCP server
    await lab.veth(host, uplink, lan, lanIf);
    await ip(lan, 'address', 'add', '192.168.50.1/24', 'dev', lanIf);
    await ip(lan, 'address', 'add', '2001:db8:50::1/64', 'dev', lanIf, 'nodad');
    await foreignDhcp(lab, lan, lanIf, { range: '192.168.50.100,192.168.50.150', leases: 'lan.leases' });
    // the host's LAN configuration, as a network manager leaves it
    await ip(host, 'address', 'add', '192.168.50.10/24', 'dev', uplink);
    await ip(host, 'address', 'add', '192.168.50.11/24', 'dev', uplink);
    await ip(host, 'address', 'add', '2001:db8:50::10/64', 'dev', uplink, 'nodad');
    await ip(host, 'route', 'add', 'default', 'via', '192.168.50.1', 'metric', '100', 'proto', 'static');
    await ip(host, 'route', 'add', '10.99.0.0/16', 'via', '192.168.50.2', 'table', '7');
    await ip(host, '-6', 'route', 'add', 'default', 'via', '2001:db8:50::1');
    await lab.veth(guest, guestIf, host, port);

    const routes4 = await routesVia(host, '-4', uplink);
    const routes6 = await routesVia(host, '-6', uplink);
    t.equal(routes4.length, 2, 'control: the uplink has its routes');
    const uplinkMac = (await linkInfo(host, uplink)).address;
    t.ok(await ping(lan, '192.168.50.10'), 'before: the LAN reaches the host');
    const before = await snapshot(host);

    const brmgr = new Brmgr(lab, host, bridge);
    brmgr.config(`[bridge]\nmode = bridged\nuplink = ${uplink}\nfirewall = ${backend}\n`);
    await brmgr.up();

    const br = await linkInfo(host, bridge);
    t.equal((await linkInfo(host, uplink)).master, bridge, 'the uplink is a port of the bridge');
    t.same(globalAddrs(await linkInfo(host, uplink)), [], 'and has no address left');
    t.same(
      globalAddrs(br).sort(),
      ['192.168.50.10/24', '192.168.50.11/24', '2001:db8:50::10/64'],
      'the bridge has the uplink’s addresses',
    );
    t.equal(br.address, uplinkMac, 'and its MAC: the host keeps its identity on the LAN');
    t.same(await routesVia(host, '-4', bridge), routes4, 'the IPv4 routes (metric, protocol, table) are on the bridge');
    t.same(await routesVia(host, '-6', bridge), routes6, 'and the IPv6 ones');
    t.ok(await ping(lan, '192.168.50.10'), 'during: the LAN reaches the host');
    t.ok(await ping(lan, '192.168.50.11'), 'on its second address too');
    t.ok(await ping(lan, '2001:db8:50::10'), 'and over IPv6');

    await ip(host, 'link', 'set', port, 'master', bridge);
    const { lease, output } = await udhcpcRun(guest, guestIf, { tries: 5 });
    t.match(lease, /^192\.168\.50\.1([0-4]\d|50)$/, 'a guest gets its lease from the LAN’s DHCP', { output });
    await ip(guest, 'address', 'add', `${lease}/24`, 'dev', guestIf);
    t.ok(await ping(guest, '192.168.50.1'), 'the guest reaches the LAN’s gateway');
    t.ok(await ping(guest, '192.168.50.10'), 'and the host');

    // brmgr run serves nothing here (the LAN does) and still holds the bridge up
    const run = brmgr.run();
    const events = follow(run);
    await waitFor('brmgr run to be ready', async () => events.some((e) => e.event === 'ready'));
    t.match(
      String(events.find((e) => e.event === 'ready')?.msg),
      /nothing to serve/,
      'it says it has nothing to serve',
    );
    t.notOk(
      (await exec(host, 'pgrep', ['-f', join(brmgr.runDir, bridge, 'dnsmasq.conf')])).stdout.trim(),
      'and runs no dnsmasq',
    );
    run.kill('SIGTERM');
    t.equal((await run).exitCode, 0, 'brmgr run without anything to serve stops cleanly');
    t.equal((await linkInfo(host, uplink)).master, bridge, 'run left the uplink in the bridge');

    await ip(host, 'link', 'set', port, 'nomaster');
    await brmgr.down();
    t.ok(await ping(lan, '192.168.50.10'), 'after: the LAN reaches the host');
    t.same(await snapshot(host), before, 'post restores the uplink exactly: links, addresses, routes, firewall');
  });
}

t.test('bridged: refused configs say why', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const host = await lab.ns('host');
  const brmgr = new Brmgr(lab, host, lab.name('br'));
  brmgr.config('[bridge]\nmode = bridged\nuplink = nosuchif0\n');
  const missing = await brmgr.pre();
  t.equal(missing.exitCode, 2, 'a missing uplink is a usage error');
  t.match(missing.stderr, /uplink nosuchif0 does not exist/);
  brmgr.config('[bridge]\nmode = bridged\nuplink = eth9\n[ipv4]\naddress = 10.0.1.1/24\n');
  const addr = await brmgr.pre();
  t.equal(addr.exitCode, 2);
  t.match(addr.stderr, /\[ipv4\] address: mode = bridged: the bridge takes the uplink’s addresses/);
  t.same(JSON.parse(await ip(host, '-json', 'link', 'show')).length, 1, 'nothing was created');
});
