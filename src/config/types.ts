export type Mode = 'nat' | 'routed' | 'isolated' | 'bridged';
export type FirewallChoice = 'auto' | 'nftables' | 'iptables' | 'none';
export type Dhcp6 = 'off' | 'stateless' | 'stateful';

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
}

export interface Forward {
  name: string;
  proto: 'tcp' | 'udp';
  /** host port range, inclusive (a single port has from === to) */
  ports: { from: number; to: number };
  toIp: string;
  /** guest port range; same size as `ports` */
  toPorts: { from: number; to: number };
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
  ipv4: Subnet4 & {
    /** `address = auto`: brmgr chose the subnet (see plan/auto.ts and config/load.ts) */
    auto?: true;
    dhcp: boolean;
    range: { from: string; to: string };
    leaseTime: string;
    maxLeases: number;
  };
  ipv6?: Subnet6 & { ra: boolean; dhcp: Dhcp6; nat: boolean };
  dns: { enable: boolean; domain?: string; upstream: string[]; hostsFile?: string };
  dnsmasq: { confFile?: string; hostsFile?: string };
  hosts: StaticHost[];
  forwards: Forward[];
  vxlan?: Vxlan;
}
