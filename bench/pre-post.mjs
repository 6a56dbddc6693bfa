// Median wall time of brmgr-pre and brmgr-post, and processes spawned per run,
// for both firewall backends, in a throwaway network namespace.
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { bundled, invocation, median } from './lib/lab.mjs';

const RUNS = Number(process.env.RUNS ?? 15);
const ns = `bench-pp-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'brmgr-bench-'));
const env = {
  PATH: process.env.PATH,
  ...(process.env.BRMGR_NO_SNAPSHOT ? { BRMGR_NO_SNAPSHOT: '1' } : {}),
  BRMGR_CONF_DIR: join(dir, 'conf'),
  BRMGR_RUN_DIR: join(dir, 'run'),
  BRMGR_STATE_DIR: join(dir, 'state'),
};
// the CPU the program and every process it waited for took, which a loaded machine's wait for a
// core does not inflate as it does the wall time
const TIME = ['python3', fileURLToPath(new URL('lib/cpu-time.py', import.meta.url))];
const cli = (program, ...args) => {
  const [cmd, argv] = invocation(program, ...args);
  return ['netns', 'exec', ns, ...TIME, cmd, ...argv];
};

async function timed(args, more = {}) {
  const start = process.hrtime.bigint();
  const r = await execa('ip', args, { env: { ...env, ...more }, extendEnv: false, reject: false });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.exitCode !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  const cpu = /^cpu ([\d.]+) ([\d.]+)$/m.exec(r.stderr);
  const last = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .findLast((e) => 'processes' in e);
  return { ms, processes: last?.processes, cpu: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : Number.NaN };
}

try {
  await execa('ip', ['netns', 'add', ns]);
  mkdirSync(env.BRMGR_CONF_DIR, { recursive: true });
  const bare = [];
  const bareCpu = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await timed(['netns', 'exec', ns, ...TIME, process.execPath, '-e', '0']);
    bare.push(r.ms);
    bareCpu.push(r.cpu);
  }
  console.log(`node -e 0: median ${median(bare).toFixed(0)} ms, CPU ${median(bareCpu).toFixed(0)} ms`);
  // with launchers, each run also without the startup snapshot (from the bundle), alternating which goes first
  const ways = existsSync(bundled('brmgr')) && !env.BRMGR_NO_SNAPSHOT ? ['snapshot', 'bundle'] : [''];
  for (const firewall of ['nftables', 'iptables']) {
    writeFileSync(join(env.BRMGR_CONF_DIR, 'brb0.conf'), `[bridge]\nfirewall = ${firewall}\n`);
    const runs = Object.fromEntries(ways.map((w) => [w, { pre: [], again: [], post: [], cpu: [] }]));
    let spawned, spawnedAgain;
    for (let i = 0; i < RUNS; i++) {
      for (let k = 0; k < ways.length; k++) {
        const way = ways[(i + k) % ways.length];
        const more = way === 'bundle' ? { BRMGR_NO_SNAPSHOT: '1' } : {};
        const p = await timed(cli('brmgr-pre.mjs', 'brb0'), more);
        const q = await timed(cli('brmgr-pre.mjs', 'brb0'), more);
        runs[way].pre.push(p.ms);
        runs[way].cpu.push(p.cpu);
        runs[way].again.push(q.ms);
        spawned = p.processes;
        spawnedAgain = q.processes;
        runs[way].post.push((await timed(cli('brmgr-post.mjs', 'brb0'), more)).ms);
      }
    }
    for (const way of ways) {
      const { pre, again, post, cpu } = runs[way];
      console.log(
        `${firewall}${way ? ` (${way})` : ''}: pre median ${median(pre).toFixed(0)} ms ` +
          `(min ${Math.min(...pre).toFixed(0)}, max ${Math.max(...pre).toFixed(0)}), ` +
          `no-op pre ${median(again).toFixed(0)} ms, post ${median(post).toFixed(0)} ms; ` +
          `processes per pre: ${spawned} (+1 node), no-op pre: ${spawnedAgain}; ` +
          `pre ÷ node -e 0: ${(median(pre) / median(bare)).toFixed(2)}x; ` +
          `CPU of a pre ${median(cpu).toFixed(0)} ms (${(median(cpu) / median(bareCpu)).toFixed(2)}x node -e 0's)`,
      );
    }
  }
} finally {
  await execa('ip', ['netns', 'del', ns], { reject: false });
  rmSync(dir, { recursive: true, force: true });
}
