import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Host-wide kernel settings brmgr changed (ip_forward, IPv6 forwarding, other
 * links' accept_ra), each with the value it had before brmgr first changed
 * it and the bridges that need it: the last of them to go down puts it back.
 * Read and written under the host-wide lock.
 */
export type Ledger = Record<string, { original: string; bridges: string[] }>;

export const ledgerFile = (runRoot: string) => join(runRoot, '.sysctls.json');

export function readLedger(runRoot: string): Ledger {
  try {
    return JSON.parse(readFileSync(ledgerFile(runRoot), 'utf8')) as Ledger;
  } catch {
    return {};
  }
}

/** Written atomically: a crash never leaves half a ledger. An empty one is removed. */
export function writeLedger(runRoot: string, ledger: Ledger): void {
  const file = ledgerFile(runRoot);
  if (Object.keys(ledger).length === 0) {
    rmSync(file, { force: true });
    return;
  }
  writeFileSync(`${file}.tmp`, `${JSON.stringify(ledger, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
