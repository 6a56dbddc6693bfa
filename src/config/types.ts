export type Mode = 'nat' | 'routed' | 'isolated' | 'bridged' | 'macvtap';
export type FirewallChoice = 'auto' | 'nftables' | 'iptables' | 'none';
export type Dhcp6 = 'off' | 'stateless' | 'stateful';
/** what brmgr stops guests sending on their ports (firewall/l2.ts basic, firewall/strict.ts strict) */
export type PortSecurity = 'off' | 'basic' | 'strict';

export interface Subnet4 {
  /** the bridge's own address, e.g. 10.0.1.1 */
  address: string;
  prefix: number;
  /** network address, e.g. 10.0.1.0 */
  network: string;
}

/** A subnet the bridge had before a change, kept while its leases last (plan/former.ts) */
export interface Former4 extends Subnet4 {
  /** when its last lease ends, in ms since the epoch */
  until: number;
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
  /** this host's own DNS servers (option 6) */
  dns?: string[];
  /** this host's own boot file (option 67) */
  bootFile?: string;
  /** MACs the port this guest is behind may send from; default: [bridge] port_macs */
  portMacs?: number;
  /** rate limits of this guest's port, bits per second: toward it, from it (override the bridge's) */
  ingress?: number;
  egress?: number;
  /** strict: more addresses this guest may send from (IPv4, or IPv6 canonical) */
  extraIps?: string[];
  /** this guest's own port security, instead of [bridge] port_security */
  portSecurity?: PortSecurity;
}

/** A port on the host that strict guests may reach besides DHCP, DNS, TFTP and NTP. */
export interface HostPort {
  proto: 'tcp' | 'udp';
  from: number;
  to: number;
}

/** A classless static route for guests (DHCP options 121 and 249). */
export interface Route4 {
  network: string;
  prefix: number;
  /** a guest-side gateway inside the bridge's subnet */
  via: string;
}

/** DNS records dnsmasq answers itself; every name is absolute (the domain already added). */
export interface DnsRecords {
  cname: { name: string; target: string }[];
  srv: { name: string; target: string; port: number; priority: number; weight: number }[];
  txt: { name: string; text: string }[];
  mx: { name: string; host: string; preference: number }[];
  /** the domain and every name under it answer with `ip` */
  wildcard: { domain: string; ip: string }[];
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
  /** the guest's address: IPv4, or IPv6 (canonical) for a forward from the host's IPv6 addresses */
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
  /** strict: more ports on the host guests may reach; set only when given */
  hostPorts?: HostPort[];
  /** guests reach the bridge and beyond it, never each other */
  isolatePorts: boolean;
  /** every guest port's rate limits, bits per second: toward the guest, from the guest */
  guestIngress?: number;
  guestEgress?: number;
  /** `multicast_snooping = false`: the bridge floods multicast; absent: snooping, the bridge the querier */
  multicastSnooping?: false;
  /** connections one guest (one source address) may hold through NAT and forwards */
  guestConns: number;
  /** MACs one guest port may send from (bounds the bridge's FDB and DHCP leases per port) */
  portMacs: number;
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
    /** `gateway = false`: guests get no default route (no option 3) */
    gateway?: false;
    /** nat mode: source NAT to this uplink address instead of masquerade */
    natAddress?: string;
    /** a host fact, not a key: former subnets whose leases have not ended (resolved by pre) */
    former?: Former4[];
  };
  ipv6?: Subnet6 & { ra: boolean; dhcp: Dhcp6; nat: boolean };
  dns: {
    enable: boolean;
    domain?: string;
    upstream: Upstream[];
    hostsFile?: string;
    /** the host resolves guests through systemd-resolved's per-link DNS on the bridge */
    resolved: boolean;
    /** [dns] cname, srv, txt, mx, wildcard: set only when one is given */
    records?: DnsRecords;
  };
  dnsmasq: { confFile?: string; hostsFile?: string };
  hosts: StaticHost[];
  forwards: Forward[];
  pxe?: Pxe;
  /** [hooks]: set only when the config names one */
  hooks?: { lease: string };
  vxlan?: Vxlan;
}
