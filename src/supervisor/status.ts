import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Paths } from '../paths.js';

/** What `brmgr status` reads of a running supervisor. */
export interface SupervisorStatus {
  pid: number;
  dnsmasqPid: number | undefined;
  /** ms since the epoch */
  dnsmasqStarted: number;
  restarts: number;
}

const statusFile = (p: Paths) => join(p.runDir, 'supervisor.json');

export function writeStatus(p: Paths, status: SupervisorStatus): void {
  writeFileSync(statusFile(p), `${JSON.stringify(status)}\n`);
}

export function removeStatus(p: Paths): void {
  rmSync(statusFile(p), { force: true });
}
