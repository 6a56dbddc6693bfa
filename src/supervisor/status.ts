import { rmSync, writeFileSync } from 'node:fs';
import type { Paths } from '../paths.js';

/** What `brmgr status` reads of a running supervisor. */
export interface SupervisorStatus {
  pid: number;
  dnsmasqPid: number | undefined;
  /** ms since the epoch */
  dnsmasqStarted: number;
  restarts: number;
}

const statusFile = (p: Paths) => p.supervisorStatus;

export function writeStatus(p: Paths, status: SupervisorStatus): void {
  writeFileSync(statusFile(p), `${JSON.stringify(status)}\n`, { mode: 0o600 });
}

export function removeStatus(p: Paths): void {
  rmSync(statusFile(p), { force: true });
}
