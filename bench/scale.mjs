// How pre and post grow with the host: (a) the 1st bridge against the 100th, in one namespace,
// per firewall backend of the measured bridge; (b) one bridge among 5 unrelated veth pairs
// against 500 (the host ends of containers' veths, which brmgr reads but leaves alone).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { BRIDGE, Lab, median, ms } from './lib/lab.mjs';

const RUNS = Number(process.env.RUNS ?? 9);
const BRIDGES = Number(process.env.BRIDGES ?? 100);
const BACKENDS = (process.env.BACKENDS ?? 'nftables iptables').split(/\s+/).filter(Boolean);
const VETHS = (process.env.VETHS ?? '5 500').split(/\s+/).filter(Boolean).map(Number);
// pre takes a host lock, so more at once only queue
const AT_ONCE = Number(process.env.AT_ONCE ?? 4);

const config = (firewall, n) =>
  `[bridge]\nfirewall = ${firewall}\n[ipv4]\naddress = 10.${70 + (n >> 8)}.${n & 255}.1/24\n`;

/** Median pre and post of `bridge` over RUNS, each pre from a bridge that is down. */
async function prePost(lab, bridge) {
  const pre = [];
  const post = [];
  const preCpu = [];
  const postCpu = [];
  let processes;
  for (let i = 0; i < RUNS; i++) {
    const p = await lab.cli('brmgr-pre.mjs', bridge);
    pre.push(p.ms);
    preCpu.push(p.cpu);
    processes = p.processes;
    const q = await lab.cli('brmgr-post.mjs', bridge);
    post.push(q.ms);
    postCpu.push(q.cpu);
  }
  return { pre: median(pre), post: median(post), preCpu: median(preCpu), postCpu: median(postCpu), processes };
}

const show = (r) =>
  `pre ${r.pre.toFixed(0)} ms (CPU ${r.preCpu.toFixed(0)}), post ${r.post.toFixed(0)} ms (CPU ${r.postCpu.toFixed(0)}) ` +
  `(${r.processes} processes per pre)`;
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
const nth = (n) => (n % 100 >= 11 && n % 100 <= 13 ? `${n}th` : `${n}${{ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] ?? 'th'}`);

console.log(`medians of ${RUNS}`);
for (const firewall of BACKENDS) {
  const lab = new Lab('sc');
  try {
    await lab.open();
    lab.config('bs0', config(firewall, 0));
    const first = await prePost(lab, 'bs0');
    const others = Array.from({ length: BRIDGES - 1 }, (_, i) => `bs${i + 1}`);
    others.forEach((b, i) => lab.config(b, config('nftables', i + 1)));
    const start = process.hrtime.bigint();
    const queue = [...others];
    await Promise.all(
      Array.from({ length: AT_ONCE }, async () => {
        while (queue.length)
          await lab.cli('brmgr-pre.mjs', queue.shift()).catch((err) => {
            queue.length = 0;
            throw err;
          });
      }),
    );
    const took = ms(start) / 1000;
    const { stdout } = await execa('ip', ['-n', lab.host, '-o', 'link', 'show', 'type', 'bridge']);
    const up = stdout.split('\n').filter(Boolean).length;
    const last = await prePost(lab, 'bs0');
    console.log(`(a) the measured bridge with firewall = ${firewall}:`);
    console.log(`    the 1st bridge: ${show(first)}`);
    console.log(
      `    ${others.length} other bridges (nftables) brought up in ${took.toFixed(1)} s, ` +
        `${((took * 1000) / others.length).toFixed(0)} ms each; ${up} bridges in the namespace`,
    );
    console.log(`    the ${nth(BRIDGES)} bridge: ${show(last)}`);
    console.log(
      `    ${nth(BRIDGES)} ÷ 1st: pre ${ratio(last.pre, first.pre)} (CPU ${ratio(last.preCpu, first.preCpu)}), ` +
        `post ${ratio(last.post, first.post)} (CPU ${ratio(last.postCpu, first.postCpu)})`,
    );
  } finally {
    // the bridges go with the namespace
    await lab.close();
  }
}

const unrelated = [];
for (const count of VETHS) {
  const lab = new Lab(`ve${count}`);
  try {
    await lab.open(config('nftables', 0));
    const containers = await lab.ns(`bench-${lab.tag}-c`);
    const lines = (f) => Array.from({ length: count }, (_, i) => f(i)).join('\n');
    const batch = join(lab.dir, 'veths');
    writeFileSync(batch, `${lines((i) => `link add v${i} type veth peer name c${i} netns ${containers}`)}\n`);
    await execa('ip', ['-n', lab.host, '-batch', batch]);
    writeFileSync(batch, `${lines((i) => `link set v${i} up`)}\n`);
    await execa('ip', ['-n', lab.host, '-batch', batch]);
    writeFileSync(batch, `${lines((i) => `link set c${i} up`)}\n`);
    await execa('ip', ['-n', containers, '-batch', batch]);
    const r = await prePost(lab, BRIDGE);
    unrelated.push(r);
    console.log(`(b) one bridge (nftables) among ${count} veth pairs: ${show(r)}`);
  } finally {
    await lab.close();
  }
}
if (unrelated.length > 1) {
  const [few, many] = [unrelated[0], unrelated.at(-1)];
  console.log(
    `    ${VETHS.at(-1)} ÷ ${VETHS[0]} veth pairs: pre ${ratio(many.pre, few.pre)} (CPU ${ratio(many.preCpu, few.preCpu)}), ` +
      `post ${ratio(many.post, few.post)} (CPU ${ratio(many.postCpu, few.postCpu)})`,
  );
}
