import { readdirSync } from 'node:fs';
import type { BridgeConfig } from '../config/types.js';
import type { Listener } from '../host/listeners.js';
import type { Observed } from '../host/links.js';
import type { NftObject } from '../host/nftables.js';
import { nftRuleset } from '../firewall/nftables.js';
import { paths } from '../paths.js';
import { servicePorts } from '../plan/services.js';
import type { Run } from '../system/exec.js';
import { listeners, listenersInTheWay, socketInodes } from '../system/listeners.js';
import { observe } from '../system/observe.js';
import { dnsmasqPid } from '../system/run-files.js';

/** What pre, check and the pre-flight read of the host, in one go. */
export interface Facts {
  observed: Observed;
  listeners: Listener[];
  ruleset: NftObject[];
}

/** Which listening sockets to read: none, all with their processes (doctor), or those in a bridge's way. */
export type SocketsWanted = 'none' | 'all' | { cfg: BridgeConfig; runRoot: string };

/** The pids of the dnsmasqs brmgr runs, one per bridge folder under the run root. */
function brmgrDnsmasqs(runRoot: string): number[] {
  let bridges: string[] = [];
  try {
    bridges = readdirSync(runRoot);
  } catch {
    return [];
  }
  return bridges.flatMap((bridge) => {
    const pid = dnsmasqPid(paths(bridge, { BRMGR_RUN_DIR: runRoot }));
    return pid ? [pid] : [];
  });
}

/** The sockets that could hold the ports the bridge's dnsmasq needs: on its addresses or on all. */
function inTheWay(run: Run, { cfg, runRoot }: { cfg: BridgeConfig; runRoot: string }): Promise<Listener[]> {
  const ports = servicePorts(cfg);
  if (!ports.length) return Promise.resolve([]);
  const addresses = new Set(['0.0.0.0', '::', cfg.ipv4.address, ...(cfg.ipv6 ? [cfg.ipv6.address] : [])]);
  return listenersInTheWay(run, ports, addresses, () => socketInodes(brmgrDnsmasqs(runRoot)));
}

/** Independent reads, side by side. */
export async function gatherFacts(run: Run, opts: { sockets: SocketsWanted }): Promise<Facts> {
  const { sockets } = opts;
  const [observed, found, ruleset] = await Promise.all([
    observe(run),
    sockets === 'none' ? [] : sockets === 'all' ? listeners(run) : inTheWay(run, sockets),
    nftRuleset(run),
  ]);
  return { observed, listeners: found, ruleset };
}
