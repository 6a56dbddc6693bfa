import type { BridgeConfig } from '../config/types.js';
import { hex6 } from '../net/addr.js';

/** Unique local addresses, fc00::/7: routable only inside a site, never on the IPv6 internet. */
export function isUla(address: string): boolean {
  return /^0xf[cd]/.test(hex6(address));
}

/**
 * A ULA prefix routed out of a nat-mode bridge without NAT66: guests get addresses and a default
 * route, but no upstream router will carry packets from fc00::/7, so IPv6 to the internet fails.
 */
export function ipv6Warnings(cfg: BridgeConfig): string[] {
  const v6 = cfg.ipv6;
  if (cfg.mode !== 'nat' || !v6 || v6.nat || !isUla(v6.address)) return [];
  return [
    `[ipv6] address ${v6.address}/${v6.prefix} is a unique local (ULA) prefix in mode = nat without ` +
      `[ipv6] nat = true: guests get addresses that cannot reach the IPv6 internet; ` +
      `set [ipv6] nat = true, or give a global prefix routed to this host`,
  ];
}
