import type { BridgeConfig } from '../config/types.js';
import { guestAddresses, type GuestAddress } from '../dnsmasq/leases.js';
import { paths } from '../paths.js';
import { neighbours6 } from '../plan/services.js';
import type { Run } from '../system/exec.js';
import { readLeases } from '../system/leases.js';
import { readNeighbours6 } from '../system/neigh.js';
import { readSnooped, snoopFamily } from '../system/snoop.js';
import { readState } from '../system/state.js';

/**
 * Every address known on the bridge, with its kind (`brmgr leases`, `brmgr lookup`): dnsmasq's leases; in
 * bridged and macvtap modes the addresses seen crossing (only those spawn nft); with [ipv6], the guests'
 * addresses in the bridge's neighbour table (`cfg`: undefined when the config cannot be read).
 */
export async function bridgeAddresses(
  bridge: string,
  cfg: BridgeConfig | undefined,
  run: Run,
): Promise<GuestAddress[]> {
  const p = paths(bridge);
  const family = snoopFamily(readState(p));
  const ours = cfg && neighbours6(cfg);
  const [snooped, neighbours] = await Promise.all([
    family ? readSnooped(run, bridge, family) : [],
    ours ? readNeighbours6(run, bridge) : [],
  ]);
  return guestAddresses({ leases: readLeases(p.leases), snooped, neighbours, ...(ours ? { ours } : {}) });
}
