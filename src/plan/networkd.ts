import type { BridgeConfig } from '../config/types.js';
import type { NetworkdLink } from '../host/networkd.js';

export interface NetworkdFight {
  /** what networkd does to the uplink, naming its .network file */
  problem: string;
  /** what to change in that file, and the command that applies it */
  fix: string;
}

/**
 * Bridged mode on an uplink that systemd-networkd manages: networkd takes it out of the bridge when it
 * configures it (no master in its .network file) and keeps its own DHCP and addresses on it. The fix is
 * networkd's to make: leave the uplink alone, configure the bridge instead.
 */
export function networkdFight(cfg: BridgeConfig, link: NetworkdLink | undefined): NetworkdFight | undefined {
  if (cfg.mode !== 'bridged' || !cfg.uplink || !link?.networkFile) return undefined;
  if (link.name !== cfg.uplink || ['unmanaged', 'linger'].includes(link.adminState)) return undefined;
  const file = link.networkFile;
  return {
    problem:
      `uplink ${cfg.uplink} is managed by systemd-networkd (${file}, ${link.adminState}): it takes ` +
      `${cfg.uplink} out of ${cfg.name} and keeps its own addresses on it`,
    fix:
      `in ${file} put [Link] Unmanaged=yes (and no [Network] section); move its [Network] settings ` +
      `(DHCP=, Address=, Gateway=) to a file with [Match] Name=${cfg.name}; then: networkctl reload`,
  };
}

/** The fight as one warning line, for pre and `brmgr check`. */
export function networkdWarning(fight: NetworkdFight): string {
  return `${fight.problem}; ${fight.fix}`;
}
