// brmgr@.service against lxc-net.service (LXC's own script and unit, copied from this host) under a
// real systemd (a Debian root booted by systemd-nspawn, as test/e2e/systemd.test.ts boots it):
// (1) `systemctl start` to DNS answering on the bridge (the CPU of a start is bench/lxc-net.mjs's: the
// container's cgroups count no unit's CPU);
// (2) a crash to serving again: kill -9 of brmgr run, which systemd restarts over the kept bridge;
// lxc-net supervises nothing (its dnsmasq killed stays dead), so its figure is `systemctl restart`,
// the operator's own repair once they notice. Each timed inside the container, alternating.
// Run: node --import=@tapjs/typescript/import bench/systemd.ts (npm run bench does).
import { existsSync, readFileSync } from 'node:fs';
import { Container, containerSkipReason } from '../test/helpers/container.js';

const RUNS = Number(process.env.RUNS ?? 5);
const LXC_NET = '/usr/libexec/lxc/lxc-net';
const LXC_UNIT = '/lib/systemd/system/lxc-net.service';

const skip = containerSkipReason() ?? (existsSync(LXC_NET) ? undefined : 'LXC is not installed (package lxc)');
if (skip) {
  console.log(`systemd.ts: skipped, ${skip}`);
  process.exit(0);
}

const teardowns: (() => Promise<void>)[] = [];
const c = await Container.boot({ teardown: (f: () => Promise<void>) => teardowns.push(f) }, 'systemd');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

// One timing inside the container: `action`, then a DNS question every 5 ms until the gateway answers;
// prints the ms to the action's return and to the first answer.
const TIMER = `#!/bin/sh
unit=$1 gw=$2 action=$3 old=$4
now() { date +%s%N; }
t0=$(now)
case $action in
start) systemctl start "$unit" ;;
restart) systemctl restart "$unit" ;;
crash) systemctl kill -s KILL --kill-whom=main "$unit"
  # the new supervisor, not the old one's dnsmasq still finishing
  while [ "$(systemctl show -p MainPID --value "$unit")" = "$old" ] || [ "$(systemctl show -p MainPID --value "$unit")" = 0 ]; do :; done ;;
esac
t1=$(now)
until dig "@$gw" +time=1 +tries=1 +short localhost >/dev/null 2>&1; do sleep 0.005; done
t2=$(now)
echo "$(( (t1 - t0) / 1000000 )) $(( (t2 - t0) / 1000000 ))"
`;

try {
  await c.makeInstall();
  await c.write('/usr/local/bin/bench-timer', TIMER, '0755');
  await c.must(['mkdir', '-p', '/usr/libexec/lxc', '/etc/default']);
  await c.write(LXC_NET, readFileSync(LXC_NET, 'utf8'), '0755');
  await c.write('/etc/systemd/system/lxc-net.service', readFileSync(LXC_UNIT, 'utf8'));
  await c.write('/etc/default/lxc-net', 'USE_LXC_BRIDGE="true"\n');
  await c.must(['systemctl', 'daemon-reload']);

  const units = [
    { name: 'brmgr', unit: 'brmgr@brmgr0', gw: '10.0.1.1' },
    { name: 'lxc-net', unit: 'lxc-net', gw: '10.0.3.1' },
  ];
  const time = async (unit: string, gw: string, action: string, old = '') => {
    const out = await c.must(['bench-timer', unit, gw, action, old], { timeout: 60_000 });
    const [returned, serving] = out.trim().split(' ').map(Number) as [number, number];
    return { returned, serving };
  };
  const results = new Map<string, Record<string, number[]>>();
  const push = (name: string, key: string, v: number) => {
    const r = results.get(name) ?? {};
    (r[key] ??= []).push(v);
    results.set(name, r);
  };
  for (let i = 0; i < RUNS; i++) {
    for (const u of i % 2 ? [...units].reverse() : units) {
      const started = await time(u.unit, u.gw, 'start');
      push(u.name, 'start→returned', started.returned);
      push(u.name, 'start→DNS', started.serving);
      const restarted = await time(u.unit, u.gw, 'restart');
      push(u.name, 'restart→DNS', restarted.serving);
      if (u.name === 'brmgr') {
        const pid = (await c.must(['systemctl', 'show', '-p', 'MainPID', '--value', u.unit])).trim();
        push(u.name, 'crash→DNS', (await time(u.unit, u.gw, 'crash', pid)).serving);
      }
      await c.must(['systemctl', 'stop', u.unit]);
    }
  }
  const brmgr = results.get('brmgr')!;
  const lxc = results.get('lxc-net')!;
  console.log(`systemd.ts: under systemd in a container, ${RUNS} runs each, alternating; medians (spread) in ms`);
  for (const key of ['start→returned', 'start→DNS', 'restart→DNS']) {
    const b = brmgr[key]!;
    const l = lxc[key]!;
    console.log(
      `  ${key.padEnd(15)} brmgr ${median(b).toFixed(0)} (${spread(b)})  lxc-net ${median(l).toFixed(0)} (${spread(l)})  ` +
        `ratio ${(median(b) / median(l)).toFixed(2)}`,
    );
  }
  const crash = brmgr['crash→DNS']!;
  console.log(
    `  crash→DNS       brmgr ${median(crash).toFixed(0)} (${spread(crash)}), by itself; lxc-net never ` +
      `(its killed dnsmasq stays dead): ÷ its restart→DNS ${(median(crash) / median(lxc['restart→DNS']!)).toFixed(2)}`,
  );
} finally {
  for (const f of teardowns.reverse()) await f();
}
