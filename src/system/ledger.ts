import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What brmgr changed on the host as a whole, shared by its bridges: each entry
 * holds what was there before brmgr first changed it and the bridges that
 * need it; the last of them to go down puts it back. Two ledgers:
 * - `sysctls`: kernel settings (ip_forward, IPv6 forwarding, other links' accept_ra);
 * - `iptables-nft`: per IP family, the iptables-nft tables and built-in chains
 *   that existed before brmgr's first iptables-restore (a JSON list), so the
 *   last bridge removes the empty ones brmgr's rules brought into existence.
 * Read and written under the host-wide lock.
 */
export type Ledger = Record<string, { original: string; bridges: string[] }>;
export type LedgerName = 'sysctls' | 'iptables-nft';

const ledgerFile = (runRoot: string, name: LedgerName) => join(runRoot, `.${name}.json`);

export function readLedger(runRoot: string, name: LedgerName): Ledger {
  try {
    return JSON.parse(readFileSync(ledgerFile(runRoot, name), 'utf8')) as Ledger;
  } catch {
    return {};
  }
}

/** Written atomically: a crash never leaves half a ledger. An empty one is removed. */
export function writeLedger(runRoot: string, name: LedgerName, ledger: Ledger): void {
  const file = ledgerFile(runRoot, name);
  if (Object.keys(ledger).length === 0) {
    rmSync(file, { force: true });
    return;
  }
  // readable by all: root's brmgr-pre and a unit's brmgr run, as its own user, share it
  writeFileSync(`${file}.tmp`, `${JSON.stringify(ledger, null, 2)}\n`, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}

/** Takes the bridge off every entry; returns the entries no bridge needs any more (removed from the ledger). */
export function release(runRoot: string, name: LedgerName, bridge: string): Ledger {
  const ledger = readLedger(runRoot, name);
  const freed: Ledger = {};
  for (const [key, entry] of Object.entries(ledger)) {
    if (!entry.bridges.includes(bridge)) continue;
    entry.bridges = entry.bridges.filter((b) => b !== bridge);
    if (entry.bridges.length) continue;
    freed[key] = entry;
    delete ledger[key];
  }
  writeLedger(runRoot, name, ledger);
  return freed;
}
