/**
 * Lease events beyond brmgr's IPv4 leases: DHCPv6 leases (dhclient -6 as the guest), addresses seen on a
 * bridged-mode bridge (the LAN's DHCP server leases), and the lease hook told every lease again at a
 * SIGHUP and at `brmgr reload`, as dnsmasq tells its dhcp-script. What is asserted is what `brmgr events`
 * prints and what a hook that appends its arguments to a file wrote, against dnsmasq's own lease files.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Brmgr, exec, ip, Lab, waitFor } from '../helpers/netns.js';
import { dhcpv6Lease, follow, foreignDhcp, serving, skipReason, udhcpc, outputLines } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

/** `brmgr events BRIDGE ARGS` in the background, once it says it follows. */
async function follower(brmgr: Brmgr, bridge: string, ...args: string[]) {
  const proc = brmgr.start('brmgr.js', 'events', bridge, ...args);
  const out = outputLines(proc);
  const err = outputLines(proc, 'stderr');
  await waitFor('the follower to connect', async () => err.some((l) => l.includes('following')), 10_000);
  return { proc, out };
}

/** A hook that appends its arguments and the variables named to `record`, one run a line. */
function recordingHook(lab: Lab, vars: string[]): { hook: string; runs: () => string[] } {
  const record = join(lab.dir, 'hook.log');
  const hook = lab.file(
    'hook',
    ['#!/bin/sh', `echo "$*${vars.map((v) => ` ${v}=$${v}`).join('')}" >> ${record}`].join('\n'),
    0o755,
  );
  return { hook, runs: () => (existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n') : []) };
}

const count = (list: string[], line: string) => list.filter((l) => l === line).length;

for (const _ of why ? [] : [1]) {
  t.test(
    'DHCPv6 leases are add and del with their DUID and IAID; SIGHUP and brmgr reload tell every lease',
    async (t) => {
      const lab = Lab.create(t);
      const { hook, runs } = recordingHook(lab, ['DNSMASQ_IAID', 'DNSMASQ_SERVER_DUID', 'DNSMASQ_INTERFACE']);
      const { top, proc, log } = await serving(
        t,
        `[bridge]
firewall = none
[ipv4]
address = 10.0.1.1/24
range = 10.0.1.100-10.0.1.150
[ipv6]
address = fd00:b6::1/64
dhcp = stateful
[dns]
domain = lab.test
upstream = 10.0.1.1
[hooks]
lease = ${hook}
`,
      );
      const human = await follower(top.brmgr, top.bridge);
      const json = await follower(top.brmgr, top.bridge, '--json');

      // an IPv4 lease beside, for the SIGHUP
      const mac = JSON.parse(await ip(top.guest, '-json', 'link', 'show', 'dev', top.guestIf))[0].address as string;
      const v4 = await udhcpc(top.guest, top.guestIf, ['-x', 'hostname:g4']);
      t.ok(v4, `the guest leased ${v4} over DHCPv4`);

      const addr = await dhcpv6Lease(lab, top.guest, top.guestIf, 'send fqdn.fqdn "g6";\n');
      t.match(addr, /^fd00:b6::/, `the guest leased ${addr} over DHCPv6`);
      // what dnsmasq itself recorded: `EXPIRY IAID ADDRESS HOSTNAME DUID` after its own `duid SERVER-DUID` line
      const leaseFile = () => readFileSync(join(top.brmgr.stateDir, `dnsmasq.${top.bridge}.leases`), 'utf8');
      const [, iaid, , , duid] = await waitFor('the lease in dnsmasq’s file', async () =>
        leaseFile()
          .split('\n')
          .map((l) => l.split(' '))
          .find((f) => f[2] === addr),
      );
      const serverDuid = /^duid (\S+)$/m.exec(leaseFile())![1]!;

      await waitFor('add in the follower', async () => human.out.some((l) => l.endsWith(` add ${duid} ${addr} g6`)));
      t.pass(`brmgr events prints "TIME add ${duid} ${addr} g6": the DUID in the MAC's place, as dnsmasq`);
      // each follower reads its own stream: the JSON one may print a moment after the human one
      const jsonOf = (event: string) =>
        json.out.map((l) => JSON.parse(l)).find((e) => e.ip === addr && e.event === event);
      await waitFor('add in the JSON follower', async () => jsonOf('add') !== undefined);
      const add6 = jsonOf('add');
      t.match(
        add6,
        { event: 'add', ip: addr, hostname: 'g6', duid, iaid, reason: 'ack' },
        'the JSON carries DUID and IAID',
      );
      t.notOk('mac' in add6, 'and no MAC');

      const v6run = `add ${duid} ${addr} g6 DNSMASQ_IAID=${iaid} DNSMASQ_SERVER_DUID=${serverDuid} DNSMASQ_INTERFACE=${top.bridge}`;
      const v4run = `add ${mac} ${v4} g4 DNSMASQ_IAID= DNSMASQ_SERVER_DUID= DNSMASQ_INTERFACE=${top.bridge}`;
      await waitFor('the hook runs', async () => runs().includes(v6run) && runs().includes(v4run));
      t.pass('the hook ran as dnsmasq’s dhcp-script: EVENT DUID IP HOSTNAME, DNSMASQ_IAID, DNSMASQ_SERVER_DUID');

      // SIGHUP: old for every lease, to the hook (the followers are not told again)
      const published = human.out.length;
      const old6 = `old ${duid} ${addr} g6 DNSMASQ_IAID=${iaid} DNSMASQ_SERVER_DUID=${serverDuid} DNSMASQ_INTERFACE=${top.bridge}`;
      const old4 = `old ${mac} ${v4} g4 DNSMASQ_IAID= DNSMASQ_SERVER_DUID= DNSMASQ_INTERFACE=${top.bridge}`;
      proc.kill('SIGHUP');
      await waitFor('old for each lease', async () => count(runs(), old6) === 1 && count(runs(), old4) === 1);
      t.pass('SIGHUP: the hook ran old for the IPv4 and the DHCPv6 lease');
      const reloaded = await top.brmgr.cli('reload', top.bridge);
      t.equal(reloaded.exitCode, 0, 'brmgr reload', { output: reloaded.stderr });
      await waitFor('old again', async () => count(runs(), old6) === 2 && count(runs(), old4) === 2);
      t.pass('brmgr reload: old for each lease again');
      await sleep(500);
      t.equal(human.out.length, published, 'the followers were not told again');

      // a release: dnsmasq logs the DUID alone; the lease file says which addresses went
      const released = await exec(top.guest, 'dhclient', [
        '-6',
        '-r',
        '-cf',
        join(lab.dir, `dhclient6.${top.guestIf}.conf`),
        '-sf',
        '/bin/true',
        '-lf',
        join(lab.dir, `dhclient6.${top.guestIf}.leases`),
        '-pf',
        join(lab.dir, 'dhclient6-release.pid'),
        top.guestIf,
      ]);
      t.equal(released.exitCode, 0, 'dhclient -6 -r', { output: released.stderr });
      await waitFor('the lease gone from dnsmasq’s file', async () => !leaseFile().includes(` ${addr} `));
      await waitFor('del in the follower', async () => human.out.some((l) => l.endsWith(` del ${duid} ${addr} g6`)));
      await waitFor('del in the JSON follower', async () => jsonOf('del') !== undefined);
      t.match(jsonOf('del'), { duid, iaid, reason: 'release' }, 'a release is del, reason release');
      await waitFor('the del hook', async () =>
        runs().some((r) => r.startsWith(`del ${duid} ${addr} g6 DNSMASQ_IAID=${iaid}`)),
      );
      t.pass('and the hook ran del');
      t.notOk(
        log.some((e) => e.event === 'hook' && /failed|could not/.test(String(e.msg))),
        'no hook run failed',
      );
      for (const f of [human, json]) f.proc.kill('SIGINT');
      proc.kill('SIGTERM');
      t.equal((await proc).exitCode, 0, 'brmgr run stops');
    },
  );

  t.test('bridged mode: the addresses seen on the bridge are lease events, source snooped', async (t) => {
    const lab = Lab.create(t);
    const [host, lan] = await Promise.all([lab.ns('host'), lab.ns('lan')]);
    const uplink = lab.name('u');
    const lanIf = lab.name('l');
    const bridge = lab.name('br');
    await lab.veth(host, uplink, lan, lanIf);
    await ip(lan, 'address', 'add', '192.168.60.1/24', 'dev', lanIf);
    await foreignDhcp(lab, lan, lanIf, { range: '192.168.60.100,192.168.60.150', leases: 'lan.leases' });
    await ip(host, 'address', 'add', '192.168.60.10/24', 'dev', uplink);
    const guest = async (role: string, mac: string) => {
      const ns = await lab.ns(role);
      const ifname = lab.name('g');
      const port = lab.name('p');
      await lab.veth(ns, ifname, host, port);
      await ip(ns, 'link', 'set', ifname, 'address', mac);
      return { ns, ifname, port, mac };
    };
    const first = await guest('g1', '52:54:00:60:00:01');
    const second = await guest('g2', '52:54:00:60:00:02');
    const { hook, runs } = recordingHook(lab, ['BRMGR_LEASE_SOURCE', 'DNSMASQ_INTERFACE']);
    const brmgr = new Brmgr(lab, host, bridge);
    brmgr.config(`[bridge]\nmode = bridged\nuplink = ${uplink}\nfirewall = nftables\n[hooks]\nlease = ${hook}\n`);
    t.equal((await brmgr.up()).exitCode, 0, 'pre');

    // the first guest leases before brmgr run starts: told at its start, as dnsmasq tells its leases
    await ip(host, 'link', 'set', first.port, 'master', bridge);
    const lease1 = await udhcpc(first.ns, first.ifname);
    t.match(lease1, /^192\.168\.60\.\d+$/, 'the first guest leases from the LAN');
    const run = brmgr.run();
    const events = follow(run);
    await waitFor('brmgr run ready', async () => events.some((e) => e.event === 'ready'));
    const tail = `BRMGR_LEASE_SOURCE=snooped DNSMASQ_INTERFACE=${bridge}`;
    await waitFor('old for the first guest', async () => runs().includes(`old ${first.mac} ${lease1} ${tail}`));
    t.pass('the hook ran old for the address seen before brmgr run started');

    const human = await follower(brmgr, bridge);
    const json = await follower(brmgr, bridge, '--json');
    await ip(host, 'link', 'set', second.port, 'master', bridge);
    const lease2 = await udhcpc(second.ns, second.ifname);
    t.match(lease2, /^192\.168\.60\.\d+$/, 'the second guest leases from the LAN');
    await waitFor('add in the follower', async () => human.out.some((l) => l.endsWith(` add ${second.mac} ${lease2}`)));
    t.pass(`brmgr events prints "TIME add ${second.mac} ${lease2}"`);
    // each follower is its own connection: the JSON one may print a moment later
    const inJson = () => json.out.map((l) => JSON.parse(l)).find((e) => e.ip === lease2);
    await waitFor('add in the JSON follower', async () => !!inJson()).catch(() => undefined);
    t.match(
      inJson(),
      { event: 'add', mac: second.mac, ip: lease2, reason: 'seen', source: 'snooped' },
      'source snooped in the JSON',
    );
    await waitFor('the add hook', async () => runs().includes(`add ${second.mac} ${lease2} ${tail}`));
    t.pass('the hook ran add with BRMGR_LEASE_SOURCE=snooped');

    // a renewal: the LAN's server acknowledges the same address again, a few seconds later
    await sleep(4_000);
    t.equal(await udhcpc(second.ns, second.ifname), lease2, 'the second guest renews its address');
    await waitFor('old in the follower', async () => human.out.some((l) => l.endsWith(` old ${second.mac} ${lease2}`)));
    t.pass('a renewal seen on the bridge is old');

    const before = runs().filter((r) => r.startsWith('old ')).length;
    run.kill('SIGHUP');
    await waitFor(
      'old for both at the SIGHUP',
      async () =>
        count(runs(), `old ${first.mac} ${lease1} ${tail}`) === 2 &&
        count(runs(), `old ${second.mac} ${lease2} ${tail}`) === 2,
    );
    t.ok(runs().filter((r) => r.startsWith('old ')).length >= before + 2, 'SIGHUP: the hook ran old for both guests');

    for (const f of [human, json]) f.proc.kill('SIGINT');
    run.kill('SIGTERM');
    t.equal((await run).exitCode, 0, 'brmgr run stops');
    for (const g of [first, second]) await ip(host, 'link', 'set', g.port, 'nomaster');
    await brmgr.down();
    t.equal((await exec(host, 'nft', ['list', 'tables'])).stdout.trim(), '', 'post removes brmgr’s bridge table');
  });
}
