// DHCP as guests feel it, through `brmgr run`:
// (0) a new guest's wait for its lease: busybox udhcpc from its first DISCOVER to the ACK;
// (1) throughput with perfdhcp (Kea's, package kea-admin), through brmgr run and through a bare
//     dnsmasq started with the very config brmgr rendered, in one run, as a ratio of the best runs and
//     of the medians.
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { BRIDGE, Lab, median, ms, percentile } from './lib/lab.mjs';

const GUESTS = Number(process.env.GUESTS ?? 40);
const PERIOD = Number(process.env.PERIOD ?? 8); // seconds per perfdhcp run
// offered exchanges per second: above what dnsmasq serves here, not so far above that drops dominate
const RATE = Number(process.env.RATE ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 2);

// port_macs: (0) is one port taking a new MAC each time, past the default cap of 32 a port
const CONFIG = `[bridge]
firewall = nftables
port_macs = 1024
[ipv4]
address = 10.66.0.1/16
range = 10.66.1.1-10.66.255.254
max_leases = 65000
[dns]
domain = bench
upstream = 127.0.0.1
`;

const lab = new Lab('dhcp');
try {
  await lab.open(CONFIG);
  // each DISCOVER, OFFER and REQUEST is logged at debug only
  lab.env.BRMGR_LOG_LEVEL = 'debug';
  let supervisor = await lab.run();
  delete lab.env.BRMGR_LOG_LEVEL;
  const guest = await lab.client('g');
  const perf = await lab.client('c', '10.66.0.2/16');

  // (0) udhcpc as a new guest each time (a new MAC); -s /bin/true: take the lease, configure nothing.
  // dnsmasq's log lines, as brmgr run reports them, say when each packet reached it.
  const wall = [],
    exchange = [],
    server = [];
  for (let i = 0; i < GUESTS; i++) {
    const mac = `52:54:00:66:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    await execa('ip', ['-n', guest, 'link', 'set', 'nic', 'address', mac]);
    const acked = supervisor.next((e) => e.event === 'ack' && e.mac === mac);
    const start = process.hrtime.bigint();
    const r = await lab.exec(guest, 'busybox', [
      'udhcpc',
      '-i',
      'nic',
      '-f',
      '-q',
      '-n',
      '-t',
      '3',
      '-T',
      '1',
      '-s',
      '/bin/true',
    ]);
    wall.push(ms(start));
    if (r.exitCode !== 0) throw new Error(`udhcpc got no lease: ${r.stderr}`);
    await acked;
    const at = (event) => supervisor.events.find((e) => e.mac === mac && e.event === event).time;
    exchange.push(at('ack') - at('discover'));
    server.push(at('offer') - at('discover') + (at('ack') - at('request')));
  }
  const stats = (xs) =>
    `median ${median(xs).toFixed(0)} ms, p95 ${percentile(xs, 95).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;
  console.log(`(0) a new guest's lease over ${GUESTS} guests (busybox udhcpc):`);
  console.log(`    first DISCOVER to ACK, as dnsmasq saw them: ${stats(exchange)}`);
  console.log(`    of which dnsmasq's answers (DISCOVER→OFFER + REQUEST→ACK): ${stats(server)}`);
  console.log(`    udhcpc started to lease taken (+ process start in the namespace): ${stats(wall)}`);

  // (1) perfdhcp acts as a relay from 10.66.0.2 (giaddr), as fast as the server answers
  const conf = join(lab.dir, 'dnsmasq.conf');
  copyFileSync(join(lab.env.BRMGR_RUN_DIR, BRIDGE, 'dnsmasq.conf'), conf);
  const leases = join(lab.env.BRMGR_STATE_DIR, `dnsmasq.${BRIDGE}.leases`);
  const perfdhcp = async () => {
    const r = await lab.exec(perf, 'perfdhcp', [
      '-4',
      '-l',
      '10.66.0.2',
      '-r',
      String(RATE),
      '-R',
      '60000',
      '-p',
      String(PERIOD),
      '10.66.0.1',
    ]);
    const rate = /Rate: ([\d.]+) 4-way exchanges\/second/.exec(r.stdout);
    if (!rate) throw new Error(`perfdhcp: ${r.stdout}${r.stderr}`);
    const acks = /REQUEST-ACK\*\*\*\nsent packets: \d+\nreceived packets: (\d+)/.exec(r.stdout);
    return { rate: Number(rate[1]), acks: Number(acks?.[1] ?? 0) };
  };
  const fresh = () => {
    if (existsSync(leases)) rmSync(leases);
    writeFileSync(leases, '');
  };
  const through = { brmgr: [], bare: [] };
  const cpuSeconds = (pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  let supervisorCpu = 0;
  const perExchange = [];
  await lab.stop(supervisor.proc);
  for (let round = 0; round < ROUNDS; round++) {
    fresh();
    supervisor = await lab.run();
    const cpu = cpuSeconds(supervisor.pid);
    through.brmgr.push(await perfdhcp());
    const used = cpuSeconds(supervisor.pid) - cpu;
    supervisorCpu = Math.max(supervisorCpu, (used / PERIOD) * 100);
    perExchange.push((used * 1e6) / (through.brmgr.at(-1).rate * PERIOD));
    await lab.stop(supervisor.proc);

    fresh();
    // the same dnsmasq, the same config, its log thrown away instead of read
    const bare = lab.exec(lab.host, 'dnsmasq', ['--keep-in-foreground', `--conf-file=${conf}`], {
      stdout: 'ignore',
      stderr: 'ignore',
    });
    lab.children.push(bare);
    await waitForPort67(lab);
    through.bare.push(await perfdhcp());
    bare.kill('SIGTERM');
    await bare;
  }
  const best = (xs) => xs.reduce((a, b) => (b.rate > a.rate ? b : a));
  const rates = (xs) => xs.map((x) => x.rate);
  const b = best(through.brmgr),
    d = best(through.bare);
  console.log(
    `(1) perfdhcp DORA exchanges/s (best of ${ROUNDS} × ${PERIOD} s, offered ${RATE}/s): ` +
      `brmgr run ${b.rate.toFixed(0)} (${b.acks} leases), bare dnsmasq ${d.rate.toFixed(0)} (${d.acks} leases), ` +
      `ratio ${(b.rate / d.rate).toFixed(2)} (of the medians: ${(median(rates(through.brmgr)) / median(rates(through.bare))).toFixed(2)}); ` +
      `the supervisor, logging every DHCP line, used ${supervisorCpu.toFixed(0)} % of a core ` +
      `(${median(perExchange).toFixed(0)} µs a exchange, median)`,
  );
  console.log(
    `    every run: brmgr ${through.brmgr.map((x) => x.rate.toFixed(0)).join(', ')}; ` +
      `bare ${through.bare.map((x) => x.rate.toFixed(0)).join(', ')}`,
  );
} finally {
  await lab.close();
}

async function waitForPort67(lab) {
  for (let i = 0; i < 100; i++) {
    const { stdout } = await lab.exec(lab.host, 'ss', ['-Hlun', 'sport = :67']);
    if (stdout.trim()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('bare dnsmasq did not start');
}
