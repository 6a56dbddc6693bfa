// What the data path's guards cost a guest's throughput: guest-to-outside TCP through a NAT bridge
// (iperf3, package iperf3), alternating, ROUNDS (5) × SECONDS (5) each. PARTS (`caps strict`):
// caps: the exhaustion caps (the MAC budget in the bridge table's prerouting chain, the guest_conns
//   count in the forward chain) against the same bridge with those rules deleted, per firewall
//   backend (BACKENDS, `nftables iptables`);
// strict: `port_security = strict` against basic (the default), nftables, and strict with 200 guests'
//   bindings in its sets (the guest's and 199 fake ports' elements, as `brmgr run` adds them) against 2.
// Namespaces only; all deleted at the end.
import { execa } from 'execa';
import { BRIDGE, Lab, median } from './lib/lab.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECONDS = Number(process.env.SECONDS ?? 5);
const BACKENDS = (process.env.BACKENDS ?? 'nftables iptables').split(' ');
const PARTS = (process.env.PARTS ?? 'caps strict').split(' ');

await execa('iperf3', ['--version']).catch(() => {
  throw new Error('iperf3 is not installed (apt-get install iperf3)');
});

/** Deletes the caps' rules brmgr-pre made: the prerouting jump, and the connection count in either backend. */
async function uncap(lab, backend) {
  await lab.exec(lab.host, 'nft', ['flush', 'chain', 'bridge', `brmgr-${BRIDGE}`, 'prerouting']);
  if (backend === 'nftables') {
    const listed = await lab.exec(lab.host, 'nft', ['-a', 'list', 'chain', 'inet', `brmgr-${BRIDGE}`, 'forward']);
    for (const line of listed.stdout.split('\n').filter((l) => l.includes('ct count'))) {
      const handle = /# handle (\d+)/.exec(line)?.[1];
      await lab.exec(lab.host, 'nft', ['delete', 'rule', 'inet', `brmgr-${BRIDGE}`, 'forward', 'handle', handle]);
    }
  } else {
    const saved = await lab.exec(lab.host, 'iptables-save', ['-t', 'filter']);
    for (const line of saved.stdout.split('\n').filter((l) => l.includes('connlimit')))
      await lab.exec(lab.host, 'iptables', ['-D', ...line.slice(3).split(' ')]);
  }
  const left = [
    (await lab.exec(lab.host, 'nft', ['list', 'ruleset'])).stdout,
    (await lab.exec(lab.host, 'iptables-save', [])).stdout,
  ].join('\n');
  if (/ct count|connlimit|jump port-macs/.test(left)) throw new Error('a cap is still there');
}

/** A NAT bridge from brmgr-pre, a guest (10.0.1.50, port `pg…`) and the outside (192.0.2.2) with an iperf3 server. */
async function natLab(lab) {
  const outside = await lab.ns(`bench-${lab.tag}-o`);
  await execa('ip', ['-n', lab.host, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'nic', 'netns', outside]);
  await execa('ip', ['-n', lab.host, 'address', 'add', '192.0.2.1/24', 'dev', 'up0']);
  await execa('ip', ['-n', lab.host, 'link', 'set', 'up0', 'up']);
  await execa('ip', ['-n', outside, 'address', 'add', '192.0.2.2/24', 'dev', 'nic']);
  await execa('ip', ['-n', outside, 'link', 'set', 'nic', 'up']);
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

/**
 * The bindings `brmgr run` adds for `guests` guests (plan/bindings.ts): the real guest's port, MAC and address,
 * and fake ports' (`fp1`, …) with their own MACs and addresses. One `nft -f`.
 */
const hex2 = (n) => n.toString(16).padStart(2, '0');

async function bind(lab, port, mac, guests) {
  const all = [{ port, mac, ip: '10.0.1.50' }];
  for (let i = 1; i < guests; i++)
    all.push({
      port: `fp${i}`,
      mac: `52:54:01:00:${hex2(i >> 8)}:${hex2(i & 255)}`,
      ip: `10.0.${2 + (i >> 8)}.${i & 255}`,
    });
  const add = (set, elements) => `add element bridge ${STRICT_TABLE} ${set} { ${elements.join(', ')} }\n`;
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
    );
  const r = await lab.exec(lab.host, 'nft', ['-f', '-'], { input: text });
  if (r.exitCode !== 0) throw new Error(`nft: ${r.stderr}`);
  const listed = (await lab.exec(lab.host, 'nft', ['list', 'set', 'bridge', STRICT_TABLE, 'addr4'])).stdout;
  if ((listed.match(/ \. 10\.0\./g) ?? []).length !== guests)
    throw new Error(`addr4 has not ${guests} elements:\n${listed}`);
}

if (PARTS.includes('strict')) {
  const lab = await new Lab('ps').open(`[bridge]\nfirewall = nftables\n${NAT}`);
  try {
    const { guest, port, server, iperf } = await natLab(lab);
    const mac = JSON.parse((await execa('ip', ['-n', guest, '-json', 'link', 'show', 'nic'])).stdout)[0].address;
    const level = async (strict, guests) => {
      lab.config(BRIDGE, `[bridge]\nfirewall = nftables\n${strict ? 'port_security = strict\n' : ''}${NAT}`);
      await lab.cli('brmgr-pre.mjs', BRIDGE);
      const has = (await lab.exec(lab.host, 'nft', ['list', 'table', 'bridge', STRICT_TABLE])).exitCode === 0;
      if (has !== strict) throw new Error(`the strict table is ${has ? 'there' : 'missing'}`);
      if (!strict) return;
      // a fresh table: flush what the last strict round left, then the bindings
      for (const set of ['ports', 'bound', 'macs', 'addr4'])
        await lab.exec(lab.host, 'nft', ['flush', 'set', 'bridge', STRICT_TABLE, set]);
      await bind(lab, port, mac, guests);
    };
    const runs = { basic: [], 'strict, 2 guests': [], 'strict, 200 guests': [] };
    const order = [
      ['basic', false, 0],
      ['strict, 2 guests', true, 2],
      ['strict, 200 guests', true, 200],
    ];
    for (let i = 0; i < ROUNDS; i++) {
      // rotate which goes first
      for (const [name, strict, guests] of [...order.slice(i % 3), ...order.slice(0, i % 3)]) {
        await level(strict, guests);
        runs[name].push(await iperf());
      }
    }
    server.kill();
    await lab.cli('brmgr-post.mjs', BRIDGE);
    const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
    results['port security, nftables'] = {
      ...Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((x) => x.toFixed(2))])),
      'median strict ÷ basic': (m['strict, 2 guests'] / m.basic).toFixed(3),
      'median 200 ÷ 2 guests': (m['strict, 200 guests'] / m['strict, 2 guests']).toFixed(3),
    };
  } finally {
    await lab.close();
  }
}

console.log(
  JSON.stringify({ unit: 'Gbit/s guest → outside, iperf3 TCP', rounds: ROUNDS, seconds: SECONDS, results }, null, 2),
);
