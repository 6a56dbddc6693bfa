import { readdirSync } from 'node:fs';
import type { BridgeConfig } from '../config/types.js';
import type { Listener } from '../host/listeners.js';
import type { NetworkdLink } from '../host/networkd.js';
import type { Observed } from '../host/links.js';
import type { NftObject } from '../host/nftables.js';
import { nftRuleset } from '../firewall/nftables.js';
import { probeBridgeMeta } from '../firewall/scope.js';
import { paths } from '../paths.js';
import { servicePorts } from '../plan/services.js';
import type { Run } from '../system/exec.js';
import { listeners, listenersInTheWay, procListeners, socketInodes } from '../system/listeners.js';
import { networkdLink } from '../system/networkd.js';
import { observe } from '../system/observe.js';
import { dnsmasqPid } from '../system/run-files.js';

/** What pre, check and the pre-flight read of the host, in one go. */
export interface Facts {
  observed: Observed;
  listeners: Listener[];
  /** listeners on the ports the config forwards to guests */
  forwarded: Listener[];
  ruleset: NftObject[];
  /** bridged mode: what systemd-networkd makes of the uplink, when it has seen it */
  networkd?: NetworkdLink;
  /** the kernel has nft's bridge meta: as recorded, else probed; only when asked for */
  bridgeMeta?: boolean;
}

/** Which listening sockets to read: none, all with their processes (doctor), or those in a bridge's way. */
export type SocketsWanted = 'none' | 'all' | { cfg: BridgeConfig; runRoot: string };

/** The pids of the dnsmasqs brmgr runs, one per bridge folder under the run root. */
export function brmgrDnsmasqs(runRoot: string): number[] {
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

/** Listeners on a port the config forwards (from /proc/net; `ss -p`, for their processes, only when there are). */
async function onForwardedPorts(run: Run, cfg: BridgeConfig): Promise<Listener[]> {
  if (!cfg.forwards.length) return [];
  const forwarded = (l: Listener) =>
    cfg.forwards.some((f) => f.proto === l.proto && l.port >= f.ports.from && l.port <= f.ports.to);
  if (!(await procListeners()).some(forwarded)) return [];
  const named = (await listeners(run)).filter(forwarded);
  return named.length ? named : (await procListeners()).filter(forwarded);
}

/** The uplink bridged mode enslaves, whose networkd state the facts include. */
export function bridgedUplink(cfg: BridgeConfig): string | undefined {
  return cfg.mode === 'bridged' ? cfg.uplink : undefined;
}

/** Independent reads, side by side. */
export async function gatherFacts(
  run: Run,
  opts: { sockets: SocketsWanted; uplink?: string | undefined; bridgeMeta?: boolean | 'probe' },
): Promise<Facts> {
  const { sockets } = opts;
  const [observed, found, forwarded, ruleset, networkd, bridgeMeta] = await Promise.all([
    observe(run),
    sockets === 'none' ? [] : sockets === 'all' ? listeners(run) : inTheWay(run, sockets),
    typeof sockets === 'object' ? onForwardedPorts(run, sockets.cfg) : [],
    nftRuleset(run),
    opts.uplink ? networkdLink(run, opts.uplink) : undefined,
    opts.bridgeMeta === 'probe' ? probeBridgeMeta(run) : opts.bridgeMeta,
  ]);
  return {
    observed,
    listeners: found,
    forwarded,
    ruleset,
    ...(networkd ? { networkd } : {}),
    ...(bridgeMeta === undefined ? {} : { bridgeMeta }),
  };
}
