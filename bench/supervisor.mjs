// `brmgr run` as a service: (2) from `kill -9` of its dnsmasq to DNS and DHCP answering
// again, (3) the supervisor's memory and its CPU while nothing happens.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BRIDGE, Lab, median, ms } from './lib/lab.mjs';
import { startDnsProbe } from './lib/probe.mjs';
import { cpuTicks, rssKiB } from './lib/proc.mjs';

const KILLS = Number(process.env.KILLS ?? 10);
const IDLE = Number(process.env.IDLE ?? 30); // seconds

const CONFIG = `[bridge]
firewall = nftables
[ipv4]
address = 10.67.0.1/24
[dns]
domain = bench
upstream = 127.0.0.1
[host.probe]
mac = 52:54:00:67:00:01
ip = 10.67.0.9
`;

const lab = new Lab('sup');
try {
  await lab.open(CONFIG);
  let supervisor = await lab.run();
  const guest = await lab.client('g', '10.67.0.50/24');
  const probe = startDnsProbe(lab, guest, '10.67.0.1', 'probe.bench');
  await sleep(500);

  const dnsmasqPid = () => Number(readFileSync(join(lab.env.BRMGR_RUN_DIR, BRIDGE, 'dnsmasq.pid'), 'utf8'));
  const toReady = [],
    toAnswer = [];
  let restarts = 0;
  for (let i = 0; i < KILLS; i++) {
    // a fresh supervisor each time: a first crash is restarted at once, later ones back off
    if (i > 0) supervisor = await lab.run();
    await sleep(200);
    const pid = dnsmasqPid();
    const ready = supervisor.next((e) => e.event === 'ready');
    const killed = process.hrtime.bigint();
    // asked before the kill: the first answer to a query sent after it
    const answered = probe.answeredAfter(killed, 2000);
    process.kill(pid, 'SIGKILL');
    await ready;
    toReady.push(ms(killed));
    toAnswer.push(await answered);
    restarts += supervisor.events.filter((e) => e.event === 'restart').length;
    if (i < KILLS - 1) await lab.stop(supervisor.proc);
  }
  console.log(
    `(2) kill -9 of dnsmasq, ${KILLS} times: answering DNS again after median ${median(toAnswer).toFixed(0)} ms ` +
      `(max ${Math.max(...toAnswer).toFixed(0)} ms); brmgr run logs ready after ${median(toReady).toFixed(0)} ms; ` +
      `restarts logged: ${restarts}`,
  );

  probe.kill();
  // after start-up V8 compacts its heap for a few seconds; idle means after that
  await sleep(Number(process.env.SETTLE ?? 10) * 1000);
  const pid = supervisor.pid;
  const ticks = cpuTicks(pid);
  const start = process.hrtime.bigint();
  await sleep(IDLE * 1000);
  const cpu = ((cpuTicks(pid) - ticks) / 100 / (ms(start) / 1000)) * 100;
  console.log(
    `(3) idle supervisor over ${IDLE} s: CPU ${cpu.toFixed(2)} % of one core, ` +
      `RSS ${(rssKiB(pid) / 1024).toFixed(1)} MiB ` +
      `(dnsmasq: ${(rssKiB(dnsmasqPid()) / 1024).toFixed(1)} MiB)`,
  );
} finally {
  await lab.close();
}
