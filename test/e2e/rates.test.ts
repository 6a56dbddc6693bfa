/**
 * Rate limits, measured with iperf3 through the bridge and NAT: `guest_egress = 20mbit` holds what a guest
 * sends to the outside under 24 Mbit/s (the issue's bound), and a [host.*] entry for the guest's MAC that
 * raises it (applied on `brmgr reload`) lets it send more; `guest_ingress` likewise the other way (iperf3
 * -R). brmgr run shapes a port that joins after it started; the port's ifb goes when the port goes, and
 * brmgr down takes brmgr's qdiscs off the ports that stay. `brmgr tap add --rate` shapes its tap without
 * brmgr run. Both ends send with checksums computed in software (`ethtool -K tx off`), as a real NIC.
 *
 * host ── bridge 10.0.1.1/24 ── port ~ guest (10.0.1.50)
 * host ── uplink 192.0.2.1/24 ~ outside 192.0.2.2/24 (iperf3 server)
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { conf, exec, ip, listening, must, waitFor, type Topology } from '../helpers/netns.js';
import { serving, skipReason } from '../helpers/e2e.js';

function iperfMissing(): string | undefined {
  const r = spawnSync('iperf3', ['--version'], { stdio: 'ignore' });
  return r.status === 0 ? undefined : 'iperf3 is not installed (Debian: iperf3)';
}

const why = skipReason() ?? iperfMissing();
if (why) t.plan(0, why);

/** The issue's bound for `egress = 20mbit`: what iperf3 measures stays under it. */
const BOUND = 24e6;
const IPERF_PORT = 5201;
const OTHER_MAC = '52:54:00:00:00:b2';

interface Qdisc {
  kind: string;
  handle: string;
  root?: boolean;
}

const qdiscs = async (ns: string, dev: string): Promise<Qdisc[]> =>
  JSON.parse((await exec(ns, 'tc', ['-json', 'qdisc', 'show', 'dev', dev])).stdout || '[]') as Qdisc[];

/** The rates of a link's htb classes, bits per second (tc prints htb classes as text only, even with -json). */
async function classRates(ns: string, dev: string): Promise<number[]> {
  const r = await exec(ns, 'tc', ['class', 'show', 'dev', dev]);
  const unit: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9 };
  return [...r.stdout.matchAll(/^class htb \S+ .*? rate (\d+(?:\.\d+)?)([KMG]?)bit/gm)].map((m) =>
    Math.round(Number(m[1]) * unit[m[2]!]!),
  );
}

/** The ifb devices in `ns`, with their aliases. */
async function ifbs(ns: string): Promise<{ ifname: string; ifalias?: string }[]> {
  return JSON.parse(await ip(ns, '-json', 'link', 'show', 'type', 'ifb')) as { ifname: string; ifalias?: string }[];
}

const brmgrs = (q: Qdisc[]) => q.filter((x) => x.handle === 'bb1e:' || x.kind === 'ingress');

/** iperf3 from the guest to the outside for a few seconds; bits per second the receiver got. */
async function throughput(top: Topology, reverse: boolean): Promise<number> {
  const args = ['-c', '192.0.2.2', '-p', String(IPERF_PORT), '-t', '4', '-O', '1', '-J', ...(reverse ? ['-R'] : [])];
  const r = await exec(top.guest, 'iperf3', args, { timeout: 60_000 });
  if (r.exitCode !== 0) throw new Error(`iperf3 failed: ${r.stdout}${r.stderr}`);
  const report = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return report.end.sum_received.bits_per_second;
}

const mbit = (bits: number) => `${(bits / 1e6).toFixed(1)} Mbit/s`;

async function iperfServer(top: Topology): Promise<void> {
  top.lab.spawn(top.outside, 'iperf3', ['-s', '-B', '192.0.2.2', '-p', String(IPERF_PORT)]);
  await listening(top.outside, 'tcp', IPERF_PORT);
}

async function softwareChecksums(top: Topology): Promise<void> {
  await must(top.guest, 'ethtool', ['-K', top.guestIf, 'tx', 'off']);
  await must(top.outside, 'ethtool', ['-K', top.outsideIf, 'tx', 'off']);
}

/** The guest's MAC, as the bridge learns it on its port. */
const guestMac = async (top: Topology) =>
  (JSON.parse(await ip(top.guest, '-json', 'link', 'show', top.guestIf)) as { address: string }[])[0]!.address;

for (const [direction, key, reverse] of [
  ['from the guest', 'egress', false],
  ['toward the guest', 'ingress', true],
] as const) {
  t.test(
    `guest_${key} = 20mbit holds ${direction}; [host.*] ${key} raised for the guest's MAC lets more through`,
    {
      skip: why,
    },
    async (t) => {
      const { top } = await serving(t, conf({ extra: '' }).replace('[ipv4]', `guest_${key} = 20mbit\n[ipv4]`));
      await softwareChecksums(top);
      await iperfServer(top);
      const dev = key === 'egress' ? 'ifb' : top.port;
      // the port joined after brmgr run started: it is shaped as it comes
      await waitFor(`${top.port} shaped`, async () => {
        const ifb = (await ifbs(top.host)).find((l) => l.ifalias === `brmgr:${top.bridge}:${top.port}`);
        const on = key === 'egress' ? ifb?.ifname : top.port;
        return on && (await classRates(top.host, on)).includes(20e6);
      });

      const limited = await throughput(top, reverse);
      t.comment(`guest_${key} = 20mbit: ${mbit(limited)} ${direction}`);
      t.ok(limited <= BOUND, `${direction}: ${mbit(limited)}, at most 24 Mbit/s`);
      t.ok(limited > 0, 'and something gets through');

      // the bridge's own rate changed by a reload: the port already there is shaped again
      top.brmgr.config(conf({ extra: '' }).replace('[ipv4]', `guest_${key} = 30mbit\n[ipv4]`));
      const changed = await top.brmgr.cli('reload', top.bridge);
      t.equal(changed.exitCode, 0, `a reload to guest_${key} = 30mbit`, { output: changed.output });
      const at30 = await waitFor(
        `${dev} at 30mbit`,
        async () => {
          const ifb = (await ifbs(top.host)).find((l) => l.ifalias === `brmgr:${top.bridge}:${top.port}`);
          const on = key === 'egress' ? ifb?.ifname : top.port;
          return !!on && (await classRates(top.host, on)).includes(30e6);
        },
        10_000,
      ).catch(() => false);
      t.ok(at30, `${top.port} is shaped at the new rate`);

      const mac = await guestMac(top);
      const raised = conf({ extra: `[host.fast]\nmac = ${mac}\nip = 10.0.1.50\n${key} = 1gbit\n` }).replace(
        '[ipv4]',
        `guest_${key} = 20mbit\n[ipv4]`,
      );
      top.brmgr.config(raised);
      const reload = await top.brmgr.cli('reload', top.bridge);
      t.equal(reload.exitCode, 0, 'brmgr reload applies it', { output: reload.output });
      // the guest's MAC is known to the bridge by now (iperf3 talked through it)
      await waitFor(
        `${dev} at 1gbit`,
        async () => {
          const ifb = (await ifbs(top.host)).find((l) => l.ifalias === `brmgr:${top.bridge}:${top.port}`);
          const on = key === 'egress' ? ifb?.ifname : top.port;
          return on && (await classRates(top.host, on)).includes(1e9);
        },
        10_000,
      );
      const more = await throughput(top, reverse);
      t.comment(`[host.fast] ${key} = 1gbit: ${mbit(more)} ${direction}`);
      t.ok(more > BOUND, `${direction} with its own rate: ${mbit(more)}, more than the bridge's 20mbit allows`);
    },
  );
}

t.test(
  'the ifb goes with its port; brmgr down takes brmgr’s qdiscs off the ports that stay',
  { skip: why },
  async (t) => {
    const { lab, top, proc, log } = await serving(
      t,
      conf({ extra: `[host.other]\nmac = ${OTHER_MAC}\nip = 10.0.1.60\negress = 50mbit\n` }).replace(
        '[ipv4]',
        'guest_ingress = 30mbit\nguest_egress = 20mbit\n[ipv4]',
      ),
    );
    const mine = async (port: string) =>
      (await ifbs(top.host)).find((l) => l.ifalias === `brmgr:${top.bridge}:${port}`)?.ifname;
    const ifb = await waitFor('the guest port’s ifb', () => mine(top.port));
    // the ifb comes first, then the port's qdiscs: waited for, as the kernel shows them
    const kinds = async () => brmgrs(await qdiscs(top.host, top.port)).map((q) => q.kind);
    await waitFor('the port’s qdiscs', async () => (await kinds()).length >= 2).catch(() => undefined);
    t.same(
      await kinds(),
      ['htb', 'ingress'],
      'htb at the port’s root (toward the guest), an ingress qdisc redirecting what it sends',
    );
    t.same(await classRates(top.host, top.port), [30e6]);
    t.same(await classRates(top.host, ifb), [20e6]);

    // a second guest's port comes, gets its [host.*] entry's rate by its MAC, and goes again
    const other = await lab.ns('other');
    const otherIf = lab.name('g');
    const otherPort = lab.name('p');
    await lab.veth(other, otherIf, top.host, otherPort, { up: false });
    await ip(other, 'link', 'set', otherIf, 'address', OTHER_MAC, 'up');
    await ip(top.host, 'link', 'set', otherPort, 'up');
    const joined = Date.now();
    await ip(top.host, 'link', 'set', otherPort, 'master', top.bridge);
    const otherIfb = await waitFor('the second port’s ifb', () => mine(otherPort));
    await waitFor('its guest’s own egress', async () => (await classRates(top.host, otherIfb)).includes(50e6));
    t.same(await classRates(top.host, otherPort), [30e6], 'the bridge’s ingress, its [host.*] entry’s egress');
    const said = (words: string) =>
      log.find((e) => e.event === 'rate' && e.port === otherPort && e.msg === `${otherPort}: ${words}`)?.time as
        | number
        | undefined;
    const first = said('ingress 30mbit, egress 20mbit');
    const own = said('ingress 30mbit, egress 50mbit');
    t.comment(
      `second port: the bridge's rates ${first ? `${first - joined} ms` : 'not seen (its MAC came first)'}, ` +
        `its guest's own ${own ? `${own - joined} ms` : '?'} after it joined`,
    );
    await ip(top.host, 'link', 'del', otherPort);
    await waitFor('its ifb gone with it', async () => !(await ifbs(top.host)).some((l) => l.ifname === otherIfb));
    t.pass('the ifb of a deleted port is deleted');

    // a port released from the bridge stays, without brmgr's qdiscs
    const third = await lab.ns('third');
    const thirdIf = lab.name('g');
    const thirdPort = lab.name('p');
    await lab.veth(third, thirdIf, top.host, thirdPort, { master: top.bridge });
    const thirdIfb = await waitFor('the third port’s ifb', () => mine(thirdPort));
    await ip(top.host, 'link', 'set', thirdPort, 'nomaster');
    await waitFor('released: brmgr’s shaping off it', async () => {
      const left = brmgrs(await qdiscs(top.host, thirdPort));
      return left.length === 0 && !(await ifbs(top.host)).some((l) => l.ifname === thirdIfb);
    });
    t.pass('a port that leaves the bridge keeps no qdisc or ifb of brmgr’s');

    // the supervisor stops and starts again (no post between, as after a crash) with a config that sets no
    // rate: what brmgr shaped before is still looked at, and taken off
    const rated = readFileSync(join(top.brmgr.confDir, `${top.bridge}.conf`), 'utf8');
    proc.kill('SIGTERM');
    await proc;
    top.brmgr.config(conf());
    const again = top.brmgr.run();
    const waited = await top.brmgr.cli('wait', top.bridge, '--pid', String(again.pid));
    t.equal(waited.exitCode, 0, `brmgr run serves again: ${waited.stderr}`);
    await waitFor('the former rates off the guest’s port', async () => {
      const left = brmgrs(await qdiscs(top.host, top.port));
      return left.length === 0 && (await ifbs(top.host)).length === 0;
    });
    t.pass('a config without rates: brmgr’s qdiscs and ifb of the run before are removed');
    again.kill('SIGTERM');
    await again;
    top.brmgr.config(rated);
    const rerun = top.brmgr.run();
    t.equal((await top.brmgr.cli('wait', top.bridge, '--pid', String(rerun.pid))).exitCode, 0, 'and with rates');
    await waitFor('the guest’s port shaped again', async () => (await classRates(top.host, top.port)).includes(30e6));

    // the supervisor stops: the guests stay limited (as the firewall stays) until brmgr down
    rerun.kill('SIGTERM');
    await rerun;
    t.same(await classRates(top.host, top.port), [30e6], 'brmgr run stopped: the limits stay');
    await top.brmgr.down();
    t.same(brmgrs(await qdiscs(top.host, top.port)), [], 'brmgr down: no qdisc of brmgr’s on the guest’s port');
    t.same(await ifbs(top.host), [], 'and no ifb');
    t.ok(
      (JSON.parse(await ip(top.host, '-json', 'link', 'show', top.port)) as { master?: string }[])[0]?.master,
      'the port itself is still plugged into the kept bridge',
    );
  },
);

t.test('brmgr tap add --rate shapes its tap without brmgr run; tap del removes its ifb', { skip: why }, async (t) => {
  const { top, proc } = await serving(t, conf());
  proc.kill('SIGTERM');
  await proc;
  const tap = top.lab.name('tap');
  const bad = await top.brmgr.cli('tap', 'add', top.bridge, tap, '--rate', '20mbps');
  t.equal(bad.exitCode, 2, 'a rate in bytes is refused', { output: bad.output });
  t.match(bad.stderr, /--rate: '20mbps' is not a rate/);
  t.notOk((await exec(top.host, 'ip', ['link', 'show', tap])).exitCode === 0, 'and no tap is made');

  const add = await top.brmgr.cli('tap', 'add', top.bridge, tap, '--rate', '20mbit');
  t.equal(add.exitCode, 0, 'tap add --rate', { output: add.output });
  t.same(await classRates(top.host, tap), [20e6], 'htb at 20mbit toward the guest');
  const ifb = (await ifbs(top.host)).find((l) => l.ifalias === `brmgr:${top.bridge}:${tap}`);
  t.ok(ifb, 'an ifb for what the guest sends', { ifbs: await ifbs(top.host) });
  t.same(await classRates(top.host, ifb!.ifname), [20e6], 'at 20mbit too');

  // brmgr down keeps a tap's own rate: it is the tap's, as `tap add` made it
  await top.brmgr.down();
  t.same(await classRates(top.host, tap), [20e6], 'brmgr down leaves the tap its own rate');

  const del = await top.brmgr.cli('tap', 'del', tap);
  t.equal(del.exitCode, 0, 'tap del', { output: del.output });
  t.same(await ifbs(top.host), [], 'its ifb is gone with it');
});
