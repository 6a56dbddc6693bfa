import { intToIp4, ip4ToInt, isIPv4, maskToPrefix, network4, overlaps, span4 } from '../../net/addr.js';
import type { Entry } from '../ini.js';
import type { Reader } from '../reader.js';
import { lanServes } from '../schema.js';
import type { BridgeConfig, Mode, Route4 } from '../types.js';
import { NOT_UNICAST4, inSubnet4, isUnicast4, list, parseCidr, type Subnet } from '../values.js';

/** [ipv4] (or the original's addr, netmask, network, dhcp_range, dhcp_max); `autoSubnet`: see ParseOptions. */
export function ipv4Section(r: Reader, mode: Mode, autoSubnet?: string): BridgeConfig['ipv4'] {
  const s = 'ipv4';
  let address = '10.0.1.1';
  let prefix = 24;
  const addr = r.get(s, 'address');
  const netmask = r.get('', 'netmask');
  const network = r.get('', 'network');
  const auto = addr?.value.toLowerCase() === 'auto';
  let badNetwork = false;
  if (auto) {
    // chosen by brmgr-pre and recorded (see plan/auto.ts); until then a stand-in
    if (autoSubnet) [address, prefix] = [autoSubnet.split('/')[0]!, Number(autoSubnet.split('/')[1])];
    const range = r.get(s, 'range');
    if (range) r.fail(range, 'with address = auto the subnet is chosen by brmgr: give a fixed address to set a range');
  } else if (addr && addr.section === '') {
    // the original's form: addr="10.0.1.1" netmask="255.255.255.0" network="10.0.1.0/24"
    if (!isIPv4(addr.value)) r.fail(addr, `'${addr.value}' is not an IPv4 address`);
    else if (!isUnicast4(addr.value)) r.fail(addr, NOT_UNICAST4(addr.value));
    else address = addr.value;
    if (netmask) {
      const p = /^\d+$/.test(netmask.value) ? Number(netmask.value) : maskToPrefix(netmask.value);
      if (p === undefined || p < 8 || p > 30) r.fail(netmask, `'${netmask.value}' is not a netmask between /8 and /30`);
      else prefix = p;
    } else if (network && /\/(\d+)$/.test(network.value)) {
      const p = Number(/\/(\d+)$/.exec(network.value)![1]);
      if (p < 8 || p > 30) {
        r.fail(network, `'${network.value}': prefix /${p} is out of range /8-/30`);
        badNetwork = true;
      } else prefix = p;
    }
  } else if (addr) {
    const cidr = parseCidr(r.fail, addr, 4);
    if (cidr) ({ address, prefix } = cidr);
  }
  for (const flat of [netmask, network]) {
    if (flat && addr?.section !== '')
      r.fail(flat, addr ? `also set as [ipv4] address on line ${addr.line}; keep one` : 'set without addr');
  }
  const where = addr ?? { line: r.sectionLine(s), section: s, key: 'address' };
  const { first, last } = span4(address, prefix);
  const self = ip4ToInt(address);
  if (self === first || self === last) {
    r.fail(
      where,
      `${address} is the ${self === first ? 'network' : 'broadcast'} address of /${prefix}; give a host address`,
    );
  }
  const net = network4(address, prefix);
  if (network && !badNetwork && network.value !== `${net}/${prefix}`) {
    r.fail(network, `'${network.value}' does not match addr/netmask (${net}/${prefix})`);
  }

  const rangeEntry = r.get(s, 'range');
  // default: the larger side of the subnet next to the bridge's address
  let ranges = [last - self >= self - first ? { from: self + 1, to: last - 1 } : { from: first + 1, to: self - 1 }];
  if (rangeEntry) {
    // the original's dhcp_range is one FIRST,LAST; [ipv4] range is a comma list of FIRST-LAST
    const isList = rangeEntry.section !== '' && rangeEntry.value.includes('-');
    const texts = isList ? list(rangeEntry) : [rangeEntry.value];
    const parsed: { from: number; to: number }[] = [];
    for (const text of texts) {
      const parts = text.split(rangeEntry.section === '' ? ',' : '-').map((p) => p.trim());
      if (parts.length !== 2 || !parts.every((p) => isIPv4(p))) {
        r.fail(rangeEntry, `'${text}' is not an address range (like 10.0.1.2-10.0.1.254)`);
        continue;
      }
      const [from, to] = parts.map(ip4ToInt) as [number, number];
      const clash = parsed.find((o) => o.from <= to && from <= o.to);
      if (from > to) r.fail(rangeEntry, `range ${text} runs backwards`);
      else if (from <= first || to >= last)
        r.fail(rangeEntry, `range ${text} is not inside ${net}/${prefix} (network and broadcast excluded)`);
      else if (self >= from && self <= to)
        r.fail(rangeEntry, `range ${text} includes the bridge's own address ${address}`);
      else if (clash) r.fail(rangeEntry, `range ${text} overlaps range ${intToIp4(clash.from)}-${intToIp4(clash.to)}`);
      else parsed.push({ from, to });
    }
    if (parsed.length === texts.length) ranges = parsed;
  }
  const size = ranges.reduce((sum, range) => sum + range.to - range.from + 1, 0);
  const leaseTime = r.value(s, 'lease_time');
  const maxLeases = r.value(s, 'max_leases');
  const dhcp = r.value(s, 'dhcp') ?? !lanServes(mode);
  const routesEntry = r.get(s, 'routes');
  const ntpEntry = r.get(s, 'ntp');
  for (const e of [routesEntry, ntpEntry]) if (e && !dhcp) r.fail(e, 'told to guests by DHCP: needs dhcp = true');
  if (routesEntry && auto)
    r.fail(routesEntry, 'with address = auto the subnet is chosen by brmgr: give a fixed address to set routes');
  const routes = routesEntry && !auto ? routesOf(r, routesEntry, { address, prefix, network: net }) : [];
  const ntp = ntpEntry ? ntpOf(r, ntpEntry) : [];
  const gatewayEntry = r.get(s, 'gateway');
  const gateway = r.value(s, 'gateway') ?? true;
  if (gatewayEntry && !gateway && !dhcp) r.fail(gatewayEntry, 'told to guests by DHCP: needs dhcp = true');
  const natEntry = r.get(s, 'nat_address');
  let natAddress: string | undefined;
  if (natEntry && mode !== 'nat') r.fail(natEntry, `source NAT is mode = nat's; this bridge is ${mode}`);
  else if (natEntry && !isIPv4(natEntry.value)) r.fail(natEntry, `'${natEntry.value}' is not an IPv4 address`);
  else if (natEntry && !isUnicast4(natEntry.value)) r.fail(natEntry, NOT_UNICAST4(natEntry.value));
  else if (natEntry && overlaps(natEntry.value, 32, net, prefix))
    r.fail(natEntry, `${natEntry.value} is inside the guests' subnet ${net}/${prefix}; give an address of the uplink`);
  else if (natEntry) natAddress = natEntry.value;
  return {
    address,
    prefix,
    network: net,
    ...(auto ? { auto: true as const } : {}),
    dhcp,
    ranges: ranges.map((range) => ({ from: intToIp4(range.from), to: intToIp4(range.to) })),
    leaseTime: leaseTime ?? '1h',
    maxLeases: maxLeases || size,
    ...(routes.length ? { routes } : {}),
    ...(ntp.length ? { ntp } : {}),
    ...(gateway ? {} : { gateway: false as const }),
    ...(natAddress ? { natAddress } : {}),
  };
}

/** `CIDR via GATEWAY, …`: classless static routes for guests, sent with the default route via the bridge. */
function routesOf(r: Reader, e: Entry, v4: Subnet): Route4[] {
  const routes: Route4[] = [];
  // options 121 and 249 hold at most 255 bytes; the default route via the bridge takes 5
  let bytes = 5;
  for (const text of list(e)) {
    const m = /^(\S+)\/(\d{1,2})\s+via\s+(\S+)$/.exec(text);
    if (!m || !isIPv4(m[1]!) || !isIPv4(m[3]!) || Number(m[2]) > 32) {
      r.fail(e, `'${text}' is not a route (like 192.168.100.0/24 via 10.0.1.5)`);
      continue;
    }
    const [dest, prefix, via] = [m[1]!, Number(m[2]), m[3]!];
    const network = network4(dest, prefix);
    if (prefix === 0)
      r.fail(e, `${text}: the default route stays via the bridge (${v4.address}); give other destinations`);
    else if (network !== dest)
      r.fail(e, `${text}: ${dest}/${prefix} has host bits set; the network is ${network}/${prefix}`);
    else if (prefix >= v4.prefix && overlaps(network, prefix, v4.network, v4.prefix))
      r.fail(e, `${text}: ${network}/${prefix} is inside the bridge's subnet, which guests reach directly`);
    else if (!inSubnet4(via, v4))
      r.fail(e, `${text}: the gateway ${via} is not a host address of ${v4.network}/${v4.prefix}`);
    else if (routes.some((o) => o.network === network && o.prefix === prefix))
      r.fail(e, `${text}: ${network}/${prefix} is routed twice`);
    else {
      routes.push({ network, prefix, via });
      bytes += 1 + Math.ceil(prefix / 8) + 4;
    }
  }
  if (bytes > 255) r.fail(e, `${routes.length} routes do not fit in one DHCP option (255 bytes); give fewer`);
  return routes;
}

/** NTP servers: IPv4 addresses, or `self` for the bridge's address. */
function ntpOf(r: Reader, e: Entry): string[] {
  const servers: string[] = [];
  for (const text of list(e)) {
    const v = text.toLowerCase() === 'self' ? 'self' : text;
    if (v !== 'self' && !isIPv4(v)) r.fail(e, `'${text}' is not an IPv4 address or self`);
    else if (v !== 'self' && !isUnicast4(v)) r.fail(e, NOT_UNICAST4(v));
    else if (servers.includes(v)) r.fail(e, `${text} is given twice`);
    else servers.push(v);
  }
  return servers;
}
