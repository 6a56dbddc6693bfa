// Guest-to-guest TCP throughput across a VXLAN-stretched bridge (a guest on an
// extending host to a guest on the authority) against two guests on one bridge,
// with iperf3, alternating, ROUNDS (3) × SECONDS (5) each. Guests use the MTU the
// tunnel leaves (1450), as DHCP tells them. Namespaces only; all deleted at the end.
// UNDERLAY_ETHTOOL: `ethtool -K` settings for both ends of the underlay veth, e.g.
// "tx-udp_tnl-segmentation off tx-udp_tnl-csum-segmentation off gro on": a NIC without
// VXLAN segmentation but with GRO, whose wire carries MTU-sized packets (default: none).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { invocation, median } from './lib/lab.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 5);
const UNDERLAY_ETHTOOL = (process.env.UNDERLAY_ETHTOOL ?? '').split(/\s+/).filter(Boolean);
const tag = process.pid.toString(36);
const BR = 'brv0';
const dir = mkdtempSync(join(tmpdir(), 'brmgr-bench-'));
chmodSync(dir, 0o755);
const namespaces = [];
const run = (ns, cmd, args, opts = {}) => execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: true, ...opts });
const ip = (ns, ...args) => execa('ip', ['-n', ns, ...args]);

async function ns(name) {
  const full = `bench-vx${tag}-${name}`;
  await execa('ip', ['netns', 'add', full]);
  namespaces.push(full);
  await ip(full, 'link', 'set', 'lo', 'up');
  return full;
}

/** One host's brmgr: its own folders, like /etc/brmgr and /run/brmgr on a machine of its own. */
function brmgr(host, name, config) {
  const env = {
    PATH: process.env.PATH,
    ...(process.env.BRMGR_NO_SNAPSHOT ? { BRMGR_NO_SNAPSHOT: '1' } : {}),
    BRMGR_CONF_DIR: join(dir, name, 'conf'),
    BRMGR_RUN_DIR: join(dir, name, 'run'),
    BRMGR_STATE_DIR: join(dir, name, 'state'),
  };
  mkdirSync(env.BRMGR_CONF_DIR, { recursive: true });
  writeFileSync(join(env.BRMGR_CONF_DIR, `${BR}.conf`), config);
  const cli = (program) => run(host, ...invocation(program, BR), { env, extendEnv: false });
  return { pre: () => cli('brmgr-pre.mjs'), post: () => cli('brmgr-post.mjs') };
}

async function guest(host, name, address) {
  const g = await ns(name);
  const port = `p${name}${tag}`.slice(0, 15);
  await ip(host, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'nic', 'netns', g);
  await ip(host, 'link', 'set', port, 'master', BR, 'up');
  await ip(g, 'address', 'add', address, 'dev', 'nic');
  await ip(g, 'link', 'set', 'nic', 'mtu', '1450', 'up');
  return g;
}

async function iperf(client, server) {
  const r = await run(client, 'iperf3', ['-c', server, '-t', String(SECONDS), '-J']);
  return JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e9;
}

const posts = [];
try {
  await execa('iperf3', ['--version']).catch(() => {
    throw new Error('iperf3 is not installed (apt-get install iperf3)');
  });
  const [a, b] = [await ns('a'), await ns('b')];
  await ip(a, 'link', 'add', 'u', 'type', 'veth', 'peer', 'name', 'u', 'netns', b);
  await ip(a, 'address', 'add', '198.51.100.1/24', 'dev', 'u');
  await ip(b, 'address', 'add', '198.51.100.2/24', 'dev', 'u');
  await ip(a, 'link', 'set', 'u', 'up');
  await ip(b, 'link', 'set', 'u', 'up');
  if (UNDERLAY_ETHTOOL.length) {
    for (const n of [a, b]) await run(n, 'ethtool', ['-K', 'u', ...UNDERLAY_ETHTOOL]);
    console.log(`underlay: ethtool -K u ${UNDERLAY_ETHTOOL.join(' ')}`);
  }
  const A = brmgr(
    a,
    'a',
    `[bridge]\nmode = isolated\nfirewall = nftables\n[ipv4]\naddress = 10.0.1.1/24\ndhcp = false\n[dns]\nenable = false\n` +
      '[vxlan]\nid = 7\npeers = 198.51.100.2\n',
  );
  const B = brmgr(b, 'b', '[bridge]\nmode = bridged\nfirewall = nftables\n[vxlan]\nid = 7\npeers = 198.51.100.1\n');
  await A.pre();
  posts.push(A.post);
  await B.pre();
  posts.push(B.post);
  const server = await guest(a, 'sa', '10.0.1.10/24');
  const local = await guest(a, 'la', '10.0.1.11/24');
  const remote = await guest(b, 'rb', '10.0.1.12/24');
  const iperfd = execa('ip', ['netns', 'exec', server, 'iperf3', '-s'], { reject: false });
  await new Promise((r) => setTimeout(r, 500));
  const same = [];
  const tunnel = [];
  for (let i = 0; i < ROUNDS; i++) {
    same.push(await iperf(local, '10.0.1.10'));
    tunnel.push(await iperf(remote, '10.0.1.10'));
  }
  iperfd.kill();
  const m = { same: median(same), tunnel: median(tunnel) };
  console.log(`on one bridge: median ${m.same.toFixed(2)} Gbit/s (${same.map((x) => x.toFixed(2)).join(', ')})`);
  console.log(
    `across the tunnel: median ${m.tunnel.toFixed(2)} Gbit/s (${tunnel.map((x) => x.toFixed(2)).join(', ')})`,
  );
  console.log(`tunnel ÷ one bridge: ${(m.tunnel / m.same).toFixed(2)}`);
} finally {
  for (const post of posts.reverse()) await post().catch(() => {});
  for (const n of namespaces.reverse()) await execa('ip', ['netns', 'del', n], { reject: false });
  rmSync(dir, { recursive: true, force: true });
}
