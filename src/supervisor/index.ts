import { rmSync, writeFileSync } from 'node:fs';
import { readConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import { paths } from '../paths.js';
import { runner } from '../system/exec.js';
import { acquireLock, LockHeld } from '../system/lock.js';
import { watchdogPeriod } from '../system/notify.js';
import { stopOrphanDnsmasq } from '../system/run-files.js';
import { Counts } from './counters.js';
import { hostEffects } from './effects.js';
import type { SupervisorEvent } from './core.js';
import { Supervisor } from './supervisor.js';
import { Watchdog } from './watchdog.js';

export interface Options {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  pidFile?: string;
}

/**
 * `brmgr run BRIDGE`: converges the bridge, then keeps one dnsmasq serving it until SIGTERM/SIGINT.
 * Resolves with the exit code.
 */
export async function supervise(bridge: string, opts: Options): Promise<number> {
  const env = opts.env ?? process.env;
  const log = opts.log.child({ bridge });
  const loaded = readConfig(bridge, env);
  const p = paths(bridge, env);
  const dispatch = (ev: SupervisorEvent) => supervisor.dispatch(ev);
  const counts = new Counts();
  // prepares the run dir the lock is in
  const fx = hostEffects({
    bridge,
    paths: p,
    env,
    root: opts.log,
    log,
    config: () => supervisor.cfg,
    restarts: () => supervisor.restarts,
    counts,
    dispatch,
  });
  const supervisor = new Supervisor(bridge, loaded, fx, counts);
  const release = await acquireLock(p.supervisorPid, 0).catch((err: Error) => {
    if (err instanceof LockHeld) throw new Error(`brmgr run ${bridge} is already running: ${err.message}`);
    throw err;
  });
  if (opts.pidFile) writeFileSync(opts.pidFile, `${process.pid}\n`);

  // a signal during start-up waits for pre to finish: killed midway, pre would leave a half-converged bridge
  const signals = { SIGTERM: 'stop', SIGINT: 'stop', SIGHUP: 'reload' } as const;
  const handlers = Object.entries(signals).map(([sig, kind]) => {
    const handler = () => dispatch(kind === 'stop' ? { kind } : { kind, why: 'SIGHUP' });
    process.on(sig, handler);
    return () => process.off(sig, handler);
  });
  const cleanup = () => {
    for (const off of handlers) off();
    if (opts.pidFile) rmSync(opts.pidFile, { force: true });
    release();
  };
  // alive from the start: systemd's watchdog runs from the exec, and pre may wait for another's lock
  const period = watchdogPeriod(env);
  const watchdog = period ? new Watchdog(period, (now) => supervisor.busyFor(now), runner(), log) : undefined;
  watchdog?.start();
  try {
    await stopOrphanDnsmasq(p, log);
    await supervisor.start();
  } catch (err) {
    watchdog?.stop();
    cleanup();
    throw err;
  }
  const code = await supervisor.done;
  watchdog?.stop();
  cleanup();
  return code;
}
