import type { Run } from './exec.js';

/**
 * systemd's watchdog, when the unit has one (`WatchdogSec=`): how often to say the service is alive, in ms
 * (a third of the period), or undefined. WATCHDOG_PID names the process systemd watches: only it pings.
 */
export function watchdogPeriod(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return usec / 1000;
}

/**
 * WATCHDOG=1 to systemd. Node has no datagram socket for NOTIFY_SOCKET: systemd-notify sends it, and waits
 * until systemd has read it (so it is counted as the unit's, which needs `NotifyAccess=all`).
 */
export async function pingWatchdog(run: Run): Promise<boolean> {
  return (await run('systemd-notify', ['WATCHDOG=1'])).ok;
}

export type ServiceState = 'ready' | 'reloading' | 'stopping';

/**
 * The service's state to systemd (`Type=notify`), when it started brmgr run with a NOTIFY_SOCKET: READY=1
 * once serving, a STATUS= line for `systemctl status`, STOPPING=1. Sent through systemd-notify, as the
 * watchdog's pings are.
 */
export function systemdNotifier(
  env: NodeJS.ProcessEnv,
  run: Run,
): ((state: ServiceState, status: string) => Promise<boolean>) | undefined {
  if (!env.NOTIFY_SOCKET) return undefined;
  const first: Record<ServiceState, string[]> = { ready: ['READY=1'], reloading: [], stopping: ['STOPPING=1'] };
  return async (state, status) => (await run('systemd-notify', [...first[state], `STATUS=${status}`])).ok;
}
