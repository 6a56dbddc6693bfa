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
