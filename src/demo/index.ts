/**
 * brmgr demo: the default bridge with DHCP, DNS and NAT, two guests and an
 * "outside", all in throwaway network namespaces that are deleted again:
 *
 *   guest1 ─ eth0 ~ vg1 ─┐
 *                        brmgr0 (10.0.1.1/24)  host  uplink 192.0.2.1 ~ eth0 192.0.2.2  outside
 *   guest2 ─ eth0 ~ vg2 ─┘
 *
 * Nothing is created in the namespace brmgr demo is started in: veths are
 * created inside the demo's namespaces, and brmgr itself runs inside "host".
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Exit, must as succeeded, runner, type Spawned, spawnProcess } from '../system/exec.js';
import { namedNetns } from '../system/netns.js';
import { alive } from '../system/process.js';
import { onPath } from '../system/tools.js';
import { demoConfig } from './config.js';

const BRIDGE = 'brmgr0';
const PREFIX = 'brmgr-demo-';
const GUESTS = [
  { name: 'guest1', mac: '52:54:00:de:00:01', port: 'vg1' },
  { name: 'guest2', mac: '52:54:00:de:00:02', port: 'vg2' },
] as const;
const NAT_PORT = '8000';

/** Applies the lease busybox udhcpc hands over in the environment, and prints it. */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
bound|renew)
  ip address add "$ip/$mask" dev "$interface"
  ip route replace default via "\${router%% *}" dev "$interface"
  echo "lease ip=$ip router=\${router%% *}"
  ;;
esac
`;

/** Set on SIGINT/SIGTERM: every further step fails at once and the teardown runs. */
let interrupted: NodeJS.Signals | undefined;
/** Aborted on SIGINT/SIGTERM: stops the commands running in the demo's namespaces. */
let stopping = new AbortController();

interface Result {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A command inside a namespace; never throws. */
async function inNs(
  ns: string,
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; timeout?: number; evenIfInterrupted?: boolean } = {},
): Promise<Result> {
  if (interrupted && !opts.evenIfInterrupted)
    return { exitCode: 130, stdout: '', stderr: `interrupted (${interrupted})` };
  const run = runner({
    timeoutMs: opts.timeout ?? 30_000,
    ...(opts.env ? { env: opts.env } : {}),
    // the teardown runs to its end after an interrupt
    ...(opts.evenIfInterrupted ? {} : { signal: stopping.signal }),
  });
  const r = await run('ip', ['netns', 'exec', ns, cmd, ...args]);
  return { exitCode: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
}

async function must(ns: string, cmd: string, args: string[]): Promise<string> {
  const r = await inNs(ns, cmd, args);
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || `exit ${r.exitCode}`}`);
  return r.stdout;
}

/** What the demo needs that is missing, each with its package. */
export function missingDemoTools(env: NodeJS.ProcessEnv = process.env): string[] {
  const missing: string[] = [];
  const need = (tool: string, pkg: string) => !onPath(tool, env) && missing.push(`${tool} (package ${pkg})`);
  need('ip', 'iproute2');
  need('ss', 'iproute2');
  need('dnsmasq', 'dnsmasq-base');
  need('busybox', 'busybox');
  if (!onPath('nft', env) && !onPath('iptables-restore', env))
    missing.push('nft (package nftables) or iptables-restore (package iptables)');
  return missing;
}

async function namespacePids(ns: string): Promise<number[]> {
  const r = await runner()('ip', ['netns', 'pids', ns]);
  if (!r.ok) return [];
  return r.stdout
    .split('\n')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Kills what still runs inside, then deletes the namespace. */
async function deleteNamespace(ns: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const pids = await namespacePids(ns);
    if (!pids.length) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(20);
  }
  await runner()('ip', ['netns', 'del', ns]);
}

/** Namespaces of demos whose process is gone (killed before it could clean up). */
async function sweepStale(): Promise<void> {
  for (const ns of namedNetns()) {
    const pid = Number(/^brmgr-demo-(\d+)-/.exec(ns)?.[1]);
    if (pid && pid !== process.pid && !alive(pid)) await deleteNamespace(ns);
  }
}

/** Prints one transcript line per step; remembers whether all passed. */
class Transcript {
  ok = true;
  step(name: string, passed: boolean, detail: string, always = false): void {
    if (!passed) this.ok = false;
    // a step cut short by Ctrl-C says nothing about brmgr
    if (interrupted && !always) return;
    process.stdout.write(`  ${passed ? '✓' : '✗'} ${name.padEnd(22)} ${detail}\n`);
  }
  text(lines: string): void {
    for (const l of lines.trimEnd().split('\n')) process.stdout.write(`      ${l}\n`);
  }
}

async function until<T>(timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined || Date.now() > deadline || interrupted) return v;
    await sleep(100);
  }
}

/** Runs the demo; returns the exit code. */
export async function demo(): Promise<number> {
  const out = new Transcript();
  process.stdout.write(
    'brmgr demo: the default bridge, two guests, DHCP, DNS and NAT, in throwaway network namespaces\n',
  );
  if (process.getuid?.() !== 0) {
    out.step('root', false, 'brmgr demo needs root: it creates and deletes network namespaces (sudo brmgr demo)');
    return 2;
  }
  const missing = missingDemoTools();
  if (missing.length) {
    out.step('tools', false, `missing: ${missing.join(', ')}`);
    return 2;
  }
  const hasDig = onPath('dig');

  // the steps stop at their next command and the teardown runs as usual; listening
  // here also keeps the default exit on these signals from skipping the teardown
  interrupted = undefined;
  stopping = new AbortController();
  let service: Spawned | undefined;
  let serviceExit: Exit | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted ??= signal;
    if (service && !serviceExit) service.kill('SIGTERM');
    stopping.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await sweepStale();

  const ns = {
    host: `${PREFIX}${process.pid}-host`,
    guest1: `${PREFIX}${process.pid}-guest1`,
    guest2: `${PREFIX}${process.pid}-guest2`,
    outside: `${PREFIX}${process.pid}-outside`,
  };
  const created: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  // dnsmasq drops root and re-reads its files below the run dir
  chmodSync(dir, 0o755);
  const env = {
    PATH: process.env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin',
    BRMGR_CONF_DIR: join(dir, 'conf'),
    BRMGR_RUN_DIR: join(dir, 'run'),
    BRMGR_STATE_DIR: join(dir, 'state'),
  };
  const brmgr = [process.argv[1]!];

  const teardown = async (): Promise<void> => {
    const problems: string[] = [];
    if (service && !serviceExit) {
      service.kill('SIGTERM');
      await Promise.race([service.exited, sleep(10_000, undefined, { ref: false })]);
    }
    if (created.includes(ns.host)) {
      const r = await inNs(ns.host, process.execPath, [...brmgr, 'down', BRIDGE, '--force'], {
        env,
        evenIfInterrupted: true,
      });
      if (r.exitCode !== 0) problems.push(`brmgr down: ${r.stderr || `exit ${r.exitCode}`}`);
    }
    for (const name of created.reverse()) await deleteNamespace(name);
    const left = created.filter((n) => namedNetns().includes(n));
    if (left.length) problems.push(`namespaces left: ${left.join(', ')}`);
    rmSync(dir, { recursive: true, force: true });
    out.step(
      'teardown',
      !problems.length,
      problems.length
        ? problems.join('; ')
        : `brmgr down ${BRIDGE} --force, ${created.length} namespaces and ${dir} removed`,
      true,
    );
  };
  let code = 1;
  try {
    code = await steps().catch((err: Error) => {
      out.step('error', false, err.message);
      return 1;
    });
  } finally {
    if (interrupted) out.step('interrupted', false, `${interrupted}: stopping`, true);
    await teardown();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.stdout.write(
      out.ok
        ? 'demo passed: every step worked, and everything it created is gone\n'
        : interrupted
          ? 'demo interrupted\n'
          : 'demo failed (see ✗ above)\n',
    );
  }
  if (interrupted) return 130;
  return out.ok ? code : code || 1;

  async function steps(): Promise<number> {
    // ------------------------------------------------------------ namespaces
    try {
      for (const name of Object.values(ns)) {
        if (interrupted) throw new Error(`interrupted (${interrupted})`);
        succeeded(await runner()('ip', ['netns', 'add', name]), `ip netns add ${name}`);
        created.push(name);
        await must(name, 'ip', ['link', 'set', 'lo', 'up']);
      }
      for (const g of GUESTS) {
        await must(ns.host, 'ip', ['link', 'add', g.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns[g.name]]);
        await must(ns[g.name], 'ip', ['link', 'set', 'eth0', 'address', g.mac, 'up']);
        await must(ns.host, 'ip', ['link', 'set', g.port, 'up']);
      }
      await must(ns.host, 'ip', ['link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.outside]);
      await must(ns.host, 'ip', ['address', 'add', '192.0.2.1/24', 'dev', 'uplink']);
      await must(ns.host, 'ip', ['link', 'set', 'uplink', 'up']);
      await must(ns.host, 'ip', ['route', 'add', 'default', 'via', '192.0.2.2']);
      await must(ns.outside, 'ip', ['address', 'add', '192.0.2.2/24', 'dev', 'eth0']);
      await must(ns.outside, 'ip', ['link', 'set', 'eth0', 'up']);
      out.step(
        'namespaces',
        true,
        `${PREFIX}${process.pid}-{host,guest1,guest2,outside}; outside is 192.0.2.2, no route to the guests`,
      );
    } catch (err) {
      out.step('namespaces', false, (err as Error).message);
      return 1;
    }

    // ------------------------------------------------------------ brmgr run
    mkdirSync(env.BRMGR_CONF_DIR, { recursive: true });
    mkdirSync(env.BRMGR_STATE_DIR, { recursive: true });
    writeFileSync(join(env.BRMGR_CONF_DIR, `${BRIDGE}.conf`), demoConfig('192.0.2.2'));
    const script = join(dir, 'udhcpc.script');
    writeFileSync(script, UDHCPC_SCRIPT, { mode: 0o755 });
    if (interrupted) return 130;
    const events: Record<string, unknown>[] = [];
    const started = spawnProcess(
      'ip',
      ['netns', 'exec', ns.host, process.execPath, ...brmgr, 'run', BRIDGE],
      'stdout',
      (line) => {
        try {
          events.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          /* not a log line */
        }
      },
      { env },
    );
    service = started;
    void started.exited.then((exit) => {
      serviceExit = exit;
    });
    const ready = await until(20_000, async () =>
      events.some((e) => e.event === 'ready') ? true : serviceExit ? false : undefined,
    );
    if (!ready) {
      const why = events
        .filter((e) => Number(e.level) >= 50)
        .map((e) => String(e.msg ?? e.err))
        .at(-1);
      out.step(
        `brmgr run ${BRIDGE}`,
        false,
        why ?? (serviceExit ? `exited ${serviceExit.exitCode ?? serviceExit.signal}` : 'not ready after 20 s'),
      );
      return 1;
    }
    for (const g of GUESTS) await must(ns.host, 'ip', ['link', 'set', g.port, 'master', BRIDGE]);
    out.step(
      `brmgr run ${BRIDGE}`,
      true,
      `the default /etc/brmgr/${BRIDGE}.conf (DNS upstream: outside): ` +
        'bridge 10.0.1.1/24, NAT, dnsmasq for DHCP and DNS',
    );

    // ------------------------------------------------------------ DHCP
    const leased: Record<string, { ip: string; router: string }> = {};
    for (const g of GUESTS) {
      const r = await inNs(ns[g.name], 'busybox', [
        'udhcpc',
        '-i',
        'eth0',
        '-n',
        '-q',
        '-f',
        '-t',
        '5',
        '-T',
        '1',
        '-s',
        script,
        '-x',
        `hostname:${g.name}`,
      ]);
      const m = /lease ip=(\S+) router=(\S+)/.exec(r.stdout);
      if (m) leased[g.name] = { ip: m[1]!, router: m[2]! };
      out.step(
        `${g.name} DHCP`,
        !!m,
        m
          ? `${m[1]} via ${m[2]} (busybox udhcpc -x hostname:${g.name}, MAC ${g.mac})`
          : `no lease: ${(r.stdout + r.stderr).trim().split('\n').at(-1)}`,
      );
    }
    const g1 = leased.guest1;
    const g2 = leased.guest2;
    if (!g1 || !g2) return 1;

    const leases = await inNs(ns.host, process.execPath, [...brmgr, 'leases', BRIDGE], { env });
    const listed = leases.exitCode === 0 && leases.stdout.includes(g1.ip) && leases.stdout.includes(g2.ip);
    out.step(
      `brmgr leases ${BRIDGE}`,
      listed,
      listed ? 'both guests, with their names' : leases.stderr || leases.stdout.trim(),
    );
    if (leases.stdout.trim()) out.text(leases.stdout);

    // ------------------------------------------------------------ DNS
    const resolved = await until(3_000, async () => {
      const r = hasDig
        ? await inNs(ns.guest1, 'dig', [`@${g1.router}`, 'guest2', 'A', '+short', '+time=1', '+tries=1'])
        : await inNs(ns.guest1, 'busybox', ['nslookup', 'guest2', g1.router]);
      const a = hasDig ? r.stdout.trim() : /Name:\s*guest2\S*\s*\nAddress:?\s*(\S+)/.exec(r.stdout)?.[1];
      return a === g2.ip ? a : undefined;
    });
    out.step(
      'DNS',
      !!resolved,
      resolved ? `guest1 asks ${g1.router} for guest2: ${resolved}` : `guest1 could not resolve guest2 at ${g1.router}`,
    );

    // ------------------------------------------------------------ NAT
    const pinged = await until(5_000, async () =>
      (await inNs(ns.guest1, 'busybox', ['ping', '-c', '1', '-W', '1', '192.0.2.2'])).exitCode === 0 ? true : undefined,
    );
    out.step(
      'ping outside',
      !!pinged,
      pinged
        ? 'guest1 → 192.0.2.2 answers, though outside has no route to 10.0.1.0/24'
        : 'guest1 got no answer from 192.0.2.2',
    );

    // outside answers each connection with its view of the sockets: who it thinks connected
    const listener = spawnProcess(
      'ip',
      ['netns', 'exec', ns.outside, 'busybox', 'nc', '-l', '-p', NAT_PORT, '-e', 'ss', '-tnH'],
      'stdout',
      () => {},
    );
    try {
      await until(3_000, async () =>
        (await inNs(ns.outside, 'ss', ['-ltnH'])).stdout.includes(`:${NAT_PORT} `) ? true : undefined,
      );
      const r = await inNs(ns.guest1, 'busybox', ['nc', '-w', '3', '192.0.2.2', NAT_PORT], { timeout: 10_000 });
      // ss prints "[::ffff:192.0.2.2]:8000 [::ffff:192.0.2.1]:42302" (busybox nc listens on IPv6)
      const peer = new RegExp(`:${NAT_PORT}\\s+\\[?(?:::ffff:)?([0-9.]+)\\]?:\\d+`).exec(r.stdout)?.[1];
      const masqueraded = peer === '192.0.2.1';
      out.step(
        'NAT source',
        masqueraded,
        peer
          ? `outside sees guest1's TCP connection coming from ${peer}${masqueraded ? ", the host's uplink" : ''}`
          : `no answer from outside: ${r.stderr || r.stdout}`,
      );
    } finally {
      listener.kill('SIGKILL');
    }
    return out.ok ? 0 : 1;
  }
}
