/** The shell brmgr's leftovers (plan/shell-brmgr.ts), with what they are read from: iptables-save and /proc. */
import type { BridgeConfig } from '../config/types.js';
import type { Observed } from '../host/links.js';
import type { Paths } from '../paths.js';
import { type Leftover, type SavedRules, shellLeftovers } from '../plan/shell-brmgr.js';
import type { Run } from '../system/exec.js';
import { readLedger } from '../system/ledger.js';
import { readState } from '../system/state.js';
import { readSysctl } from '../system/sysctl.js';
import { defaultIsLegacy, legacyTables } from '../system/xtables.js';

/** The IPv4 rules of iptables, and of iptables-legacy where its tables exist beside an nft-based iptables. */
async function savedRules(run: Run): Promise<SavedRules[]> {
  const out: SavedRules[] = [];
  const saved = await run('iptables-save', []);
  if (saved.ok) out.push({ tool: 'iptables', text: saved.stdout });
  if (!defaultIsLegacy() && legacyTables(4).size) {
    const legacy = await run('iptables-legacy-save', []);
    if (legacy.ok) out.push({ tool: 'iptables-legacy', text: legacy.stdout });
  }
  return out;
}

export async function findShellLeftovers(
  run: Run,
  cfg: BridgeConfig,
  observed: Observed,
  p: Paths,
): Promise<Leftover[]> {
  if (cfg.mode === 'bridged' || cfg.mode === 'macvtap') return [];
  const ledger = readLedger(p.runRoot, 'sysctls')['net/ipv4/ip_forward'];
  return shellLeftovers(cfg, {
    observed,
    brmgrState: !!readState(p),
    saved: await savedRules(run),
    ipForward: readSysctl('net/ipv4/ip_forward'),
    ...(ledger ? { ipForwardLedger: ledger } : {}),
  });
}
