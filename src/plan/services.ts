import type { BridgeConfig } from '../config/types.js';
import { BlockList } from 'node:net';
import { ip4ToInt } from '../net/addr.js';

/**
 * What brmgr's dnsmasq serves on the bridge: the one place that decides it.
 * The firewall opens exactly these, the pre-flight checks their ports are
 * free, port forwards leave them alone, and no dnsmasq runs without one.
 */
export interface Services {
  dhcp4: boolean;
  dhcp6: boolean;
  dns: boolean;
  /** router advertisements (ICMPv6, no port) */
  ra: boolean;
  /** read-only TFTP for network boot ([pxe] tftp_root) */
  tftp: boolean;
}

export interface ServicePort {
  proto: 'tcp' | 'udp';
  port: number;
  family: 4 | 6 | 'both';
  what: 'DNS' | 'DHCP' | 'DHCPv6' | 'TFTP';
}

export function services(cfg: BridgeConfig): Services {
  return {
    // bridged mode leaves DHCP and DNS to the LAN (the config refuses them there)
    dhcp4: cfg.ipv4.dhcp && cfg.mode !== 'bridged',
    dhcp6: !!cfg.ipv6 && cfg.ipv6.dhcp !== 'off',
    dns: cfg.dns.enable,
    ra: !!cfg.ipv6 && cfg.ipv6.ra,
    tftp: !!cfg.pxe?.tftpRoot && cfg.mode !== 'bridged',
  };
}

/** Whether there is a dnsmasq to run at all. */
export function servesAnything(cfg: BridgeConfig): boolean {
  const s = services(cfg);
  return s.dhcp4 || s.dhcp6 || s.dns || s.ra || s.tftp;
}

/** How many IPv4 addresses dnsmasq may lease: its pools, at most `max_leases`; 0 without DHCP. */
export function dhcpPoolSize(cfg: BridgeConfig): number {
  if (!services(cfg).dhcp4) return 0;
  const size = cfg.ipv4.ranges.reduce((n, r) => n + ip4ToInt(r.to) - ip4ToInt(r.from) + 1, 0);
  return Math.min(size, cfg.ipv4.maxLeases);
}

/** The ports dnsmasq listens on for the bridge, in the order the firewall opens them. */
export function servicePorts(cfg: BridgeConfig): ServicePort[] {
  const s = services(cfg);
  const ports: ServicePort[] = [];
  if (s.dhcp4) ports.push({ proto: 'udp', port: 67, family: 4, what: 'DHCP' });
  if (s.dhcp6) ports.push({ proto: 'udp', port: 547, family: 6, what: 'DHCPv6' });
  if (s.dns)
    ports.push(
      { proto: 'udp', port: 53, family: 'both', what: 'DNS' },
      { proto: 'tcp', port: 53, family: 'both', what: 'DNS' },
    );
  if (s.tftp) ports.push({ proto: 'udp', port: 69, family: 4, what: 'TFTP' });
  return ports;
}

/** Where dnsmasq answers DNS for this config, if it does on an address of brmgr's (not in bridged mode). */
export function dnsTarget(cfg: BridgeConfig): { address: string; port: number } | undefined {
  const dns = servicePorts(cfg).find((s) => s.proto === 'udp' && s.what === 'DNS');
  return dns && cfg.mode !== 'bridged' ? { address: cfg.ipv4.address, port: dns.port } : undefined;
}

/**
 * Whether the bridge's guests' IPv6 addresses are learned from its neighbour table: a bridge brmgr serves
 * with [ipv6] (bridged and macvtap networks learn theirs from what crosses them, system/snoop.ts). The test
 * for one address: in the bridge's prefix.
 */
export function neighbours6(cfg: BridgeConfig): ((ip: string) => boolean) | undefined {
  const v6 = cfg.ipv6;
  if (!v6 || cfg.mode === 'bridged' || cfg.mode === 'macvtap') return undefined;
  const prefix = new BlockList();
  prefix.addSubnet(v6.network, v6.prefix, 'ipv6');
  return (ip) => prefix.check(ip, 'ipv6');
}
