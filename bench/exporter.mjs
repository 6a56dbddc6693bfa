// What watching costs: BRIDGES (4) bridges, each with its own `brmgr run`, first left alone for
// SECONDS (20), then scraped by `brmgr exporter` every second for as long; the supervisors' CPU in
// each window (the peer: the same supervisors unwatched), the exporter's own CPU and memory, and how
// long a scrape takes.
import { setTimeout as sleep } from 'node:timers/promises';
import { bundled, Lab, median, ms } from './lib/lab.mjs';
import { cpuTicks, rssKiB } from './lib/proc.mjs';

const BRIDGES = Number(process.env.BRIDGES ?? 4);
const SECONDS = Number(process.env.SECONDS ?? 20);
const LISTEN = '127.0.0.1:9479';

const lab = new Lab('exp');
try {
  await lab.open();
  const bridges = Array.from({ length: BRIDGES }, (_, n) => `be${n}`);
  bridges.forEach((b, n) => lab.config(b, `[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.72.${n}.1/24\n`));
  const supervisors = [];
  for (const b of bridges) supervisors.push(await lab.run(b));
  await sleep(3000);

  const ticks = () => supervisors.reduce((a, s) => a + cpuTicks(s.pid), 0);
  const window = async (during) => {
    const before = ticks();
    await during();
    return (ticks() - before) / 100; // CPU seconds
  };

  const idle = await window(() => sleep(SECONDS * 1000));

  const exporter = lab.exec(lab.host, process.execPath, [bundled('brmgr.mjs'), 'exporter', '--listen', LISTEN], {
    buffer: false,
  });
  lab.children.push(exporter);
  const scrape = async () => {
    const script = `fetch('http://${LISTEN}/metrics').then((r) => r.text()).then((t) => process.stdout.write(String(t.length)))`;
    const start = process.hrtime.bigint();
    const r = await lab.exec(lab.host, process.execPath, ['-e', script]);
    return r.exitCode === 0 ? ms(start) : undefined;
  };
  for (let i = 0; i < 50 && (await scrape()) === undefined; i++) await sleep(200);
  const exporterBefore = cpuTicks(exporter.pid);
  const took = [];
  const scraped = await window(async () => {
    const end = Date.now() + SECONDS * 1000;
    while (Date.now() < end) {
      const started = Date.now();
      const t = await scrape();
      if (t === undefined) throw new Error('the exporter did not answer');
      took.push(t);
      await sleep(Math.max(0, 1000 - (Date.now() - started)));
    }
  });
  const exporterCpu = (cpuTicks(exporter.pid) - exporterBefore) / 100;
  const rss = rssKiB(exporter.pid) / 1024;

  console.log(`${BRIDGES} bridges, ${SECONDS} s windows, one scrape a second:`);
  console.log(
    `  supervisors' CPU: ${idle.toFixed(2)} s unwatched (the peer), ${scraped.toFixed(2)} s scraped ` +
      `(${idle > 0 ? (scraped / idle).toFixed(2) : 'n/a'}x)`,
  );
  console.log(
    `  exporter: ${exporterCpu.toFixed(2)} CPU s over ${took.length} scrapes (${((exporterCpu / took.length) * 1000).toFixed(0)} ms each), ` +
      `RSS ${rss.toFixed(1)} MiB; a scrape takes ${median(took).toFixed(0)} ms (median, the client's own start included)`,
  );
  await Promise.all(supervisors.map((s) => lab.stop(s.proc)));
} finally {
  await lab.close();
}
