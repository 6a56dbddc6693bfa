// What the exhaustion caps cost a guest's throughput: guest-to-outside TCP through a NAT bridge
// (iperf3, package iperf3), with the caps (the MAC budget in the bridge table's prerouting chain,
// the guest_conns count in the forward chain) against the same bridge with those rules deleted,
// alternating, ROUNDS (5) × SECONDS (5) each, per firewall backend (BACKENDS, `nftables iptables`).
// Namespaces only; all deleted at the end.
import { execa } from 'execa';
import { BRIDGE, Lab, median } from './lib/lab.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECONDS = Number(process.env.SECONDS ?? 5);
const BACKENDS = (process.env.BACKENDS ?? 'nftables iptables').split(' ');

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

const results = {};
for (const backend of BACKENDS) {
  const lab = await new Lab('dp').open(
    `[bridge]\nfirewall = ${backend}\n[ipv4]\naddress = 10.0.1.1/24\ndhcp = false\n[dns]\nenable = false\n`,
  );
  try {
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
    results[backend] = {
      capped: capped.map((x) => x.toFixed(2)),
      uncapped: uncapped.map((x) => x.toFixed(2)),
      'median capped ÷ uncapped': (median(capped) / median(uncapped)).toFixed(3),
    };
  } finally {
    await lab.close();
  }
}
console.log(
  JSON.stringify({ unit: 'Gbit/s guest → outside, iperf3 TCP', rounds: ROUNDS, seconds: SECONDS, results }, null, 2),
);
