import type { BridgeConfig } from '../config/types.js';
import { reverseZones4, reverseZones6 } from '../net/addr.js';

/**
 * What systemd-resolved is told for the bridge with `[dns] resolved = true`: the bridge's dnsmasq as the
 * link's DNS server, and as routing-only domains (`~`) the guests' domain and the subnets' reverse zones,
 * so the host asks dnsmasq for those names alone. Undefined when dnsmasq answers no DNS.
 */
export function resolvedLink(cfg: BridgeConfig): { servers: string[]; domains: string[] } | undefined {
  if (!cfg.dns.resolved || !cfg.dns.enable || cfg.mode === 'bridged') return undefined;
  const zones = reverseZones4(cfg.ipv4.network, cfg.ipv4.prefix);
  if (cfg.ipv6) zones.push(...reverseZones6(cfg.ipv6.network, cfg.ipv6.prefix));
  return {
    servers: [cfg.ipv4.address, ...(cfg.ipv6 ? [cfg.ipv6.address] : [])],
    domains: [...(cfg.dns.domain ? [cfg.dns.domain] : []), ...zones].map((d) => `~${d}`),
  };
}
