import { chmodSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LinkAttributes, MovedUplink } from '../host/links.js';
import type { Logger } from '../log.js';
import type { Paths } from '../paths.js';
import { clearShellRunFile, openRunRoot } from './run-dir.js';

/** What brmgr-pre created or changed for a bridge, so brmgr-post removes exactly that. */
export interface State {
  version: 1;
  bridge: string;
  /** false once brmgr-post has kept the bridge link for attached guests and removed the rest */
  up: boolean;
  /** brmgr created the bridge link (else it adopted an existing bridge, whose attributes are kept) */
  createdLink: boolean;
  original?: LinkAttributes;
  /** addresses brmgr added to the bridge */
  addresses: string[];
  /** bridged mode: the uplink brmgr enslaved, and its addresses and routes now on the bridge */
  uplink?: MovedUplink;
  /** this bridge's own kernel settings (net/ipv6/conf/BRIDGE/*) brmgr changed, with the value each had before;
   * host-wide ones are in the ledger (ledger.ts; states written before it may hold them too) */
  sysctls: Record<string, string>;
  /** what the firewall wing recorded: kept as is, read by firewall/record.ts only */
  firewall: unknown;
  /** the VXLAN link brmgr created as a port of the bridge */
  vxlan?: { link: string };
  /** the kernel has nft's bridge meta (`meta ibrname`), probed once: the kernel does not change without a reboot,
   * which clears the run folder */
  bridgeMeta?: boolean;
  /** brmgr's bridge-family table (and the VXLAN underlay's table) may exist */
  l2?: boolean;
  /** mode = macvtap: the uplink whose netdev table (`table netdev brmgr-NET`) learns the guests' addresses,
   * and the macvlan brmgr made on it for the host to reach them (host_access) */
  macvtap?: { uplink: string; shim?: string };
}

/** The run folder and the bridge's run dir in it, over what the shell brmgr left there (run-dir.ts). */
export function ensureRunDir(p: Paths, log: Logger): void {
  // made now: searchable by dnsmasq's account whatever the umask (the unit's is 0077)
  if (mkdirSync(p.runRoot, { recursive: true, mode: 0o755 })) chmodSync(p.runRoot, 0o755);
  else openRunRoot(p, log);
  clearShellRunFile(p, log);
  // not recursive: that reports a read-only file system as ENOENT
  try {
    mkdirSync(p.runDir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

export function readState(p: Paths): State | undefined {
  try {
    return JSON.parse(readFileSync(p.state, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

/** Written atomically: a crash never leaves half a record. */
export function writeState(p: Paths, state: State): void {
  const tmp = `${p.state}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, p.state);
}

export function removeState(p: Paths): void {
  rmSync(p.state, { force: true });
}

/** Other bridges that brmgr-pre has set up on this host (they share the global sysctls). */
export function otherBridges(p: Paths): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(p.runRoot);
  } catch {
    return [];
  }
  return names.filter(
    (b) => join(p.runRoot, b) !== p.runDir && readState({ ...p, state: join(p.runRoot, b, 'state.json') })?.up,
  );
}
