// brmgr against LXC's own lxc-net (package lxc), the bridge most LXC hosts run, with the same
// subnet: the time from nothing to a bridge serving DHCP, and a new guest's wait for its lease.
// lxc-net runs inside a throwaway namespace too; it keeps /run/lxc and its lease file on the
// host's filesystem, so this refuses to run where a real lxc-net is up.
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { BRIDGE, Lab, median, ms } from './lib/lab.mjs';
import { cpuMs } from './lib/proc.mjs';

const RUNS = Number(process.env.RUNS ?? 7);
const LXC_NET = '/usr/libexec/lxc/lxc-net';
const CPU_TIME = fileURLToPath(new URL('lib/cpu-time.py', import.meta.url));
const LXC_LEASES = '/var/lib/misc/dnsmasq.lxcbr0.leases';

if (!existsSync(LXC_NET)) {
  console.log('lxc-net.mjs: skipped, LXC is not installed (package lxc)');
  process.exit(0);
}
if (existsSync('/run/lxc/network_up') || existsSync(LXC_LEASES)) {
  console.log('lxc-net.mjs: skipped, this host runs lxc-net (or kept its leases): not touching it');
  process.exit(0);
}

/** A new guest on `bridge` in `lab`'s host namespace: udhcpc's whole run, in ms. */
async function lease(lab, bridge, n) {
  const ns = await lab.ns(`bench-${lab.tag}-g${n}`);
  const port = `pg${n}${lab.tag}`.slice(0, 15);
  await execa('ip', ['-n', lab.host, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'nic', 'netns', ns]);
  await execa('ip', ['-n', lab.host, 'link', 'set', port, 'master', bridge, 'up']);
  await execa('ip', ['-n', ns, 'link', 'set', 'nic', 'up']);
  const start = process.hrtime.bigint();
  const r = await lab.exec(ns, 'busybox', ['udhcpc', '-i', 'nic', '-f', '-q', '-n', '-t', '10', '-s', '/bin/true']);
  if (r.exitCode !== 0) throw new Error(`no lease on ${bridge}: ${r.stderr}`);
  return ms(start);
}

// lxc-net: its defaults (10.0.3.1/24, nftables, dnsmasq's ping check before each offer)
async function lxcNet(i) {
  const lab = new Lab(`lx${i}`);
  try {
    await lab.open('');
    const start = process.hrtime.bigint();
    const r = await lab.exec(lab.host, 'python3', [CPU_TIME, LXC_NET, 'start']);
    if (r.exitCode !== 0) throw new Error(`lxc-net start: ${r.stdout}${r.stderr}`);
    const up = ms(start);
    // the CPU of lxc-net's script and the tools it waited for
    const used = /^cpu ([\d.]+) ([\d.]+)$/m.exec(r.stderr);
    const cpu = used ? (Number(used[1]) + Number(used[2])) * 1000 : undefined;
    const took = await lease(lab, 'lxcbr0', i);
    await lab.exec(lab.host, LXC_NET, ['stop']);
    return { up, lease: took, cpu };
  } finally {
    await lab.close();
    // what lxc-net leaves on the host's filesystem (none of it was there before)
    for (const f of [LXC_LEASES, '/run/lxc/network_up', '/run/lxc/dnsmasq.pid']) rmSync(f, { force: true });
  }
}

// brmgr: the same subnet, one `brmgr run` bringing the bridge up and serving (from the bundle, not
// the startup snapshot: see build/launcher.sh)
async function brmgr(i) {
  const lab = new Lab(`bm${i}`);
  try {
    await lab.open('[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.0.3.1/24\n');
    const start = process.hrtime.bigint();
    const supervisor = await lab.run();
    const up = ms(start);
    // its CPU to get there (and its tools'): what a loaded machine's wait for a core does not inflate
    const cpu = cpuMs(supervisor.pid);
    const took = await lease(lab, BRIDGE, i);
    await lab.stop(supervisor.proc);
    return { up, lease: took, cpu };
  } finally {
    await lab.close();
  }
}

const results = { lxc: { up: [], lease: [], cpu: [] }, brmgr: { up: [], lease: [], cpu: [] } };
const keep = (into, r) => {
  into.up.push(r.up);
  into.lease.push(r.lease);
  if (r.cpu !== undefined) into.cpu.push(r.cpu);
};
for (let i = 0; i < RUNS; i++) {
  // which goes first alternates, so neither always runs on a machine the other just warmed
  if (i % 2 === 0) {
    keep(results.lxc, await lxcNet(i));
    keep(results.brmgr, await brmgr(i));
  } else {
    keep(results.brmgr, await brmgr(i));
    keep(results.lxc, await lxcNet(i));
  }
}
const m = (r) => ({ up: median(r.up), lease: median(r.lease), cpu: median(r.cpu) });
const [lxc, bm] = [m(results.lxc), m(results.brmgr)];
const line = (name, r) =>
  `${name}: up and serving DHCP in ${r.up.toFixed(0)} ms, a new guest's lease in ${r.lease.toFixed(0)} ms` +
  (r.cpu === undefined ? '' : `; CPU to serving ${r.cpu.toFixed(0)} ms (with the tools it waited for)`);
console.log(`medians of ${RUNS}, alternating which goes first`);
console.log(line('lxc-net start', lxc));
console.log(line('brmgr run    ', bm));
console.log(
  `brmgr ÷ lxc-net: up and serving ${(bm.up / lxc.up).toFixed(2)}x (its CPU ${(bm.cpu / lxc.cpu).toFixed(2)}x), ` +
    `a new guest's lease ${(bm.lease / lxc.lease).toFixed(3)}x`,
);
