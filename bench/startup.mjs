// Where `brmgr run`'s CPU goes from nothing to serving: the supervisor's own CPU (process.cpuUsage, its
// tools' not included) at node's start, at each process it spawns, and once dnsmasq serves, medians of
// RUNS (5). Node starts it as the launcher does (`brmgr-run.mjs`, with the code cache, where the tree has
// it; else `brmgr.mjs run`), with a preload (lib/cpu-marks.cjs) that records the marks: node's flags
// differ from the launcher's, so the first run makes the code cache for them and is not counted.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { BRIDGE, bundled, Lab, median } from './lib/lab.mjs';

const RUNS = Number(process.env.RUNS ?? 5);
const MARKS = fileURLToPath(new URL('lib/cpu-marks.cjs', import.meta.url));
const entry = existsSync(bundled('brmgr-run.mjs')) ? [bundled('brmgr-run.mjs'), 'run'] : [bundled('brmgr.mjs'), 'run'];

const runs = [];
for (let i = 0; i <= RUNS; i++) {
  const file = `/tmp/brmgr-bench-marks-${process.pid}`;
  const lab = new Lab(`su${i}`, { env: { BRMGR_CPU_MARKS: file } });
  try {
    await lab.open('[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.0.3.1/24\n');
    const proc = lab.exec(lab.host, process.execPath, ['--require', MARKS, ...entry, BRIDGE], {
      buffer: false,
      stdout: 'pipe',
      stderr: 'inherit',
    });
    await new Promise((resolve) =>
      createInterface({ input: proc.stdout }).on('line', (l) => l.includes('"event":"ready"') && resolve()),
    );
    process.kill(proc.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 200));
    // (a run's own temp folder named in a command is no difference)
    if (i > 0)
      runs.push(
        readFileSync(file, 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.replace(/\/tmp\/\S+/g, '…').split('\t')),
      );
    rmSync(file, { force: true });
    proc.kill('SIGTERM');
    await proc.catch(() => {});
  } finally {
    await lab.close();
  }
}
// the marks every run has, in the first run's order (a watch may start before or after serving)
const common = runs[0].map(([, what]) => what).filter((what) => runs.every((r) => r.some(([, w]) => w === what)));
console.log(`brmgr run's own CPU (ms) at each step, medians of ${RUNS} (${entry[0]})`);
let last = 0;
for (const what of common) {
  const at = median(runs.map((r) => Number(r.find(([, w]) => w === what)[0])));
  console.log(`${at.toFixed(1).padStart(7)}  +${(at - last).toFixed(1).padStart(5)}  ${what}`);
  last = at;
}
