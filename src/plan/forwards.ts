import type { BridgeConfig } from '../config/types.js';

/**
 * The bridge address's own DNS and DHCP ports that a `[forward.*]` range
 * covers: dnsmasq answers the guests there, so the forward must leave them be
 * (a forward of udp 53 would otherwise take the guests' DNS away).
 */
export function servedPortsInForwards(cfg: BridgeConfig): { proto: 'tcp' | 'udp'; port: number }[] {
  const served: { proto: 'tcp' | 'udp'; port: number }[] = [];
  if (cfg.dns.enable) served.push({ proto: 'udp', port: 53 }, { proto: 'tcp', port: 53 });
  if (cfg.ipv4.dhcp && cfg.mode !== 'bridged') served.push({ proto: 'udp', port: 67 });
  return served.filter((s) => cfg.forwards.some((f) => f.proto === s.proto && f.ports.from <= s.port && s.port <= f.ports.to));
}
