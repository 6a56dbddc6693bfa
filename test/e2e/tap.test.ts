/**
 * brmgr tap add/del: a persistent tap on a brmgr bridge, owned by a user, as
 * the kernel shows it; it survives `brmgr run` restarts, and brmgr-post
 * --force leaves it detached. Bad input changes nothing and exits 2.
 */
import t from 'tap';
import { chmodSync, existsSync } from 'node:fs';
import { Brmgr, conf, exec, ip, Lab, links, waitFor } from '../helpers/netns.js';
import { follow, skipReason } from '../helpers/e2e.js';
import { guestImage, guestArgs, QEMU } from '../helpers/qemu-guest.js';

const why = skipReason();
if (why) t.plan(0, why);

interface TapLink {
  ifindex: number;
  ifname: string;
  master?: string;
  flags: string[];
  linkinfo?: { info_kind?: string; info_data?: { type?: string; persist?: boolean; user?: string | number } };
}

/** `ip -d -json link show NAME`, or undefined when there is no such link. */
async function show(ns: string, name: string): Promise<TapLink | undefined> {
  const all = JSON.parse(await ip(ns, '-d', '-json', 'link', 'show')) as TapLink[];
  return all.find((l) => l.ifname === name);
}

const tapInfo = (l: TapLink | undefined) =>
  l && { kind: l.linkinfo?.info_kind, ...l.linkinfo?.info_data, master: l.master, up: l.flags.includes('UP') };

async function serve(brmgr: Brmgr) {
  const proc = brmgr.run();
  const events = follow(proc);
  await waitFor(
    'brmgr run ready',
    async () =>
      events.some((e) => e.event === 'ready') ||
      (proc.exitCode != null ? Promise.reject(new Error(`brmgr run exited:\n${JSON.stringify(events)}`)) : false),
    15_000,
  );
  // wrapped: an async function returning the subprocess (a thenable) would wait for it to end
  return { proc };
}

t.test(
  'tap add: a persistent tap owned by the user, a port of the bridge across brmgr run restarts',
  { skip: why },
  async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755); // dnsmasq drops root and re-reads files below it
    const host = await lab.ns('host');
    const bridge = lab.name('br');
    const brmgr = new Brmgr(lab, host, bridge);
    brmgr.config(conf({ extra: '[dns]\nupstream = 10.0.1.1\n' }));
    const tap = lab.name('tap');
    const jail = lab.name('tap');

    let { proc } = await serve(brmgr);
    const add = await brmgr.cli('tap', 'add', bridge, tap, '--owner', 'nobody');
    t.equal(add.exitCode, 0, 'tap add exits 0', { output: add.output });
    const made = await show(host, tap);
    t.match(
      tapInfo(made),
      { kind: 'tun', type: 'tap', persist: true, user: 'nobody', master: bridge, up: true },
      'a persistent tap owned by nobody, up, a port of the bridge',
    );

    const numeric = await brmgr.cli('tap', 'add', bridge, jail, '--owner', '4242');
    t.equal(numeric.exitCode, 0, 'a numeric uid without a passwd entry is accepted', { output: numeric.output });
    t.match(tapInfo(await show(host, jail)), { type: 'tap', user: 4242, master: bridge }, 'owned by uid 4242');

    const again = await brmgr.cli('tap', 'add', bridge, tap, '--owner', 'nobody');
    t.equal(again.exitCode, 0, 'the same tap add again exits 0', { output: again.output });
    t.equal((await show(host, tap))?.ifindex, made?.ifindex, 'and leaves the same device');

    // the service stops and starts again: its converge leaves the ports alone
    proc.kill('SIGTERM');
    t.equal((await proc).exitCode, 0, 'brmgr run stops');
    t.match(
      tapInfo(await show(host, tap)),
      { persist: true, user: 'nobody', master: bridge },
      'the tap stays on the bridge while brmgr run is stopped',
    );
    ({ proc } = await serve(brmgr));
    t.match(
      tapInfo(await show(host, tap)),
      { persist: true, user: 'nobody', master: bridge, up: true },
      'and after brmgr run started again',
    );
    proc.kill('SIGTERM');
    await proc;

    // a plain post keeps the bridge for its attached taps, as for any guest
    const plain = await brmgr.post();
    t.equal(plain.exitCode, 0, 'brmgr-post exits 0', { output: plain.output });
    t.match(tapInfo(await show(host, tap)), { master: bridge }, 'the tap stays a port of the kept bridge');

    // post --force deletes the bridge; the taps stay, detached
    const post = await brmgr.post('--force');
    t.equal(post.exitCode, 0, 'brmgr-post --force exits 0', { output: post.output });
    t.equal(await show(host, bridge), undefined, 'the bridge is gone');
    const left = tapInfo(await show(host, tap));
    t.match(left, { kind: 'tun', type: 'tap', persist: true, user: 'nobody' }, 'the tap stays, with its owner');
    t.equal(left?.master, undefined, 'detached');
    // its VM's router advertisements must not configure the host through it
    const ipv6Off = (await exec(host, 'cat', [`/proc/sys/net/ipv6/conf/${tap}/disable_ipv6`])).stdout.trim();
    t.equal(ipv6Off, '1', 'IPv6 is off on its host side, from the start: no RA, no address reaches the host');
    const addrs = JSON.parse((await exec(host, 'ip', ['-j', '-6', 'address', 'show', 'dev', tap])).stdout || '[]') as {
      addr_info?: unknown[];
    }[];
    t.same(addrs[0]?.addr_info ?? [], [], 'and it has no IPv6 address');
    t.match(
      post.output,
      new RegExp(`taps ${tap}, ${jail} stay, detached|taps ${jail}, ${tap} stay, detached`),
      'post says so',
    );

    // once the bridge is back, tap add attaches the same tap again
    await brmgr.up();
    const reattach = await brmgr.cli('tap', 'add', bridge, tap, '--owner', 'nobody');
    t.equal(reattach.exitCode, 0, 'tap add on the detached tap exits 0', { output: reattach.output });
    t.match(tapInfo(await show(host, tap)), { master: bridge, user: 'nobody' }, 'it is a port of the bridge again');

    const del = await brmgr.cli('tap', 'del', tap);
    t.equal(del.exitCode, 0, 'tap del exits 0', { output: del.output });
    t.equal(await show(host, tap), undefined, 'the tap is gone');
    const delAgain = await brmgr.cli('tap', 'del', tap);
    t.equal(delAgain.exitCode, 0, 'tap del of a missing tap exits 0');
    t.match(delAgain.output, `there is no ${tap}; nothing to delete`, 'and says so');
    await brmgr.down('--force');
  },
);

t.test('tap add/del refuse bad input with exit 2 and change nothing', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const host = await lab.ns('host');
  const bridge = lab.name('br');
  const brmgr = new Brmgr(lab, host, bridge);
  brmgr.config(conf());
  await brmgr.up();
  const tap = lab.name('tap');
  const veth = lab.name('v');
  await ip(host, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', lab.name('w'));
  const foreign = lab.name('fb');
  await ip(host, 'link', 'add', foreign, 'type', 'bridge');
  const other = lab.name('tap');
  await ip(host, 'tuntap', 'add', 'dev', other, 'mode', 'tap', 'user', '4242');
  const before = await links(host);

  const cases: [string[], string][] = [
    [['tap', 'add', bridge, tap, '--owner', 'no-such-user-x'], "brmgr: no such user 'no-such-user-x'"],
    [
      ['tap', 'add', bridge, 'bad/name'],
      "(command line):0: TAP: 'bad/name' is not a valid interface name (1-15 letters, digits, '_', '.', '-')",
    ],
    [
      ['tap', 'add', bridge, 'a-name-much-too-long'],
      "(command line):0: TAP: 'a-name-much-too-long' is not a valid interface name (1-15 letters, digits, '_', '.', '-')",
    ],
    [['tap', 'add', bridge, bridge], `brmgr: the tap needs a name of its own, not the bridge's (${bridge})`],
    [
      ['tap', 'add', foreign, tap],
      `brmgr: ${foreign} is not up as a brmgr bridge: start it first (brmgr run ${foreign} or brmgr up ${foreign})`,
    ],
    [['tap', 'add', bridge, veth], `brmgr: ${veth} exists and is not a tap (it is a veth)`],
    [
      ['tap', 'add', bridge, other, '--owner', 'nobody'],
      `brmgr: tap ${other} exists with owner 4242, not 65534: brmgr tap del ${other} first`,
    ],
    [
      ['tap', 'add', bridge, other],
      `brmgr: tap ${other} exists with owner 4242, not none: brmgr tap del ${other} first`,
    ],
    [['tap', 'del', veth], `brmgr: ${veth} is not a tap (it is a veth); brmgr tap del deletes only taps`],
    [['tap', 'del', bridge], `brmgr: ${bridge} is not a tap (it is a bridge); brmgr tap del deletes only taps`],
    [
      ['tap', 'del', 'bad/name'],
      "(command line):0: TAP: 'bad/name' is not a valid interface name (1-15 letters, digits, '_', '.', '-')",
    ],
    [['tap'], 'brmgr: usage: brmgr tap add BRIDGE TAP [--owner USER] [--mac MAC] [--rate RATE] | brmgr tap del TAP'],
    [
      ['tap', 'add', bridge],
      'brmgr: usage: brmgr tap add BRIDGE TAP [--owner USER] [--mac MAC] [--rate RATE] | brmgr tap del TAP',
    ],
    [
      ['tap', 'del', tap, '--owner', 'nobody'],
      'brmgr: usage: brmgr tap add BRIDGE TAP [--owner USER] [--mac MAC] [--rate RATE] | brmgr tap del TAP',
    ],
  ];
  for (const [args, message] of cases) {
    const r = await brmgr.cli(...args);
    t.equal(r.exitCode, 2, `brmgr ${args.join(' ')} exits 2`, { output: r.output });
    t.equal(r.stderr.trim(), message, 'with the message');
  }
  t.same(await links(host), before, 'no link changed');
  await brmgr.down('--force');
});

const MAC = '52:54:00:12:34:57';
/**
 * Runs a command as `uid` with only CAP_DAC_OVERRIDE: enough to open /dev/net/tun
 * (0600 on some hosts) but not CAP_NET_ADMIN, so the kernel lets only the tap's owner attach.
 */
const asUser = (uid: number, cmd: string, ...args: string[]) => [
  'setpriv',
  `--reuid=${uid}`,
  `--regid=${uid}`,
  '--clear-groups',
  '--inh-caps=+dac_override',
  '--ambient-caps=+dac_override',
  cmd,
  ...args,
];

t.test(
  "a QEMU guest run as the tap's owner leases through the tap; another user cannot open it",
  { skip: why ?? (existsSync(QEMU) ? undefined : 'qemu-system-x86 is not installed') },
  async (t) => {
    const image = await guestImage();
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const host = await lab.ns('host');
    const bridge = lab.name('br');
    const brmgr = new Brmgr(lab, host, bridge);
    brmgr.config(conf({ extra: '[dns]\nupstream = 10.0.1.1\n' }));
    const tap = lab.name('fc');
    await serve(brmgr);
    const add = await brmgr.cli('tap', 'add', bridge, tap, '--owner', 'nobody');
    t.equal(add.exitCode, 0, 'tap add exits 0', { output: add.output });

    const [cmd, ...args] = asUser(
      4243,
      QEMU,
      '-M',
      'none',
      '-display',
      'none',
      '-nodefaults',
      '-netdev',
      `tap,id=n0,ifname=${tap},script=no,downscript=no`,
    );
    const other = await exec(host, cmd!, args, { timeout: 20_000 });
    t.not(other.exitCode, 0, 'QEMU as another user fails');
    t.match(
      other.stderr,
      `could not configure /dev/net/tun (${tap}): Operation not permitted`,
      'the kernel refuses it the tap',
    );

    const [qcmd, ...qargs] = asUser(65534, QEMU, ...guestArgs(image, `tap,ifname=${tap},script=no,downscript=no`, MAC));
    const qemu = lab.spawn(host, qcmd!, qargs);
    // the guest powers off by itself; this bounds a guest that hangs
    const limit = setTimeout(() => qemu.kill('SIGKILL'), 90_000);
    const [vm, lookup] = await Promise.all([qemu, brmgr.cli('lookup', bridge, MAC, '--wait', '60')]).finally(() =>
      clearTimeout(limit),
    );
    const serial = String(vm.stdout);
    const output = { serial, stderr: String(vm.stderr) };
    t.equal(vm.exitCode, 0, 'the guest, run by nobody, booted and powered off', output);
    const lease = /BRMGR-GUEST lease (\S+) mac (\S+)/.exec(serial);
    t.ok(lease?.[1]?.startsWith('10.0.1.'), `the guest leased ${lease?.[1]} through the tap`, output);
    t.equal(lookup.stdout.trim(), lease?.[1], `brmgr lookup ${bridge} ${MAC} prints it`, { output: lookup.output });
    t.equal((await show(host, tap))?.master, bridge, 'the tap is still a port of the bridge after the guest closed it');
  },
);
