/** The kernel's links, addresses and routes as brmgr reads them: types and the parser of `ip -json`. */
export interface ObservedLink {
  ifname: string;
  kind?: string;
  mtu: number;
  address: string;
  up: boolean;
  stp: boolean;
  /** bridges: IGMP/MLD snooping, and whether the bridge itself is the multicast querier */
  mcastSnooping?: boolean;
  mcastQuerier?: boolean;
  /** the link group, as ip names it ("default", or a number) */
  group: string;
  /** the bridge this link is a port of */
  master?: string;
  /** kind vxlan: its identity */
  vxlan?: ObservedVxlan;
  /** kinds macvlan and macvtap: the parent (when in this namespace) and the mode */
  macvlan?: { parent?: string; mode?: string };
}

export interface ObservedVxlan {
  id: number;
  local?: string;
  port: number;
  learning: boolean;
}

export interface ObservedAddr {
  ifname: string;
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope: string;
  broadcast?: string;
  /** from a DHCP client or router advertisements: it expires */
  dynamic?: boolean;
  valid_life_time?: number;
  preferred_life_time?: number;
}

export interface ObservedRoute {
  dst: string;
  dev?: string;
  table?: string;
  type?: string;
  gateway?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  flags?: string[];
}

/** The kernel's view of links, addresses and routes in this network namespace. */
export interface Observed {
  links: ObservedLink[];
  addrs: ObservedAddr[];
  routes: ObservedRoute[];
}

interface RawLink {
  ifname: string;
  mtu: number;
  address?: string;
  group?: string;
  flags?: string[];
  master?: string;
  /** a stacked link's parent */
  link?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: {
      stp_state?: number;
      mcast_snooping?: number;
      mcast_querier?: number;
      id?: number;
      local?: string;
      local6?: string;
      port?: number;
      learning?: boolean;
      mode?: string;
    };
  };
}
interface RawAddr {
  ifname: string;
  addr_info?: (ObservedAddr & { label?: string })[];
}

function vxlanInfo(d: NonNullable<NonNullable<RawLink['linkinfo']>['info_data']>): ObservedVxlan {
  const local = d.local ?? d.local6;
  return { id: d.id ?? 0, ...(local ? { local } : {}), port: d.port ?? 0, learning: d.learning ?? true };
}

/** Parses the output of `ip -d -json -batch` for: link show, address show, route show table all. */
export function parseObserved(stdout: string): Observed {
  const [links = [], addrs = [], routes = []] = stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('['))
    .map((l) => JSON.parse(l) as unknown[]);
  return {
    links: (links as RawLink[]).map((l) => ({
      ifname: l.ifname,
      ...(l.linkinfo?.info_kind ? { kind: l.linkinfo.info_kind } : {}),
      mtu: l.mtu,
      address: l.address ?? '',
      up: (l.flags ?? []).includes('UP'),
      stp: (l.linkinfo?.info_data?.stp_state ?? 0) !== 0,
      ...(l.linkinfo?.info_kind === 'bridge'
        ? {
            mcastSnooping: (l.linkinfo.info_data?.mcast_snooping ?? 1) !== 0,
            mcastQuerier: (l.linkinfo.info_data?.mcast_querier ?? 0) !== 0,
          }
        : {}),
      group: l.group ?? 'default',
      ...(l.master ? { master: l.master } : {}),
      ...(l.linkinfo?.info_kind === 'vxlan' ? { vxlan: vxlanInfo(l.linkinfo.info_data ?? {}) } : {}),
      ...(l.linkinfo?.info_kind === 'macvlan' || l.linkinfo?.info_kind === 'macvtap'
        ? {
            macvlan: {
              ...(l.link ? { parent: l.link } : {}),
              ...(l.linkinfo.info_data?.mode ? { mode: l.linkinfo.info_data.mode } : {}),
            },
          }
        : {}),
    })),
    addrs: (addrs as RawAddr[]).flatMap((a) =>
      (a.addr_info ?? []).map((i) => ({
        ifname: a.ifname,
        family: i.family,
        local: i.local,
        prefixlen: i.prefixlen,
        scope: i.scope,
        ...(i.broadcast ? { broadcast: i.broadcast } : {}),
        ...(i.dynamic
          ? { dynamic: true, valid_life_time: i.valid_life_time, preferred_life_time: i.preferred_life_time }
          : {}),
      })),
    ),
    routes: routes as ObservedRoute[],
  };
}

/** Ports enslaved to the bridge (guests' veths and taps). */
export function portsOf(observed: Observed, bridge: string): string[] {
  return observed.links.filter((l) => l.master === bridge).map((l) => l.ifname);
}

/** The link attributes brmgr may change on a bridge it did not create, to restore them on post. */
export interface LinkAttributes {
  mac: string;
  mtu: number;
  stp: boolean;
  up: boolean;
  /** absent in states written before brmgr set link groups */
  group?: string;
  /** absent in states written before brmgr set multicast snooping */
  mcastSnooping?: boolean;
  mcastQuerier?: boolean;
}

export function attributesOf(link: ObservedLink): LinkAttributes {
  return {
    mac: link.address,
    mtu: link.mtu,
    stp: link.stp,
    up: link.up,
    group: link.group,
    ...(link.mcastSnooping !== undefined ? { mcastSnooping: link.mcastSnooping } : {}),
    ...(link.mcastQuerier !== undefined ? { mcastQuerier: link.mcastQuerier } : {}),
  };
}

/** What bridged mode moved from the uplink to the bridge, to move back on post. */
export interface MovedUplink {
  name: string;
  /** `ip address add` arguments before `dev`, e.g. "192.168.1.10/24 broadcast 192.168.1.255" */
  addresses: string[];
  /** `ip route add` arguments before `dev`, e.g. "default via 192.168.1.1 proto dhcp metric 100" */
  routes: string[];
  /** it was down: brmgr brought it up (a port that is down carries nothing), post takes it down again */
  wasDown?: boolean;
}
