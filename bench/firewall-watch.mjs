// Another firewall taking brmgr's accept rules away while `brmgr run` runs: from the moment
// the change is made to a guest's DNS query being answered again, for an iptables-nft
// reload (ufw's: INPUT flushed, policy DROP), the same with iptables-legacy, and a
// `flush ruleset` followed by an iptables-nft INPUT DROP; against a no-op `brmgr-pre` in
// the same run (a repair is a pre run). Then the supervisor and its watches while idle.
import { setTimeout as sleep } from 'node:timers/promises';
import { BRIDGE, invocation, Lab, median, ms } from './lib/lab.mjs';
import { startDnsProbe } from './lib/probe.mjs';
import { children, comm, cpuTicks } from './lib/proc.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const IDLE = Number(process.env.IDLE ?? 20); // seconds

const CONFIG = `[bridge]
firewall = nftables
[ipv4]
address = 10.68.0.1/24
[dns]
domain = bench
upstream = 127.0.0.1
[host.probe]
mac = 52:54:00:68:00:01
ip = 10.68.0.9
`;

// each: the change, and what puts the host's own policy back before the next round
const CHANGES = {
  'iptables-nft INPUT flushed, policy DROP': [
    [
      ['iptables', '-F', 'INPUT'],
      ['iptables', '-P', 'INPUT', 'DROP'],
    ],
    [['iptables', '-P', 'INPUT', 'ACCEPT']],
  ],
  'iptables-legacy INPUT flushed, policy DROP': [
    [
      ['iptables-legacy', '-F', 'INPUT'],
      ['iptables-legacy', '-P', 'INPUT', 'DROP'],
    ],
    [['iptables-legacy', '-P', 'INPUT', 'ACCEPT']],
  ],
  'flush ruleset, then iptables-nft INPUT DROP': [
    [
      ['nft', 'flush', 'ruleset'],
      ['iptables', '-P', 'INPUT', 'DROP'],
    ],
    [['iptables', '-P', 'INPUT', 'ACCEPT']],
  ],
};

const lab = new Lab('fw');
try {
  await lab.open(CONFIG);
  const supervisor = await lab.run();
  const guest = await lab.client('g', '10.68.0.50/24');
  const probe = startDnsProbe(lab, guest, '10.68.0.1', 'probe.bench');
  await sleep(1000);

  const pre = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = process.hrtime.bigint();
    const r = await lab.exec(lab.host, ...invocation('brmgr-pre.mjs', BRIDGE));
    if (r.exitCode !== 0) throw new Error(`brmgr-pre: ${r.stderr}`);
    pre.push(ms(start));
  }
  console.log(`no-op brmgr-pre: median ${median(pre).toFixed(0)} ms`);

  for (const [what, [steps, undo]] of Object.entries(CHANGES)) {
    const back = [];
    for (let i = 0; i < ROUNDS; i++) {
      for (const s of steps) await lab.exec(lab.host, s[0], s.slice(1));
      // from here on brmgr's accept rules are gone: the first query answered after now is the repair
      // a change brmgr does not see is never repaired
      back.push(await probe.answeredAfter(process.hrtime.bigint(), 5000).catch(() => Number.POSITIVE_INFINITY));
      for (const s of undo) await lab.exec(lab.host, s[0], s.slice(1));
      await sleep(500);
    }
    const m = median(back);
    if (!Number.isFinite(m)) {
      console.log(
        `${what}: no DNS answer within 5 s in ${back.filter((b) => !Number.isFinite(b)).length} of ${ROUNDS}`,
      );
      continue;
    }
    console.log(
      `${what}: DNS answered again after median ${m.toFixed(0)} ms (max ${Math.max(...back).toFixed(0)} ms), ` +
        `${(m / median(pre)).toFixed(1)}x a no-op brmgr-pre`,
    );
  }

  probe.kill();
  await sleep(Number(process.env.SETTLE ?? 10) * 1000);
  const watched = [supervisor.pid, ...children(supervisor.pid).filter((p) => comm(p) !== 'dnsmasq')];
  const before = watched.map(cpuTicks);
  const start = process.hrtime.bigint();
  await sleep(IDLE * 1000);
  const seconds = ms(start) / 1000;
  const cpu = watched.map((p, i) => `${comm(p)} ${(((cpuTicks(p) - before[i]) / 100 / seconds) * 100).toFixed(2)} %`);
  console.log(`idle over ${IDLE} s, CPU of one core: ${cpu.join(', ')}`);
} finally {
  await lab.close();
}
