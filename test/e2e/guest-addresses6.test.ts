/**
 * A guest's IPv6 addresses on a NAT bridge with [ipv6]: its SLAAC address (from brmgr's router
 * advertisements) and its DHCPv6 lease (dhclient -6) beside its IPv4 lease, as `brmgr leases`, `brmgr
 * lookup` (and `--wait`), `brmgr events` and the lease hook show them, each with its kind, learned from the
 * bridge's neighbour table once the guest uses them; never its link-local address.
 */
import t from 'tap';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Brmgr, exec, ip, Lab, must, topology, waitFor } from '../helpers/netns.js';
import { dhcpv6Lease, skipReason, udhcpc, outputLines } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const PREFIX = 'fd00:b7:';
const GW = 'fd00:b7::1';

/** `brmgr events BRIDGE --json` in the background, once it says it follows. */
async function follower(brmgr: Brmgr, bridge: string) {
  const proc = brmgr.start('brmgr.js', 'events', bridge, '--json');
  const out = outputLines(proc);
  const err = outputLines(proc, 'stderr');
  await waitFor('the follower to connect', async () => err.some((l) => l.includes('following')), 10_000);
  return { proc, events: () => out.map((l) => JSON.parse(l) as Record<string, string>) };
}

interface Addr6 {
  local: string;
  prefixlen: number;
  tentative?: boolean;
  dynamic?: boolean;
}

/** The guest's IPv6 addresses of one scope, as the kernel reports them. */
async function addresses6(ns: string, dev: string, scope: 'global' | 'link'): Promise<Addr6[]> {
  const raw = JSON.parse(await ip(ns, '-6', '-json', 'address', 'show', 'dev', dev, 'scope', scope)) as {
    addr_info?: Addr6[];
  }[];
  return raw.flatMap((l) => l.addr_info ?? []).filter((a) => a.local);
}

for (const _ of why ? [] : [1]) {
  t.test('leases, lookup and events carry the guest’s SLAAC and DHCPv6 addresses, never its link-local', async (t) => {
    const lab = Lab.create(t);
    // dnsmasq, after dropping root, reads the run dir inside the lab's folder
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const record = join(lab.dir, 'hook.log');
    const hook = lab.file('hook', `#!/bin/sh\necho "$* $BRMGR_LEASE_SOURCE $BRMGR_LEASE_KIND" >> ${record}\n`, 0o755);
    const runs = () => (existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n') : []);
    // brmgr's RAs for the prefix with the autonomous flag too: SLAAC beside DHCPv6, as dnsmasq's `slaac` mode
    const extra = lab.file('slaac.conf', `dhcp-range=${PREFIX}:,ra-only,64,1h\n`);
    top.brmgr.config(`[bridge]
firewall = nftables
uplink = ${top.uplink}
[ipv4]
address = 10.0.1.1/24
range = 10.0.1.100-10.0.1.150
[ipv6]
address = ${GW}/64
dhcp = stateful
[dns]
domain = lab.test
upstream = 10.0.1.1
[dnsmasq]
conf_file = ${extra}
[hooks]
lease = ${hook}
`);
    const run = top.brmgr.run();
    const waited = await top.brmgr.cli('wait', top.bridge, '--pid', String(run.pid));
    t.equal(waited.exitCode, 0, 'brmgr run serves', { output: waited.stderr });
    await top.attach();
    const events = await follower(top.brmgr, top.bridge);
    const mac = JSON.parse(await ip(top.guest, '-json', 'link', 'show', 'dev', top.guestIf))[0].address as string;

    // asked before the guest has used any IPv6 address
    const slaacWait = top.brmgr.cli('lookup', top.bridge, mac, '--kind', 'slaac', '--wait', '60');
    const dhcp6Wait = top.brmgr.cli('lookup', top.bridge, mac, '--kind', 'dhcpv6', '--wait', '60');

    const v4 = await udhcpc(top.guest, top.guestIf, ['-x', 'hostname:dual']);
    t.ok(v4, `the guest leased ${v4} over DHCPv4`);
    const slaac = await waitFor(
      'a SLAAC address',
      async () =>
        (await addresses6(top.guest, top.guestIf, 'global')).find(
          (a) => a.local.startsWith(PREFIX) && a.prefixlen === 64 && a.dynamic && !a.tentative,
        )?.local,
      30_000,
    );
    t.pass(`the guest took ${slaac} by SLAAC`);
    const leased6 = await dhcpv6Lease(lab, top.guest, top.guestIf);
    t.match(leased6, new RegExp(`^${PREFIX}`), `the guest leased ${leased6} over DHCPv6`);
    t.not(leased6, slaac, 'two addresses');
    const [linkLocal] = (await addresses6(top.guest, top.guestIf, 'link')).map((a) => a.local);
    t.match(linkLocal, /^fe80:/, `and its link-local ${linkLocal}`);

    // the guest uses each address (the host's neighbour table learns it); its link-local is there already
    for (const from of [slaac, leased6]) {
      const r = await exec(top.guest, 'ping', ['-6', '-c', '1', '-W', '5', '-I', from, GW]);
      t.equal(r.exitCode, 0, `the guest reaches the bridge from ${from}`, { output: r.stdout + r.stderr });
    }
    const neigh = await ip(top.host, '-6', 'neigh', 'show', 'dev', top.bridge);
    t.ok(neigh.includes(`${linkLocal} `), 'the host’s neighbour table holds the guest’s link-local too', { neigh });

    const [bySlaac, byDhcp6] = await Promise.all([slaacWait, dhcp6Wait]);
    t.equal(bySlaac.exitCode, 0, 'lookup --kind slaac --wait, asked before, answers', { output: bySlaac.stderr });
    t.equal(bySlaac.stdout.trim(), slaac, 'with the SLAAC address');
    t.equal(byDhcp6.exitCode, 0, 'lookup --kind dhcpv6 --wait answers', { output: byDhcp6.stderr });
    t.equal(byDhcp6.stdout.trim(), leased6, 'with the DHCPv6 lease');

    const lookup = (...args: string[]) => top.brmgr.cli('lookup', top.bridge, ...args);
    t.equal((await lookup(mac)).stdout.trim(), v4, 'lookup MAC: still the IPv4 lease');
    t.equal((await lookup(mac, '--wait', '5')).stdout.trim(), v4, 'and with --wait');
    t.same(
      (await lookup(mac, '--all')).stdout.trim().split('\n'),
      [`${v4} dhcp`, `${leased6} dhcpv6`, `${slaac} slaac`],
      'lookup --all: every address with its kind, no link-local',
    );
    t.same((await lookup('dual', '--all')).stdout.trim().split('\n').length, 3, 'by hostname too');
    t.equal((await lookup(slaac)).stdout.trim(), mac, 'lookup by the SLAAC address gives the MAC');
    t.equal((await lookup(leased6)).stdout.trim(), mac, 'and by the DHCPv6 address');
    const none = await lookup(linkLocal!);
    t.equal(none.exitCode, 1, 'the link-local address is no guest’s', { output: none.stdout });

    const listed = JSON.parse((await top.brmgr.cli('leases', top.bridge, '--json')).stdout) as Record<string, string>[];
    t.match(
      listed.filter((l) => l.mac === mac).sort((a, b) => a.kind!.localeCompare(b.kind!)),
      [
        { ip: v4, kind: 'dhcp', hostname: 'dual' },
        { ip: leased6, kind: 'dhcpv6', duid: /^00:/ },
        { ip: slaac, kind: 'slaac', source: 'neighbour' },
      ],
      'leases --json: the IPv4 lease, the DHCPv6 lease with the guest’s MAC, the SLAAC address',
      { listed },
    );
    t.equal(listed.filter((l) => l.mac === mac).length, 3, 'and nothing else of the guest');
    t.notOk(
      listed.some((l) => l.ip?.startsWith('fe80')),
      'no link-local address',
    );
    const text = (await top.brmgr.cli('leases', top.bridge)).stdout;
    t.match(text, new RegExp(`^${mac}\\s+${slaac}\\s+-\\s+-\\s+slaac$`, 'm'), 'leases: the SLAAC address, kind slaac');
    t.match(
      text,
      new RegExp(`^${mac}\\s+${leased6}\\s+\\S+\\s+\\S+Z\\s+dhcpv6$`, 'm'),
      'the DHCPv6 lease, kind dhcpv6',
    );
    t.match(text, new RegExp(`^${mac}\\s+${v4}\\s+dual\\s+\\S+Z\\s+dhcp$`, 'm'), 'the IPv4 lease, kind dhcp');

    const seen = (ip: string, kind: string) =>
      events.events().find((e) => e.event === 'add' && e.ip === ip && e.mac === mac && e.kind === kind);
    await waitFor('the add events', async () => seen(slaac, 'slaac') && seen(leased6, 'dhcpv6'));
    t.match(seen(slaac, 'slaac'), { reason: 'seen', source: 'neighbour' }, 'events: add of the SLAAC address');
    t.match(seen(leased6, 'dhcpv6'), { source: 'neighbour' }, 'and of the DHCPv6 address with its MAC');
    t.ok(
      events.events().some((e) => e.event === 'add' && e.ip === leased6 && e.duid && e.kind === 'dhcpv6'),
      'beside the DHCPv6 lease itself (its DUID)',
    );
    t.notOk(
      events.events().some((e) => e.ip?.startsWith('fe80')),
      'no event for the link-local address',
    );
    await waitFor('the hook runs', async () => runs().includes(`add ${mac} ${slaac} neighbour slaac`));
    t.ok(runs().includes(`add ${mac} ${leased6} neighbour dhcpv6`), 'the hook: add MAC IP, its source and kind');

    // the guest lets its SLAAC address go (and takes no other from the next RA): the host's next try fails,
    // and the address is del
    await must(top.guest, 'sysctl', ['-q', '-w', `net.ipv6.conf.${top.guestIf}.autoconf=0`]);
    await ip(top.guest, '-6', 'address', 'del', `${slaac}/64`, 'dev', top.guestIf);
    await waitFor(
      'del of the SLAAC address',
      async () => {
        await exec(top.host, 'ping', ['-6', '-c', '1', '-W', '1', slaac]);
        return events.events().some((e) => e.event === 'del' && e.ip === slaac && e.mac === mac);
      },
      60_000,
    );
    t.pass('events: del once the guest no longer answers at it');
    const after = await lookup(mac, '--kind', 'slaac');
    t.equal(after.exitCode, 1, 'lookup --kind slaac no longer finds it', { output: after.stdout });

    // SIGHUP: old for each address still known, to the hook
    run.kill('SIGHUP');
    await waitFor('old at the SIGHUP', async () => runs().includes(`old ${mac} ${leased6} neighbour dhcpv6`));
    t.pass('SIGHUP: the hook ran old for the address in the neighbour table');

    events.proc.kill('SIGINT');
    run.kill('SIGTERM');
    t.equal((await run).exitCode, 0, 'brmgr run stops');
  });
}
