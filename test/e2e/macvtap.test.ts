/**
 * mode = macvtap: guests are macvtap devices on the host's uplink, straight on the LAN, which leases
 * them their addresses (a dnsmasq in a "LAN" namespace behind the uplink veth). Each guest is a macvtap
 * `brmgr tap add` made, moved into a namespace of its own (it then works as the guest's interface).
 * brmgr finds their addresses (lookup, leases, events, doctor), the host reaches them through
 * host_access's macvlan and not without it, and down leaves the host's links as they were.
 */
import { chmodSync, existsSync, statSync } from 'node:fs';
import t from 'tap';
import { Brmgr, exec, ip, Lab, must, ping, snapshot, type TestLike, waitFor } from '../helpers/netns.js';
import { follow, foreignDhcp, skipReason, udhcpc } from '../helpers/e2e.js';
import { guestImage, guestArgs, QEMU } from '../helpers/qemu-guest.js';
import { shimName } from '../../src/plan/macvtap.js';

const why = skipReason();

const LAN_ROUTER = '192.168.60.1';
const HOST = '192.168.60.10';

/** The host, with its uplink on a LAN that has its own DHCP server; the uplink computes checksums as a NIC does. */
async function lanLab(t: TestLike) {
  const lab = Lab.create(t);
  // brmgr run's dnsmasq account passes through it (it serves nothing here, but is told where its files are)
  chmodSync(lab.dir, 0o755);
  const [host, lan] = await Promise.all([lab.ns('host'), lab.ns('lan')]);
  const uplink = lab.name('u');
  const lanIf = lab.name('l');
  await lab.veth(host, uplink, lan, lanIf);
  await must(host, 'ethtool', ['-K', uplink, 'tx', 'off']);
  // and what the LAN sends arrives checksummed, as from a wire
  await must(lan, 'ethtool', ['-K', lanIf, 'tx', 'off']);
  await ip(lan, 'address', 'add', `${LAN_ROUTER}/24`, 'dev', lanIf);
  await foreignDhcp(lab, lan, lanIf, { range: '192.168.60.100,192.168.60.150', leases: 'lan.leases' });
  await ip(host, 'address', 'add', `${HOST}/24`, 'dev', uplink);
  await must(host, 'sysctl', ['-q', '-w', `net.ipv6.conf.${uplink}.accept_ra=0`]);
  const net = lab.name('mv');
  const brmgr = new Brmgr(lab, host, net);
  // a DHCP client script that puts the lease on the interface
  const script = lab.file(
    'udhcpc.sh',
    '#!/bin/sh\n[ "$1" = bound ] && ip address add "$ip/$mask" dev "$interface"\nexit 0\n',
    0o755,
  );
  return { lab, host, lan, uplink, lanIf, net, brmgr, script };
}

type LanLab = Awaited<ReturnType<typeof lanLab>>;

/** `brmgr tap add` a macvtap, then moves it into a namespace of its own, up: the guest's interface. */
async function guest(l: LanLab, role: string, mac: string, owner?: string) {
  const tap = l.lab.name('mt');
  const added = await l.brmgr.cli('tap', 'add', l.net, tap, '--mac', mac, ...(owner ? ['--owner', owner] : []));
  if (added.exitCode !== 0) throw new Error(`tap add: ${added.output}`);
  const device = added.stdout.trim();
  const sysfs = (await must(l.host, 'sh', ['-c', `cat /sys/class/net/${tap}/macvtap/tap*/dev`])).trim();
  const node = statSync(device);
  // what a VMM running as that user does: open the device read-write
  const opens = async (uid: number) =>
    (
      await exec(l.host, 'setpriv', [
        `--reuid=${uid}`,
        `--regid=${uid}`,
        '--clear-groups',
        'sh',
        '-c',
        `exec 3<>${device}`,
      ])
    ).exitCode === 0;
  const opened = { owner: await opens(65534), other: await opens(65533) };
  const ns = await l.lab.ns(role);
  await ip(l.host, 'link', 'set', tap, 'netns', ns);
  await ip(ns, 'link', 'set', tap, 'up');
  return { tap, mac, ns, device, sysfs, node, opened };
}

const rdev = (st: { rdev: number }) => `${(st.rdev >> 8) & 0xfff}:${(st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)}`;

t.test(
  'macvtap: guests leased by the LAN, found by brmgr, reached by the host',
  { skip: why, timeout: 120_000 },
  async (t) => {
    const l = await lanLab(t);
    const { host, lan, net, brmgr } = l;
    const before = await snapshot(host);
    brmgr.config(`[bridge]\nmode = macvtap\nuplink = ${l.uplink}\n`);
    const run = brmgr.run();
    const log = follow(run);
    const waited = await brmgr.cli('wait', net, '--pid', String(run.pid));
    t.equal(waited.exitCode, 0, 'brmgr run serves the macvtap network', { output: waited.output, log });
    // the host's own traffic to the LAN, all along
    const steady = exec(host, 'ping', ['-n', '-q', '-i', '0.2', '-c', '100', LAN_ROUTER]);

    const first = await guest(l, 'g1', '52:54:00:60:00:01', 'nobody');
    t.match(first.device, /^\/dev\/tap\d+$/, 'tap add prints the macvtap’s /dev/tapN');
    t.ok(first.node.isCharacterDevice(), 'which is a character device');
    t.equal(rdev(first.node), first.sysfs, 'the macvtap’s own (as sysfs names it)');
    t.equal(first.node.uid, 65534, 'owned by the user asked for');
    t.equal(first.node.mode & 0o777, 0o600, 'and no one else’s');
    t.ok(first.opened.owner, 'its owner opens it');
    t.notOk(first.opened.other, 'another user cannot');
    const lease1 = await udhcpc(first.ns, first.tap, [], l.script);
    t.match(lease1, /^192\.168\.60\.\d+$/, 'the first guest leases from the LAN’s DHCP server');

    // the second is asked for before it boots, and followed
    const events = brmgr.start('brmgr.js', 'events', net, '--json');
    const early = brmgr.cli('lookup', net, '52:54:00:60:00:02', '--wait', '30');
    const second = await guest(l, 'g2', '52:54:00:60:00:02');
    t.equal(second.node.uid, 0, 'without --owner, the device is root’s');
    t.notOk(second.opened.owner, 'which no user opens');
    const lease2 = await udhcpc(second.ns, second.tap, [], l.script);
    t.match(lease2, /^192\.168\.60\.\d+$/, 'the second guest leases from the LAN too');
    const found = await early;
    t.equal(found.stdout.trim(), lease2, 'lookup --wait started before it booted gives its address', {
      output: found.output,
    });
    t.equal((await brmgr.cli('lookup', net, first.mac)).stdout.trim(), lease1, 'lookup finds the first guest');
    t.equal((await brmgr.cli('lookup', net, lease1!)).stdout.trim(), first.mac, 'and by its address, its MAC');
    const leases = JSON.parse((await brmgr.cli('leases', net, '--json')).stdout) as {
      mac: string;
      ip: string;
      source?: string;
    }[];
    t.ok(
      leases.some((x) => x.mac === second.mac && x.ip === lease2 && x.source === 'snooped'),
      'leases --json lists the guests as snooped',
      { leases },
    );

    t.ok(await ping(first.ns, lease2!), 'the guests reach each other');
    t.ok(await ping(first.ns, LAN_ROUTER), 'a guest reaches the LAN');
    // brmgr run follows the guests with a route each through the host's macvlan
    t.ok(await ping(host, lease1!, 15), 'the host reaches the first guest (host_access)');
    t.ok(await ping(host, lease2!, 15), 'and the second');
    t.ok(await ping(first.ns, HOST), 'a guest reaches the host’s own address on the uplink');
    const shimRoutes = JSON.parse(await ip(host, '-json', 'route', 'show', lease1!)) as { dev: string }[];
    t.not(shimRoutes[0]?.dev, l.uplink, 'through a link of brmgr’s, not the uplink');

    // the LAN still knows the host by the uplink's MAC: the host's macvlan answers its guests alone
    t.ok(await ping(lan, HOST), 'the LAN reaches the host');
    const uplinkMac = JSON.parse(await ip(host, '-json', 'link', 'show', l.uplink))[0].address as string;
    const neigh = JSON.parse(await ip(lan, '-json', 'neigh', 'show', HOST)) as { lladdr?: string }[];
    t.equal(neigh[0]?.lladdr, uplinkMac, 'the LAN has the host at its uplink’s MAC', { neigh, uplinkMac });

    const doctor = await brmgr.cli('doctor', net, first.mac);
    t.equal(doctor.exitCode, 0, 'the doctor finds nothing in the way of the first guest', { output: doctor.output });
    t.match(doctor.stdout, lease1!, 'and names its address');

    // the ruleset flushed (what was learned goes with it), then the host's macvlan deleted: brmgr run puts
    // both back, and the host's routes to its guests with them
    await must(host, 'nft', ['flush', 'ruleset']);
    await waitFor(
      'the uplink’s table back',
      async () => (await exec(host, 'nft', ['list', 'table', 'netdev', `brmgr-${net}`])).exitCode === 0,
      10_000,
    );
    t.pass('brmgr run puts the uplink’s table back after a flush');
    await ip(host, 'link', 'del', shimName(net));
    await waitFor(
      'the host’s macvlan back',
      async () => (await exec(host, 'ip', ['link', 'show', shimName(net)])).exitCode === 0,
      10_000,
    );
    t.ok(await ping(host, lease1!, 15), 'the host reaches its guest again through the new macvlan');
    t.ok(await ping(host, lease2!, 15), 'both guests');

    const pinged = await steady;
    t.match(pinged.stdout, / 0% packet loss/, 'the host’s own pings to the LAN never dropped', { out: pinged.stdout });

    run.kill('SIGTERM');
    t.equal((await run).exitCode, 0, 'brmgr run stops cleanly');
    events.kill('SIGTERM');
    const followed = String((await events).stdout);
    t.match(
      followed,
      new RegExp(`"mac":"${second.mac}".*"ip":"${lease2!.replaceAll('.', '\\.')}"`),
      'events tells of the second guest',
      { followed },
    );

    // the guests come home and go with tap del; the host is as it was
    for (const g of [first, second]) {
      await ip(g.ns, 'link', 'set', g.tap, 'netns', host);
      const del = await brmgr.cli('tap', 'del', g.tap);
      t.equal(del.exitCode, 0, `tap del ${g.tap}`, { output: del.output });
    }
    const down = await brmgr.post();
    t.equal(down.exitCode, 0, 'post takes the network down', { output: down.output });
    t.same((await exec(host, 'nft', ['list', 'tables'])).stdout.trim(), '', 'post removes brmgr’s netdev table');
    t.same(await snapshot(host), before, 'the host’s links, addresses, routes and settings are as before');
  },
);

t.test('macvtap: host_access = false, brought up by pre alone', { skip: why, timeout: 90_000 }, async (t) => {
  const l = await lanLab(t);
  const { host, net, brmgr } = l;
  const before = await snapshot(host);
  brmgr.config(`[bridge]\nmode = macvtap\nuplink = ${l.uplink}\nhost_access = false\n`);
  await brmgr.up();
  const g = await guest(l, 'g', '52:54:00:60:00:03');
  const lease = await udhcpc(g.ns, g.tap, [], l.script);
  t.match(lease, /^192\.168\.60\.\d+$/, 'the guest leases from the LAN');
  t.equal((await brmgr.cli('lookup', net, g.mac)).stdout.trim(), lease, 'lookup finds it without brmgr run');
  t.ok(await ping(g.ns, LAN_ROUTER), 'it reaches the LAN');
  t.notOk(await ping(host, lease!, 3), 'the host does not reach it: nothing carries its traffic to a macvtap');
  t.notOk(await ping(g.ns, HOST, 3), 'nor does it reach the host');

  // a macvtap that stays on the host: tap del takes it and its device
  const stay = l.lab.name('mt');
  const added = await brmgr.cli('tap', 'add', net, stay);
  t.equal(added.exitCode, 0, 'tap add', { output: added.output });
  const again = await brmgr.cli('tap', 'add', net, stay);
  t.equal(again.stdout.trim(), added.stdout.trim(), 'tap add again: the same device');
  t.equal((await brmgr.cli('tap', 'del', stay)).exitCode, 0, 'tap del');
  t.notOk((await exec(host, 'ip', ['link', 'show', stay])).exitCode === 0, 'the macvtap is gone');
  t.notOk((await exec(host, 'test', ['-e', added.stdout.trim()])).exitCode === 0, `and ${added.stdout.trim()} with it`);

  await ip(g.ns, 'link', 'set', g.tap, 'netns', host);
  t.equal((await brmgr.cli('tap', 'del', g.tap)).exitCode, 0, 'tap del of the guest’s');
  await brmgr.down();
  t.same(await snapshot(host), before, 'post leaves the host as it was');
});

t.test(
  'macvtap: a QEMU guest run by the device’s owner opens /dev/tapN and leases from the LAN',
  { skip: why ?? (existsSync(QEMU) ? undefined : 'qemu-system-x86 is not installed'), timeout: 180_000 },
  async (t) => {
    // built (or taken from the cache) before any namespace exists
    const image = await guestImage();
    const l = await lanLab(t);
    const { host, net, brmgr } = l;
    brmgr.config(`[bridge]\nmode = macvtap\nuplink = ${l.uplink}\n`);
    await brmgr.up();
    const mac = '52:54:00:60:00:09';
    const tap = l.lab.name('mt');
    const added = await brmgr.cli('tap', 'add', net, tap, '--owner', 'nobody', '--mac', mac);
    t.equal(added.exitCode, 0, 'tap add', { output: added.output });
    const device = added.stdout.trim();
    const lookup = brmgr.cli('lookup', net, mac, '--wait', '90');
    // QEMU as the device's owner, given the device open on fd 3, as a VMM without privileges runs it
    // one shell word each (the shell below opens the device on fd 3)
    const qemu = [QEMU, ...guestArgs(image, 'tap,fd=3', mac)].map((a) => `'${a}'`).join(' ');
    const vm = l.lab.spawn(host, 'setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      'sh',
      '-c',
      `exec ${qemu} 3<>${device}`,
    ]);
    const limit = setTimeout(() => vm.kill('SIGKILL'), 150_000);
    const [booted, found] = await Promise.all([vm, lookup]).finally(() => clearTimeout(limit));
    const serial = String(booted.stdout);
    const output = { serial, stderr: String(booted.stderr) };
    t.equal(booted.exitCode, 0, 'the guest booted as nobody and powered off', output);
    const lease = /BRMGR-GUEST lease (\S+) mac (\S+)/.exec(serial);
    t.match(lease?.[1], /^192\.168\.60\.\d+$/, 'it leased from the LAN’s DHCP server through the macvtap', output);
    t.equal(lease?.[2], mac, 'with the macvtap’s MAC');
    t.equal(found.stdout.trim(), lease?.[1], 'brmgr lookup --wait, asked before it booted, prints its address', {
      output: found.output,
    });
    const other = await exec(host, 'setpriv', [
      '--reuid=65533',
      '--regid=65533',
      '--clear-groups',
      'sh',
      '-c',
      `exec 3<>${device}`,
    ]);
    t.not(other.exitCode, 0, 'another user cannot open the device');
    t.equal((await brmgr.cli('tap', 'del', tap)).exitCode, 0, 'tap del');
    await brmgr.down();
    t.equal((await exec(host, 'nft', ['list', 'tables'])).stdout.trim(), '', 'down leaves no table');
  },
);
