// What the data path's guards cost a guest's throughput (iperf3, package iperf3), ROUNDS (7) × SECONDS
// (2) each, alternating. PARTS (`caps strict`):
// caps: guest-to-outside TCP through a NAT bridge with the exhaustion caps (the MAC budget in the bridge
//   table's prerouting chain, the guest_conns count in the forward chain) against the same bridge with
//   those rules deleted, per firewall backend (BACKENDS, `nftables iptables`);
// strict: TCP from guest g1 to the outside through NAT and to guest g2 on the same bridge, on lxc-net's
//   bridge (LXC's own /usr/libexec/lxc/lxc-net, its /run/lxc and /var/lib/misc private to it) and on
//   brmgr's with port_security = basic, = strict with 2 guests' bindings and = strict with 200 (g1's,
//   g2's and 198 fake ports' elements, as `brmgr run` adds them), each on a lab of its own, rotating
//   which goes first; Gbit/s and Gbit per CPU second of the two iperf3 processes, and the ratios.
//   g1's interface sends without offloads (TX_OFF, `g1`), so every hop sees MTU-sized frames.
//   PROFILE=1 adds basic with brmgr's bridge table deleted, basic without its MAC cap and strict with its
//   inet table deleted. PERF=1 runs each iperf3 under `perf record -a` and adds netfilter's share of the
//   iperf3 processes' samples and nf_tables' own part of it, the ratios each implies (of the medians and
//   each round's own) and netfilter's functions by share. TWIN=1 adds basic
//   again on a lab of its own. FRESH=1 makes each variant's lab anew for each round. BEFORE=/elsewhere/
//   dist/bundle adds basic as that tree's brmgr-pre makes it (before and after in one run); ONLY=
//   'lxc-net|basic|…' runs those variants alone.
// Namespaces only; all deleted at the end.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { BRIDGE, Lab, median } from './lib/lab.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const SECONDS = Number(process.env.SECONDS ?? 2);
const BACKENDS = (process.env.BACKENDS ?? 'nftables iptables').split(' ');
const PARTS = (process.env.PARTS ?? 'caps strict').split(' ');
const FRESH = !!process.env.FRESH;

await execa('iperf3', ['--version']).catch(() => {
  throw new Error('iperf3 is not installed (apt-get install iperf3)');
});

/** Deletes the MAC cap's jump from the bridge table's prerouting chain (the rest of basic stays). */
async function unMacCap(lab) {
  const listed = await lab.exec(lab.host, 'nft', ['-a', 'list', 'chain', 'bridge', `brmgr-${BRIDGE}`, 'prerouting']);
  const handle = /jump port-macs # handle (\d+)/.exec(listed.stdout)?.[1];
  if (!handle) throw new Error(`no MAC cap in prerouting: ${listed.stdout}`);
  await lab.exec(lab.host, 'nft', ['delete', 'rule', 'bridge', `brmgr-${BRIDGE}`, 'prerouting', 'handle', handle]);
}

/** Deletes the caps' rules brmgr-pre made: the MAC cap's jump, and the connection count in either backend. */
async function uncap(lab, backend) {
  await unMacCap(lab);
  if (backend === 'nftables') {
    // in whichever chain of the table (the forward chain's halves, from and to the bridge)
    const listed = await lab.exec(lab.host, 'nft', ['-a', 'list', 'table', 'inet', `brmgr-${BRIDGE}`]);
    let chain;
    for (const line of listed.stdout.split('\n')) {
      chain = /^\s*chain (\S+) \{/.exec(line)?.[1] ?? chain;
      // a rule, not a set's elements (which keep their `ct count` after the rule is gone)
      const handle = /ct count .*# handle (\d+)/.exec(line)?.[1];
      if (!handle) continue;
      await lab.exec(lab.host, 'nft', ['delete', 'rule', 'inet', `brmgr-${BRIDGE}`, chain, 'handle', handle]);
    }
  } else {
    const saved = await lab.exec(lab.host, 'iptables-save', ['-t', 'filter']);
    for (const line of saved.stdout.split('\n').filter((l) => l.includes('connlimit')))
      await lab.exec(lab.host, 'iptables', ['-D', ...line.slice(3).split(' ')]);
  }
  // the chains' rules
  const left = [
    (await lab.exec(lab.host, 'nft', ['list', 'chain', 'bridge', `brmgr-${BRIDGE}`, 'prerouting'])).stdout,
    (await lab.exec(lab.host, 'nft', ['list', 'table', 'inet', `brmgr-${BRIDGE}`])).stdout,
    (await lab.exec(lab.host, 'iptables-save', [])).stdout,
  ].join('\n');
  const still = left.split('\n').filter((l) => /ct count .*jump|connlimit|jump port-macs/.test(l));
  if (still.length) throw new Error(`a cap is still there: ${still.join('; ')}`);
}

/** The outside: a namespace at 192.0.2.2 beyond the host's up0 (192.0.2.1). */
async function outsideOf(lab) {
  const outside = await lab.ns(`bench-${lab.tag}-o`);
  await execa('ip', ['-n', lab.host, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'nic', 'netns', outside]);
  await execa('ip', ['-n', lab.host, 'address', 'add', '192.0.2.1/24', 'dev', 'up0']);
  await execa('ip', ['-n', lab.host, 'link', 'set', 'up0', 'up']);
  await execa('ip', ['-n', outside, 'address', 'add', '192.0.2.2/24', 'dev', 'nic']);
  await execa('ip', ['-n', outside, 'link', 'set', 'nic', 'up']);
  return outside;
}

/** A NAT bridge from brmgr-pre, a guest (10.0.1.50, port `pg…`) and the outside (192.0.2.2) with an iperf3 server. */
async function natLab(lab) {
  const outside = await outsideOf(lab);
  await lab.cli('brmgr-pre.mjs', BRIDGE);
  const guest = await lab.client('g', '10.0.1.50/24');
  await execa('ip', ['-n', guest, 'route', 'add', 'default', 'via', '10.0.1.1']);
  const server = lab.exec(outside, 'iperf3', ['-s']);
  await new Promise((r) => setTimeout(r, 500));
  const iperf = async () => {
    const r = await lab.exec(guest, 'iperf3', ['-c', '192.0.2.2', '-t', String(SECONDS), '-J']);
    if (r.exitCode !== 0) throw new Error(`iperf3: ${r.stdout || r.stderr}`);
    return JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e9;
  };
  return { guest, port: `pg${lab.tag}`.slice(0, 15), server, iperf };
}

const results = {};
for (const backend of PARTS.includes('caps') ? BACKENDS : []) {
  const lab = await new Lab('dp').open(
    `[bridge]\nfirewall = ${backend}\n[ipv4]\naddress = 10.0.1.1/24\ndhcp = false\n[dns]\nenable = false\n`,
  );
  try {
    const { server, iperf } = await natLab(lab);
    const capped = [];
    const uncapped = [];
    for (let i = 0; i < ROUNDS; i++) {
      await lab.cli('brmgr-pre.mjs', BRIDGE); // the caps back, as pre makes them
      capped.push(await iperf());
      await uncap(lab, backend);
      uncapped.push(await iperf());
    }
    server.kill();
    await lab.cli('brmgr-post.mjs', BRIDGE);
    results[`caps, ${backend}`] = {
      capped: capped.map((x) => x.toFixed(2)),
      uncapped: uncapped.map((x) => x.toFixed(2)),
      'median capped ÷ uncapped': (median(capped) / median(uncapped)).toFixed(3),
    };
  } finally {
    await lab.close();
  }
}

const NAT = '[ipv4]\naddress = 10.0.1.1/24\ndhcp = false\n[dns]\nenable = false\n';
const STRICT_TABLE = `brmgr-strict-${BRIDGE}`;
const hex2 = (n) => n.toString(16).padStart(2, '0');

/**
 * The bindings `brmgr run` adds (plan/bindings.ts) for `guests` guests: the real guests' ports, MACs and
 * addresses, and fake ports' (`fp1`, …) with their own MACs and addresses up to `guests`. One `nft -f`.
 */
async function bind(lab, real, guests) {
  const all = [...real];
  for (let i = 1; all.length < guests; i++)
    all.push({
      port: `fp${i}`,
      mac: `52:54:01:00:${hex2(i >> 8)}:${hex2(i & 255)}`,
      ip: `10.0.${2 + (i >> 8)}.${i & 255}`,
    });
  const add = (set, elements) => `add element bridge ${STRICT_TABLE} ${set} { ${elements.join(', ')} }\n`;
  // a tree before the strict ports' one-lookup sets (BEFORE=) has no bound4
  const fast = (await lab.exec(lab.host, 'nft', ['list', 'set', 'bridge', STRICT_TABLE, 'bound4'])).exitCode === 0;
  const q = (p) => JSON.stringify(p);
  const text =
    add(
      'ports',
      all.map((g) => q(g.port)),
    ) +
    add(
      'bound',
      all.map((g) => `${q(g.port)} . ${g.mac}`),
    ) +
    add(
      'macs',
      all.map((g) => g.mac),
    ) +
    add(
      'addr4',
      all.map((g) => `${q(g.port)} . ${g.ip}`),
    ) +
    (fast
      ? add(
          'bound4',
          all.map((g) => `${q(g.port)} . ${g.mac} . ${g.ip}`),
        )
      : '');
  const r = await lab.exec(lab.host, 'nft', ['-f', '-'], { input: text });
  if (r.exitCode !== 0) throw new Error(`nft: ${r.stderr}`);
  const listed = (await lab.exec(lab.host, 'nft', ['list', 'set', 'bridge', STRICT_TABLE, 'addr4'])).stdout;
  if ((listed.match(/ \. 10\.0\./g) ?? []).length !== guests)
    throw new Error(`addr4 has not ${guests} elements:\n${listed}`);
}

/**
 * The guests' ports in each bridge table's set of ports, as `brmgr run` adds them where the kernel has no nft
 * bridge meta (supervisor/scope.ts): the guests plugged after brmgr-pre are otherwise outside port security,
 * every frame let by at the table's first rule. Nothing where the tables name the bridge (no such set).
 */
async function scopePorts(lab, ports) {
  for (const table of [`brmgr-${BRIDGE}`, STRICT_TABLE]) {
    if ((await lab.exec(lab.host, 'nft', ['list', 'set', 'bridge', table, 'bridge-ports'])).exitCode !== 0) continue;
    const elements = `{ ${ports.map((p) => JSON.stringify(p)).join(', ')} }`;
    const r = await lab.exec(lab.host, 'nft', ['add', 'element', 'bridge', table, 'bridge-ports', elements]);
    if (r.exitCode !== 0) throw new Error(`nft: ${r.stderr}`);
  }
}

// the strict part: TX_OFF names the guests whose interface sends without offloads (`g1`: the sender of
// both paths, so every hop sees MTU-sized frames, as from a real NIC or a tap opened without offload)
const TX_OFF = (process.env.TX_OFF ?? 'g1').split(' ').filter(Boolean);
const LXC_NET = '/usr/libexec/lxc/lxc-net';
const PATHS = { nat: 'guest → outside (NAT)', l2: 'guest → guest (same bridge)' };

/**
 * On `bridge` in `lab`'s host namespace (addressed SUBNET.1/24, NAT to up0): the outside (192.0.2.2, beyond
 * up0) and guest g2 (SUBNET.51) each run an iperf3 server; guest g1 (SUBNET.50) sends to either.
 */
async function twoGuests(lab, bridge, subnet) {
  const outside = await outsideOf(lab);
  const guests = {};
  for (const [name, host] of [
    ['g1', 50],
    ['g2', 51],
  ]) {
    const ns = await lab.client(name, `${subnet}.${host}/24`, bridge);
    await execa('ip', ['-n', ns, 'route', 'add', 'default', 'via', `${subnet}.1`]);
    if (TX_OFF.includes(name)) await lab.exec(ns, 'ethtool', ['-K', 'nic', 'tx', 'off']);
    const mac = JSON.parse((await execa('ip', ['-n', ns, '-json', 'link', 'show', 'nic'])).stdout)[0].address;
    guests[name] = { ns, port: `p${name}${lab.tag}`.slice(0, 15), mac, ip: `${subnet}.${host}` };
  }
  const servers = [lab.exec(outside, 'iperf3', ['-s']), lab.exec(guests.g2.ns, 'iperf3', ['-s'])];
  await new Promise((r) => setTimeout(r, 500));
  const to = { nat: '192.0.2.2', l2: guests.g2.ip };
  /**
   * From g1 along `path`: Gbit/s, and Gbit per CPU second of the sending and the receiving iperf3 (their
   * user and system time, which holds the softirq work done in their context: the veths, the bridge, the
   * firewall; work deferred to ksoftirqd is not in it). A run the loaded machine broke is run again, once.
   */
  const iperf = async (path, again = true) => {
    const client = ['iperf3', '-c', to[path], '-t', String(SECONDS), '-J'];
    // perf -a samples every CPU, whichever namespace it runs in
    const samples = join(lab.dir, `perf-${path}.data`);
    const [cmd, ...args] = PERF ? ['perf', 'record', '-a', '-q', '-o', samples, '--', ...client] : client;
    const r = await lab.exec(guests.g1.ns, cmd, args);
    if (r.exitCode !== 0) {
      if (!again) throw new Error(`iperf3: ${r.stdout || r.stderr}`);
      await new Promise((res) => setTimeout(res, 1000));
      return iperf(path, false);
    }
    const { sum_received, cpu_utilization_percent: cpu } = JSON.parse(r.stdout).end;
    const gbps = sum_received.bits_per_second / 1e9;
    return {
      gbps,
      perCpu: gbps / ((cpu.host_total + cpu.remote_total) / 100),
      ...(PERF ? { netfilter: await netfilterShare(samples) } : {}),
    };
  };
  const stop = () => {
    for (const s of servers) s.kill();
  };
  return { guests, iperf, stop };
}

/**
 * PERF=1: the share of the two iperf3 processes' CPU samples (`perf record -a` around each run) that is
 * netfilter's own: its hooks, chains, expressions, sets and conntrack, self time (not the functions they
 * share with the rest of the kernel: a payload's copy, a name's). What is not netfilter
 * costs the same per byte on every bridge, so basic ÷ lxc-net per CPU ≈ (1 − basic's share) ÷ (1 −
 * lxc-net's), a figure the bench's spread cannot blur.
 */
const PERF = !!process.env.PERF;
// netfilter's functions and br_netfilter's (which `bridge-nf-call-iptables` puts on both bridges' path)
const NETFILTER =
  /^(__)?(nft_|nf_|br_nf_|nf_bridge|ip_sabotage_in|setup_pre_routing|ipv4_conntrack|ipv6_conntrack|hash_conntrack|tcp_in_window|ipt_|ip6t_|xt_)/;
/**
 * nf_tables' own part of that share: the chains, their expressions and sets, and the walk of each hook's
 * entries. The rest of netfilter (conntrack, br_netfilter) does the same work per packet on every bridge,
 * but its samples move a point between rounds: the ratio from this part alone rests on the same premise with
 * less of that noise.
 */
const TABLES = /^(__)?(nft_|nf_tables_|nf_hook_slow)/;
async function netfilterShare(file) {
  const r = await execa(
    'perf',
    [
      'report',
      '-i',
      file,
      '--comm',
      'iperf3',
      '--no-children',
      '--percentage',
      'relative',
      '--stdio',
      '--sort',
      'sym',
      '-g',
      'none',
    ],
    { reject: false },
  );
  let share = 0;
  let tables = 0;
  const functions = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^\s+([\d.]+)%\s+\[k\]\s+(\S+)/.exec(line);
    if (!m || !NETFILTER.test(m[2])) continue;
    share += Number(m[1]);
    if (TABLES.test(m[2])) tables += Number(m[1]);
    functions[m[2]] = (functions[m[2]] ?? 0) + Number(m[1]) / 100;
  }
  rmSync(file, { force: true });
  return { share: share / 100, tables: tables / 100, functions };
}

/** LXC's own lxc-net, started in `lab`'s host namespace with its /run/lxc and /var/lib/misc private to it. */
async function lxcNet(lab) {
  const marker = '/run/lxc/network_up';
  const had = existsSync(marker);
  // `ip netns exec` gives each command a mount namespace of its own, which lxc-net's dnsmasq keeps; the
  // mount points are LXC's own (empty where no lxc-net ever ran, as on a fresh machine)
  const r = await lab.exec(lab.host, 'sh', [
    '-c',
    'mkdir -p /run/lxc /var/lib/misc && mount -t tmpfs lxc /run/lxc && mount -t tmpfs lxc /var/lib/misc && exec "$0" start',
    LXC_NET,
  ]);
  if (r.exitCode !== 0) throw new Error(`lxc-net start: ${r.stdout}${r.stderr}`);
  if (!had && existsSync(marker)) {
    rmSync(marker, { force: true });
    throw new Error('lxc-net wrote the host’s /run/lxc');
  }
}

/** min–max of a series, as text */
const spread = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

/**
 * The variants, each on a lab of its own set up once (no switching between rounds): `up` brings its bridge
 * up in the lab's host namespace and returns the bridge; `afterGuests` changes brmgr's tables once its guests are
 * there. PROFILE=1 adds three that take brmgr's tables apart, to see where a cost is.
 */
/** BEFORE=/elsewhere/dist/bundle: basic and strict as another tree's brmgr-pre makes them, in the same run as this tree's */
const BEFORE = process.env.BEFORE;
/** brmgr's bridge at `level`, by this tree's brmgr-pre or, given, another bundle's */
const brmgrAt = (level, bundle) => async (lab) => {
  lab.config(BRIDGE, `[bridge]\nfirewall = nftables\nport_security = ${level}\n${NAT}`);
  if (!bundle) await lab.cli('brmgr-pre.mjs', BRIDGE);
  else {
    const r = await lab.exec(lab.host, process.execPath, [join(bundle, 'brmgr-pre.mjs'), BRIDGE]);
    if (r.exitCode !== 0) throw new Error(`${bundle}'s brmgr-pre: ${r.stderr || r.stdout}`);
  }
  return BRIDGE;
};
const VARIANTS = {
  'lxc-net': {
    up: async (lab) => {
      await lxcNet(lab);
      return 'lxcbr0';
    },
    subnet: '10.0.3',
  },
  basic: { up: brmgrAt('basic') },
  'strict, 2 guests': { up: brmgrAt('strict'), afterGuests: (lab, real) => bind(lab, real, 2) },
  'strict, 200 guests': { up: brmgrAt('strict'), afterGuests: (lab, real) => bind(lab, real, 200) },
  // the same as basic on a lab of its own: what two labs differ by with nothing different in them
  ...(process.env.TWIN ? { 'basic, a twin lab': { up: brmgrAt('basic') } } : {}),
  ...(BEFORE
    ? {
        'basic, before': { up: brmgrAt('basic', BEFORE) },
        'strict, before': { up: brmgrAt('strict', BEFORE), afterGuests: (lab, real) => bind(lab, real, 2) },
      }
    : {}),
  ...(process.env.PROFILE
    ? {
        // basic's bridge table deleted: what is left is brmgr's routing firewall (inet table, iptables shim)
        'basic, bridge table deleted': {
          up: brmgrAt('basic'),
          afterGuests: (lab) => lab.exec(lab.host, 'nft', ['delete', 'table', 'bridge', `brmgr-${BRIDGE}`]),
        },
        // basic without the MAC cap's lookup, every frame's one set lookup
        'basic, MAC cap deleted': { up: brmgrAt('basic'), afterGuests: (lab) => unMacCap(lab) },
        // strict's bridge table alone: its inet table (the host's ports, a fib lookup a packet) deleted
        'strict, inet table deleted': {
          up: brmgrAt('strict'),
          afterGuests: async (lab, real) => {
            await bind(lab, real, 2);
            await lab.exec(lab.host, 'nft', ['delete', 'table', 'inet', STRICT_TABLE]);
          },
        },
      }
    : {}),
};

if (PARTS.includes('strict')) {
  if (!existsSync(LXC_NET)) throw new Error('LXC is not installed (package lxc): lxc-net is the peer');
  const load = [readFileSync('/proc/loadavg', 'utf8').trim()];
  // ONLY='lxc-net|basic': those variants alone (more rounds in the same time)
  const names = Object.keys(VARIANTS).filter((n) => !process.env.ONLY || process.env.ONLY.split('|').includes(n));
  const labs = [];
  let brNf;
  /** a variant's lab, its bridge and two guests */
  const setUp = async (k, name) => {
    const v = VARIANTS[name];
    const lab = await new Lab(`v${k}`).open(name === 'lxc-net' ? '' : `[bridge]\nfirewall = nftables\n${NAT}`);
    labs.push(lab);
    const bench = await twoGuests(lab, await v.up(lab), v.subnet ?? '10.0.1');
    if (name !== 'lxc-net') await scopePorts(lab, [bench.guests.g1.port, bench.guests.g2.port]);
    if (v.afterGuests) await v.afterGuests(lab, [bench.guests.g1, bench.guests.g2]);
    brNf ??= (await lab.exec(lab.host, 'sysctl', ['-n', 'net.bridge.bridge-nf-call-iptables'])).stdout;
    return { lab, bench };
  };
  const tearDown = async (name, { lab, bench }) => {
    bench.stop();
    if (name !== 'lxc-net') await lab.cli('brmgr-post.mjs', BRIDGE);
    await lab.close();
    labs.splice(labs.indexOf(lab), 1);
  };
  try {
    // FRESH=1: each variant's lab made anew for each round, so that what one lab differs from another by
    // is noise the medians take out rather than a bias
    const set = {};
    if (!FRESH) for (const [k, name] of names.entries()) set[name] = await setUp(k, name);
    const runs = Object.fromEntries(names.map((n) => [n, { nat: [], l2: [] }]));
    const perCpu = Object.fromEntries(names.map((n) => [n, { nat: [], l2: [] }]));
    const netfilter = Object.fromEntries(names.map((n) => [n, { nat: [], l2: [] }]));
    const tables = Object.fromEntries(names.map((n) => [n, { nat: [], l2: [] }]));
    // netfilter's functions by name: their mean share of the samples over the rounds
    const functions = Object.fromEntries(names.map((n) => [n, { nat: {}, l2: {} }]));
    for (let i = 0; i < ROUNDS; i++) {
      // rotate which goes first, and alternate which path
      for (const name of [...names.slice(i % names.length), ...names.slice(0, i % names.length)]) {
        if (FRESH) set[name] = await setUp(names.indexOf(name), name);
        for (const path of i % 2 ? ['l2', 'nat'] : ['nat', 'l2']) {
          const got = await set[name].bench.iperf(path);
          runs[name][path].push(got.gbps);
          perCpu[name][path].push(got.perCpu);
          if (PERF) {
            netfilter[name][path].push(got.netfilter.share);
            tables[name][path].push(got.netfilter.tables);
            for (const [f, x] of Object.entries(got.netfilter.functions))
              functions[name][path][f] = (functions[name][path][f] ?? 0) + x / ROUNDS;
          }
        }
        if (FRESH) await tearDown(name, set[name]);
      }
    }
    load.push(readFileSync('/proc/loadavg', 'utf8').trim());
    // ratios of the medians, and each round's own ratio (the variants of one round ran back to back)
    const ratio = (of, a, b, path) => {
      const [x, y] = [of[a][path], of[b][path]];
      const rounds = x.map((v, k) => v / y[k]);
      return `${(median(x) / median(y)).toFixed(3)} (per round: median ${median(rounds).toFixed(3)}, ${spread(rounds)})`;
    };
    // from shares: what is not theirs costs the same per byte, so a ÷ b per CPU is (1 − a's) ÷ (1 − b's)
    const shareRatio = (of, a, b, path) => {
      const [x, y] = [of[a][path], of[b][path]];
      const rounds = x.map((v, k) => (1 - v) / (1 - y[k]));
      return `${((1 - median(x)) / (1 - median(y))).toFixed(3)} (per round: median ${median(rounds).toFixed(3)}, ${spread(rounds)})`;
    };
    const series = (xs) => `median ${median(xs).toFixed(2)}, ${spread(xs)}: ${xs.map((x) => x.toFixed(2)).join(' ')}`;
    const goals = [
      ['strict ÷ basic (goal ≥ 0.9)', 'strict, 2 guests', 'basic'],
      ['basic ÷ lxc-net (goal ≥ 0.95)', 'basic', 'lxc-net'],
      ['200 ÷ 2 guests (goal ≥ 0.9)', 'strict, 200 guests', 'strict, 2 guests'],
      ...(process.env.TWIN ? [['basic ÷ basic on a twin lab (1 but for the labs)', 'basic', 'basic, a twin lab']] : []),
      ...(BEFORE
        ? [
            ['basic before ÷ lxc-net', 'basic, before', 'lxc-net'],
            ['basic ÷ basic before', 'basic', 'basic, before'],
            ['strict before ÷ basic before', 'strict, before', 'basic, before'],
            ['strict ÷ strict before', 'strict, 2 guests', 'strict, before'],
          ]
        : []),
      ...(process.env.PROFILE
        ? [
            ['basic, bridge table deleted ÷ lxc-net', 'basic, bridge table deleted', 'lxc-net'],
            ['basic ÷ basic, bridge table deleted', 'basic', 'basic, bridge table deleted'],
            ['basic ÷ basic, MAC cap deleted', 'basic', 'basic, MAC cap deleted'],
            ['strict ÷ strict, inet table deleted', 'strict, 2 guests', 'strict, inet table deleted'],
            ['strict, inet table deleted ÷ basic', 'strict, inet table deleted', 'basic'],
          ]
        : []),
    ];
    const ran = goals.filter(([, a, b]) => names.includes(a) && names.includes(b));
    for (const [path, what] of Object.entries(PATHS))
      results[`port security, nftables: ${what}`] = {
        'Gbit/s': Object.fromEntries(names.map((n) => [n, series(runs[n][path])])),
        'Gbit per CPU second of the two iperf3': Object.fromEntries(names.map((n) => [n, series(perCpu[n][path])])),
        'ratios of Gbit/s': Object.fromEntries(ran.map(([g, a, b]) => [g, ratio(runs, a, b, path)])),
        'ratios of Gbit per CPU second': Object.fromEntries(ran.map(([g, a, b]) => [g, ratio(perCpu, a, b, path)])),
        ...(PERF
          ? {
              "netfilter's share of the iperf3 processes' samples, %": Object.fromEntries(
                names.map((n) => [n, series(netfilter[n][path].map((x) => 100 * x))]),
              ),
              "netfilter's functions, mean % of the samples (those over 0.3)": Object.fromEntries(
                names.map((n) => [
                  n,
                  Object.entries(functions[n][path])
                    .filter(([, x]) => x >= 0.003)
                    .sort(([, a], [, b]) => b - a)
                    .map(([f, x]) => `${f} ${(100 * x).toFixed(1)}`)
                    .join(', '),
                ]),
              ),
              'ratios from those shares, (1 − a) ÷ (1 − b) of the medians': Object.fromEntries(
                ran.map(([g, a, b]) => [g, shareRatio(netfilter, a, b, path)]),
              ),
              "nf_tables' own share (chains, expressions, sets, the hooks' walk), %": Object.fromEntries(
                names.map((n) => [n, series(tables[n][path].map((x) => 100 * x))]),
              ),
              "ratios from nf_tables' own share": Object.fromEntries(
                ran.map(([g, a, b]) => [g, shareRatio(tables, a, b, path)]),
              ),
            }
          : {}),
      };
    results['port security, nftables: the run'] = {
      'non-offloading': TX_OFF.length
        ? `${TX_OFF.join(', ')}: the guest's interface (ethtool -K nic tx off); g1 sends in both paths`
        : 'none',
      'bridge-nf-call-iptables': brNf,
      loadavg: `${load[0]} (start), ${load[1]} (end)`,
    };
    if (!FRESH) for (const name of names) await tearDown(name, set[name]);
  } finally {
    for (const lab of labs) await lab.close();
  }
}

console.log(
  JSON.stringify({ unit: 'Gbit/s, iperf3 TCP from a guest', rounds: ROUNDS, seconds: SECONDS, results }, null, 2),
);
