export type Mode = 'nat' | 'routed' | 'isolated' | 'bridged' | 'macvtap';
export type FirewallChoice = 'auto' | 'nftables' | 'iptables' | 'none';
export type Dhcp6 = 'off' | 'stateless' | 'stateful';
/** what brmgr stops guests sending on their ports (strict: basic for now, see the README) */
export type PortSecurity = 'off' | 'basic' | 'strict';

export interface Subnet4 {
  /** the bridge's own address, e.g. 10.0.1.1 */
  address: string;
  prefix: number;
  /** network address, e.g. 10.0.1.0 */
  network: string;
}

export interface Subnet6 {
  address: string;
  prefix: number;
  network: string;
}

export interface StaticHost {
  name: string;
  mac: string;
  ip: string;
  /** fixed DHCPv6 address (stateful DHCPv6 only) */
  ip6?: string;
  /** this host's lease time; default: [ipv4] lease_time */
  leaseTime?: string;
}

/** A classless static route for guests (DHCP options 121 and 249). */
export interface Route4 {
  network: string;
  prefix: number;
  /** a guest-side gateway inside the bridge's subnet */
  via: string;
}

/** A DNS forwarder; with `domain`, for that domain only. */
export interface Upstream {
  ip: string;
  port?: number;
  domain?: string;
}

export interface Pxe {
  /** dnsmasq's TFTP server, on the bridge only, serves this folder */
  tftpRoot?: string;
  /** BIOS clients' boot file */
  bootFile?: string;
  /** UEFI clients' boot file (client architecture 7 and 9) */
  bootFileEfi?: string;
  /** the TFTP server guests boot from; default: the bridge address when tftpRoot is set */
  nextServer?: string;
}

export interface Forward {
  name: string;
  proto: 'tcp' | 'udp';
  /** host port range, inclusive (a single port has from === to) */
  ports: { from: number; to: number };
  toIp: string;
  /** guest port range; same size as `ports` */
  toPorts: { from: number; to: number };
  /** the host itself listens on the port, and the forward is meant to take it from outside */
  shadow?: true;
}

/** The bridge stretched to other hosts over VXLAN. */
export interface Vxlan {
  /** the VNI */
  id: number;
  /** the other hosts' underlay addresses (head-end replication); empty with learning = evpn */
  peers: string[];
  /** this host's underlay address; default: the source address toward the first peer */
  local?: string;
  port: number;
  /** static: flooding to the peers, MACs learned from traffic; evpn: FRR fills the forwarding table */
  learning: 'static' | 'evpn';
}

export interface BridgeConfig {
  /** the config file it came from */
  file: string;
  name: string;
  mode: Mode;
  uplink?: string;
  mtu?: number;
  /** set in the config; otherwise derived at plan time (see plan/mac.ts) */
  mac?: string;
  stp: boolean;
  firewall: FirewallChoice;
  portSecurity: PortSecurity;
  /** guests reach the bridge and beyond it, never each other */
  isolatePorts: boolean;
  /** mode = macvtap only: the host reaches its guests through a macvlan on the uplink */
  hostAccess?: boolean;
  ipv4: Subnet4 & {
    /** `address = auto`: brmgr chose the subnet (see plan/auto.ts and config/load.ts) */
    auto?: true;
    dhcp: boolean;
    /** DHCP pools, in config order, inside the subnet and apart from each other */
    ranges: { from: string; to: string }[];
    leaseTime: string;
    maxLeases: number;
    routes?: Route4[];
    /** NTP servers for guests: IPv4 addresses, or `self` for the bridge's address */
    ntp?: string[];
  };
  ipv6?: Subnet6 & { ra: boolean; dhcp: Dhcp6; nat: boolean };
  dns: {
    enable: boolean;
    domain?: string;
    upstream: Upstream[];
    hostsFile?: string;
    /** the host resolves guests through systemd-resolved's per-link DNS on the bridge */
    resolved: boolean;
  };
  dnsmasq: { confFile?: string; hostsFile?: string };
  hosts: StaticHost[];
  forwards: Forward[];
  pxe?: Pxe;
  /** [hooks]: set only when the config names one */
  hooks?: { lease: string };
  vxlan?: Vxlan;
}
