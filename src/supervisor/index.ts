import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { watch, type FSWatcher } from 'chokidar';
import { execa, type ResultPromise } from 'execa';
import { loadConfig } from '../config/load.js';
import type { BridgeConfig } from '../config/types.js';
import { ConfigError, formatProblem } from '../config/validate.js';
import { dnsmasqFiles, servesAnything } from '../dnsmasq/render.js';
import { parseDnsmasqLine } from '../dnsmasq/log.js';
import type { Logger } from '../log.js';
import { paths, type Paths } from '../paths.js';
import { pre } from '../pre/index.js';
import { runner } from '../system/exec.js';
import { firewallIntact } from '../system/firewall.js';
import { acquireLock } from '../system/lock.js';
import { readState } from '../system/state.js';
import { alive } from '../system/process.js';
import { prepareRunDir, render, writeFiles } from './dnsmasq-files.js';
import { needsTrial, reloadAction, restartsDnsmasq } from './reload.js';
import { afterExit } from './restart-policy.js';

export interface Options {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  pidFile?: string;
}

const STOP_TIMEOUT_MS = 5_000;

/** A dnsmasq left running by a supervisor killed with -9: ours if its command line names our config. */
async function stopStale(pidFile: string, conf: string, log: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!pid || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(conf)) return;
  } catch {
    return;
  }
  log.warn({ event: 'stale', pid }, `stopping dnsmasq ${pid} left by an earlier supervisor`);
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 40 && alive(pid); i++) await sleep(50);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 40 && alive(pid); i++) await sleep(25);
}

/** dnsmasq's own verdict on a config before it replaces a running one: undefined when fine, else its error. */
async function dnsmasqRefuses(conf: string, p: Paths): Promise<string | undefined> {
  const trial = `${dnsmasqFiles(p).conf}.trial`;
  writeFileSync(trial, conf, { mode: 0o644 });
  try {
    const r = await execa('dnsmasq', ['--test', `--conf-file=${trial}`], { reject: false, stdin: 'ignore' });
    if (r.exitCode === 0) return undefined;
    return `${r.stderr}`.trim().split('\n').filter(Boolean).at(-1) ?? `dnsmasq --test exited ${r.exitCode}`;
  } finally {
    rmSync(trial, { force: true });
  }
}

/**
 * `brmgr run BRIDGE`: converges the bridge, then keeps one dnsmasq serving it
 * until SIGTERM/SIGINT. Resolves with the exit code.
 */
export async function supervise(bridge: string, opts: Options): Promise<number> {
  const env = opts.env ?? process.env;
  const log = opts.log.child({ bridge });
  let cfg = loadConfig(bridge, env);
  const p = paths(bridge, env);
  const files = dnsmasqFiles(p);
  const account = prepareRunDir(p, log);
  const release = await acquireLock(join(p.runDir, 'supervisor.pid'), 0).catch((err: Error) => {
    throw new Error(`brmgr run ${bridge} is already running: ${err.message}`);
  });
  if (opts.pidFile) writeFileSync(opts.pidFile, `${process.pid}\n`);
  const statusFile = join(p.runDir, 'supervisor.json');

  let child: ResultPromise | undefined;
  let childStarted = 0;
  let restarts = 0;
  let crashes: number[] = [];
  let stopping = false;
  let restarting = false;
  let watcher: FSWatcher | undefined;
  let monitor: ResultPromise | undefined;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  // every change to the system happens one at a time
  let queue: Promise<unknown> = Promise.resolve();
  const serial = (fn: () => Promise<void>) => (queue = queue.then(fn).catch((err: Error) => log.error({ err: err.message }, err.message)));

  const writeStatus = () =>
    writeFileSync(statusFile, JSON.stringify({ pid: process.pid, dnsmasqPid: child?.pid, dnsmasqStarted: childStarted, restarts }) + '\n');

  const startDnsmasq = (): Promise<void> => {
    // a stop that came while a reload was converging the bridge
    if (stopping) return Promise.resolve();
    if (!servesAnything(cfg)) {
      log.info({ event: 'ready' }, 'nothing to serve (no DHCP, DNS or router advertisements): keeping the bridge up without dnsmasq');
      return Promise.resolve();
    }
    const spawned = Date.now();
    let ready = false;
    const lastErrors: string[] = [];
    const proc = execa('dnsmasq', ['--keep-in-foreground', `--conf-file=${files.conf}`], {
      reject: false,
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
      buffer: false,
      cleanup: true,
    });
    child = proc;
    childStarted = spawned;
    writeStatus();
    log.info({ event: 'start', pid: proc.pid }, 'starting dnsmasq');
    return new Promise<void>((resolveStarted) => {
      // read dnsmasq's log as it comes; a slow consumer would block dnsmasq on a full pipe
      createInterface({ input: proc.stderr! }).on('line', (line) => {
        const ev = parseDnsmasqLine(line);
        if (ev.level === 'error') lastErrors.push(ev.msg);
        const { level, msg, ...fields } = ev;
        log[level]({ ...fields, dnsmasq: true }, msg);
        if (!ready && /^started, version/.test(ev.msg)) {
          ready = true;
          log.info({ event: 'ready', pid: proc.pid, ms: Date.now() - spawned }, 'dnsmasq is serving');
          resolveStarted();
        }
      });
      void proc.then((result) => {
        resolveStarted();
        if (child !== proc) return;
        child = undefined;
        const how = { exitCode: result.exitCode, signal: result.signal };
        if (stopping) return finish(0);
        if (restarting) return;
        const decision = afterExit(crashes, Date.now(), ready);
        if (decision.kind === 'start-failure') {
          const why = lastErrors.at(-1) ?? String(result.stderr ?? '').trim() ?? `exit ${result.exitCode}`;
          log.error({ event: 'failed', ...how }, `dnsmasq failed to start: ${why}`);
          return void shutdown(1);
        }
        crashes = decision.recentCrashes;
        if (decision.kind === 'crash-loop') {
          log.error({ event: 'crashloop', ...how, crashes: crashes.length }, `dnsmasq died ${crashes.length} times in a minute; giving up`);
          return void shutdown(1);
        }
        restarts++;
        log.warn({ event: 'restart', ...how, backoffMs: decision.delayMs, restarts }, `dnsmasq exited (${result.signal ?? `code ${result.exitCode}`}); restarting`);
        setTimeout(() => !stopping && serial(() => startDnsmasq()), decision.delayMs);
      });
    });
  };

  const stopDnsmasq = async (): Promise<void> => {
    const proc = child;
    if (!proc) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await proc;
    clearTimeout(timer);
  };

  const shutdown = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'stop' }, code === 0 ? 'stopping' : 'giving up');
    await watcher?.close();
    monitor?.kill();
    await stopDnsmasq();
    rmSync(statusFile, { force: true });
    if (opts.pidFile) rmSync(opts.pidFile, { force: true });
    release();
    finish(code);
  };

  const watchedFiles = (c: BridgeConfig) => [c.file, c.dns.hostsFile, c.dnsmasq.hostsFile, c.dnsmasq.confFile].filter((f): f is string => !!f);

  let current = render(cfg, p, account);
  const reload = (why: string) =>
    serial(async () => {
      if (stopping) return;
      let next: BridgeConfig;
      try {
        next = loadConfig(bridge, env);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const problem of err.problems) log.error({ event: 'reload', ...problem }, formatProblem(problem));
        log.error({ event: 'reload' }, 'config has errors; still serving the previous one');
        return;
      }
      const r = render(next, p, account);
      const action = reloadAction(current, r);
      const refused = needsTrial(action, servesAnything(next)) ? await dnsmasqRefuses(r.conf, p) : undefined;
      if (refused) {
        log.error({ event: 'reload', why }, `dnsmasq refuses the new config: ${refused}; still serving the previous one`);
        // its fix must be seen
        watcher?.add(watchedFiles(next));
        return;
      }
      if (action === 'converge+restart') await pre(bridge, { log: opts.log, env, config: next });
      writeFiles(r, p);
      const old = watchedFiles(cfg);
      cfg = next;
      current = r;
      watcher?.unwatch(old.filter((f) => !watchedFiles(cfg).includes(f)));
      watcher?.add(watchedFiles(cfg));
      if (restartsDnsmasq(action)) {
        log.info({ event: 'reload', why, action: 'restart' }, 'config changed; restarting dnsmasq');
        restarting = true;
        await stopDnsmasq();
        restarting = false;
        await startDnsmasq();
      } else if (action === 'sighup' && child) {
        log.info({ event: 'reload', why, action: 'sighup' }, 'static hosts changed; dnsmasq re-reads them');
        child.kill('SIGHUP');
      } else {
        log.info({ event: 'reload', why, action: 'none' }, 'nothing to change');
      }
    });

  /** Someone flushed the ruleset (an nftables.service restart, a firewalld reload): put brmgr's rules back. */
  const watchFirewall = () => {
    const state = readState(p);
    if (!state || state.firewall.backend === 'none') return;
    const proc = execa('nft', ['monitor'], { reject: false, stdin: 'ignore', stdout: 'pipe', stderr: 'ignore', buffer: false, cleanup: true });
    monitor = proc;
    let timer: NodeJS.Timeout | undefined;
    createInterface({ input: proc.stdout! }).on('line', () => {
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          serial(async () => {
            if (stopping || (await firewallIntact(runner(), cfg, readState(p)))) return;
            log.warn({ event: 'firewall' }, "brmgr's firewall rules were removed by someone else; restoring them");
            await pre(bridge, { log: opts.log, env, config: cfg });
          }),
        200,
      );
    });
  };

  // a signal during startup (a service manager's stop or reload) waits for pre to finish:
  // killed midway, pre would leave a half-converged bridge behind
  let started = false;
  let early: 'stop' | 'reload' | undefined;
  // until pre holds the lock nothing has changed: a stop then ends the wait for it
  const waiting = new AbortController();
  const onStop = () => (started ? void shutdown(0) : ((early = 'stop'), waiting.abort()));
  const onReload = () => (started ? void reload('SIGHUP') : (early ??= 'reload'));
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, onStop);
  process.on('SIGHUP', onReload);
  try {
    await stopStale(files.pid, files.conf, log);
    // pre may resolve `address = auto`
    cfg = await pre(bridge, { log: opts.log, env, config: cfg, signal: waiting.signal });
    current = render(cfg, p, account);
    writeFiles(current, p);
  } catch (err) {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.off(sig, onStop);
    process.off('SIGHUP', onReload);
    release();
    if (opts.pidFile) rmSync(opts.pidFile, { force: true });
    if (early === 'stop' && (err as Error).name === 'AbortError') {
      log.info({ event: 'stop' }, 'stopped while waiting for another brmgr; nothing changed');
      return 0;
    }
    throw err;
  }
  started = true;
  if (early === 'stop') {
    await shutdown(0);
    return done;
  }
  await serial(() => startDnsmasq());
  if (early === 'reload') void reload('SIGHUP');
  if (!stopping) {
    watcher = watch(watchedFiles(cfg), { ignoreInitial: true });
    let timer: NodeJS.Timeout | undefined;
    watcher.on('all', (_event, path) => {
      clearTimeout(timer);
      timer = setTimeout(() => reload(`${path} changed`), 100);
    });
    watchFirewall();
  }
  return done;
}
