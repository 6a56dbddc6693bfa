// What one bridge's firewall change costs every other bridge's supervisor: BRIDGES (20) bridges, each
// with its own `brmgr run`, in one namespace (their dnsmasqs told an upstream: no /etc/resolv.conf read,
// no inotify instance of theirs, so that 60 fit in root's 128); then, ROUNDS (3) times each, a change none
// of them owns (brmgr-pre of one more bridge, its no-op rerun and its brmgr-post), one to iptables' filter
// table (Docker's first move), and, as the peer in the same run, a change each must look at (a table of
// another tool added, then deleted): the CPU of all the supervisors with the children they waited for
// (their ruleset reads), from the change until they are idle again (at least SETTLE_MS, 1500, after it),
// medians.
import { setTimeout as sleep } from 'node:timers/promises';
import { Lab, median } from './lib/lab.mjs';
import { cpuMs } from './lib/proc.mjs';

const BRIDGES = Number(process.env.BRIDGES ?? 20);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 1500);

const lab = new Lab('nb');
try {
  await lab.open();
  const bridges = Array.from({ length: BRIDGES }, (_, n) => `bn${n}`);
  bridges.forEach((b, n) =>
    lab.config(b, `[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.76.${n}.1/24\n[dns]\nupstream = 10.76.${n}.1\n`),
  );
  lab.config('bnx', '[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.76.250.1/24\n');
  const supervisors = [];
  for (const b of bridges) supervisors.push(await lab.run(b));
  const changes = {
    "another tool's table added and deleted (the peer)": async () => {
      await lab.exec(lab.host, 'nft', ['add', 'table', 'inet', 'bench-other']);
      await lab.exec(lab.host, 'nft', ['delete', 'table', 'inet', 'bench-other']);
    },
    "iptables' FORWARD policy set to DROP and back (Docker's first move)": async () => {
      await lab.exec(lab.host, 'iptables', ['-P', 'FORWARD', 'DROP']);
      await lab.exec(lab.host, 'iptables', ['-P', 'FORWARD', 'ACCEPT']);
    },
    'brmgr-pre of one more bridge': () => lab.cli('brmgr-pre', 'bnx'),
    'brmgr-pre of it again (no change)': () => lab.cli('brmgr-pre', 'bnx'),
    'brmgr-post of it': () => lab.cli('brmgr-post', 'bnx'),
  };
  const total = () => supervisors.reduce((sum, s) => sum + cpuMs(s.pid), 0);
  // until the supervisors are idle again (each change's reads done), at least SETTLE_MS after it
  const quiet = async () => {
    await sleep(SETTLE_MS);
    for (let last = total(), waited = 0; waited < 20_000; waited += 500) {
      await sleep(500);
      const now = total();
      if (now - last < BRIDGES * 0.5) return;
      last = now;
    }
  };
  await quiet();
  const spent = Object.fromEntries(Object.keys(changes).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [what, change] of Object.entries(changes)) {
      const before = supervisors.map((s) => cpuMs(s.pid));
      await change();
      await quiet();
      spent[what].push(supervisors.reduce((sum, s, i) => sum + cpuMs(s.pid) - before[i], 0));
    }
  }
  const peer = median(spent[Object.keys(changes)[0]]);
  console.log(`${BRIDGES} supervisors' CPU in all (with their children), medians of ${ROUNDS}:`);
  for (const [what, list] of Object.entries(spent)) {
    const m = median(list);
    console.log(
      `  ${what}: ${m.toFixed(0)} ms (${(m / BRIDGES).toFixed(1)} a supervisor), ${(m / peer).toFixed(2)}x the peer`,
    );
  }
} finally {
  await lab.close();
}
