// The memory of BRIDGES (10) bridges, each with its own `brmgr run` in one namespace: each
// supervisor's PSS, private and RSS sizes, and its children's (dnsmasq, and the watches:
// xtables-monitor, ip monitor, inotifywait), against a bare Node.js process in the same run.
// PSS splits shared pages among the processes sharing them, so PSS sums to a total.
import { setTimeout as sleep } from 'node:timers/promises';
import { Lab, median } from './lib/lab.mjs';
import { comm, descendants, smapsRollup } from './lib/proc.mjs';

const BRIDGES = Number(process.env.BRIDGES ?? 10);
const SETTLE = Number(process.env.SETTLE ?? 5); // seconds

const MiB = (kib) => `${(kib / 1024).toFixed(1)} MiB`;
const sizes = (pid) => {
  const m = smapsRollup(pid);
  return { pss: m.Pss, dirty: m.Private_Dirty, private: m.Private_Dirty + m.Private_Clean, rss: m.Rss };
};
const sum = (list, key) => list.reduce((a, s) => a + s[key], 0);

const lab = new Lab('mem');
try {
  await lab.open();
  const bridges = Array.from({ length: BRIDGES }, (_, n) => `bm${n}`);
  bridges.forEach((b, n) => lab.config(b, `[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.71.${n}.1/24\n`));
  // one at a time: each start-up takes the host lock anyway
  const supervisors = [];
  for (const b of bridges) supervisors.push(await lab.run(b));
  const bare = lab.exec(lab.host, process.execPath, ['-e', 'setInterval(() => {}, 1e9)']);
  lab.children.push(bare);
  // V8 settles its heap in the first seconds after start-up
  await sleep(SETTLE * 1000);

  if (comm(bare.pid) !== 'node') throw new Error(`the bare node is ${comm(bare.pid)}`);
  const node = sizes(bare.pid);
  const per = supervisors.map((s) => {
    const kids = descendants(s.pid).map((pid) => ({ pid, comm: comm(pid), ...sizes(pid) }));
    return { self: sizes(s.pid), kids, kidsPss: sum(kids, 'pss'), kidsDirty: sum(kids, 'dirty') };
  });
  const med = (f) => median(per.map(f));
  const self = (key) => med((b) => b.self[key]);
  const byComm = {};
  for (const b of per) for (const k of b.kids) byComm[k.comm] = [...(byComm[k.comm] ?? []), k];

  console.log(
    `bare node (the peer): PSS ${MiB(node.pss)}, Private_Dirty ${MiB(node.dirty)}, ` +
      `private ${MiB(node.private)}, RSS ${MiB(node.rss)}`,
  );
  console.log(`per bridge, medians of ${BRIDGES} (after ${SETTLE} s settling):`);
  console.log(
    `  supervisor: PSS ${MiB(self('pss'))} (${(self('pss') / node.pss).toFixed(2)}x bare node), ` +
      `Private_Dirty ${MiB(self('dirty'))} (${(self('dirty') / node.dirty).toFixed(2)}x), ` +
      `private (dirty + clean) ${MiB(self('private'))}, RSS ${MiB(self('rss'))}`,
  );
  const each = Object.entries(byComm).map(
    ([name, list]) =>
      `${name} ${MiB(median(list.map((k) => k.pss)))}/${MiB(median(list.map((k) => k.dirty)))}` +
      (list.length === BRIDGES ? '' : ` (${list.length} of them)`),
  );
  console.log(`  children, PSS/Private_Dirty each: ${each.join(', ')}`);
  console.log(
    `  children together: PSS ${MiB(med((b) => b.kidsPss))}, Private_Dirty ${MiB(med((b) => b.kidsDirty))} ` +
      `(${med((b) => b.kids.length)} processes)`,
  );
  const supPss = per.reduce((a, b) => a + b.self.pss, 0);
  const kidsPss = per.reduce((a, b) => a + b.kidsPss, 0);
  const supDirty = per.reduce((a, b) => a + b.self.dirty, 0);
  const kidsDirty = per.reduce((a, b) => a + b.kidsDirty, 0);
  console.log(
    `${BRIDGES} bridges in total: PSS ${MiB(supPss + kidsPss)} (supervisors ${MiB(supPss)}, children ${MiB(kidsPss)}), ` +
      `Private_Dirty ${MiB(supDirty + kidsDirty)} (supervisors ${MiB(supDirty)}, children ${MiB(kidsDirty)})`,
  );
  await Promise.all(supervisors.map((s) => lab.stop(s.proc)));
} finally {
  await lab.close();
}
