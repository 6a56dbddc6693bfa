/**
 * The files a bridge's `brmgr run` keeps in its run dir that others read: its status, and the pid
 * file of the dnsmasq it runs (which may outlive a killed supervisor).
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Logger } from '../log.js';
import { dnsmasqFiles, type Paths } from '../paths.js';
import { readJsonFile } from './json-file.js';
import { alive, pidFromFile, stopProcess } from './process.js';

/** What `brmgr status` and the doctor read of a running supervisor. */
export interface SupervisorStatus {
  pid: number;
  dnsmasqPid: number | undefined;
  /** ms since the epoch */
  dnsmasqStarted: number;
  restarts: number;
  /** why dnsmasq was last restarted (it exited, or stopped answering) */
  lastRestart?: string;
  /** ms since the epoch: when this `brmgr run` started */
  started?: number;
  /** addresses in the running config's DHCP pools (0 without DHCP) */
  dhcpPool?: number;
  /** what this `brmgr run` counted since it started, for `brmgr exporter` */
  counts?: RunCounts;
  /** the bridge's ports: the guest behind each (its MAC, name, addresses) and its port security */
  ports?: { port: string; mac?: string; name?: string; addresses: string[]; level: string }[];
}

/** Counters of one `brmgr run`, each by a label of few values. */
export interface RunCounts {
  /** dnsmasq restarted by the supervisor, by cause: exited, unresponsive, lease_file */
  dnsmasqRestarts: Record<string, number>;
  /** brmgr's rules put back, by cause: table_gone, rules_changed, filter_table_appeared, taken_down */
  firewallRepairs: Record<string, number>;
  /** reloads by outcome: applied, refused, failed */
  reloads: Record<string, number>;
  /** reloads refused because the config file had errors */
  configErrors: number;
  /** looks at the firewall after a change that may concern the bridge (another bridge's do not), by what was read: rules, all */
  firewallChecks: Record<string, number>;
  /** DHCP messages dnsmasq logged, by type: ack, nak, decline, release */
  dhcp: Record<string, number>;
}

/** Written atomically: a reader (`brmgr status`, the exporter) never sees half of it. */
export function writeStatus(p: Paths, status: SupervisorStatus): void {
  const tmp = `${p.supervisorStatus}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(status)}\n`, { mode: 0o600 });
  renameSync(tmp, p.supervisorStatus);
}

export function readStatus(p: Paths): SupervisorStatus | undefined {
  return readJsonFile<SupervisorStatus>(p.supervisorStatus);
}

/** The status and the config text served go together: both are the running supervisor's. */
export function removeStatus(p: Paths): void {
  rmSync(p.supervisorStatus, { force: true });
  rmSync(p.served, { force: true });
}

/** The config text `brmgr run` serves now, written at its start and at each reload it applies. */
export function writeServed(p: Paths, text: string): void {
  const tmp = `${p.served}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, p.served);
}

/** What the live `brmgr run` serves, while one runs. */
export function readServed(p: Paths): { pid: number; text: string } | undefined {
  const pid = liveSupervisorPid(p);
  if (!pid) return undefined;
  try {
    return { pid, text: readFileSync(p.served, 'utf8') };
  } catch {
    return undefined;
  }
}

/** The pid of the `brmgr run` that serves the bridge (it holds the bridge's supervisor lock), if one runs. */
export function runningSupervisor(p: Paths): number | undefined {
  return pidFromFile(p.supervisorPid, 'brmgr');
}

const pidFile = (p: Paths) => dnsmasqFiles(p).pid;
const confFile = (p: Paths) => dnsmasqFiles(p).conf;

/** The pid the bridge's dnsmasq wrote, alive or not. */
export function dnsmasqPid(p: Paths): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile(p), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The bridge's dnsmasq if it still runs: a live process whose command line names its config (a pid can be reused). */
export function liveDnsmasqPid(p: Paths): number | undefined {
  const pid = dnsmasqPid(p);
  if (!alive(pid)) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(confFile(p)) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Stops a dnsmasq left serving by a supervisor killed with -9, if there is one. */
export async function stopOrphanDnsmasq(p: Paths, log: Logger): Promise<void> {
  const orphan = liveDnsmasqPid(p);
  if (!orphan) return;
  log.warn({ event: 'stale', pid: orphan }, `stopping dnsmasq ${orphan}, left serving by a killed brmgr run`);
  await stopProcess(orphan);
}

/** The pid of the bridge's `brmgr run` if it runs: its lock file holds it. */
export function liveSupervisorPid(p: Paths): number | undefined {
  try {
    const pid = Number(readFileSync(p.supervisorPid, 'utf8').trim());
    return alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether brmgr may have shaped a port of the bridge since the last post: without that, and without a rate
 * in the config, `brmgr run` has no tc work to do (nothing to apply, nothing of its own to remove).
 */
export const shapedSincePost = (p: Paths): boolean => existsSync(p.shaped);

export function markShaped(p: Paths): void {
  if (!existsSync(p.shaped)) writeFileSync(p.shaped, '', { mode: 0o600 });
}

export function unmarkShaped(p: Paths): void {
  rmSync(p.shaped, { force: true });
}
