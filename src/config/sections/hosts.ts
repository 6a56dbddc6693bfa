import { canonical6, contains6, ip4ToInt, isIPv4, isIPv6, span4 } from '../../net/addr.js';
import type { Entry } from '../ini.js';
import type { Reader } from '../reader.js';
import type { BridgeConfig, StaticHost } from '../types.js';
import { LABEL, NOT_UNICAST4, isUnicast4, list } from '../values.js';

const DHCP_HOST_KEYWORD = /^(\d+[smhdw]?|infinite|ignore)$/i;

/** The [host.NAME] sections, in file order: static leases, each name, MAC and address its own. */
export function hostSections(
  r: Reader,
  cfg: Pick<BridgeConfig, 'ipv4' | 'ipv6' | 'portSecurity' | 'mode'>,
): StaticHost[] {
  const hosts: StaticHost[] = [];
  const seenIp = new Map<string, string>();
  const seenMac = new Map<string, string>();
  const seenName = new Map<string, string>();
  const seenIp6 = new Map<string, string>();
  for (const name of r.hostNames) {
    const s = `host.${name}`;
    const line = r.sectionLine(s);
    if (!LABEL.test(name)) {
      r.fail({ line, section: s, key: 'name' }, `'${name}' is not a valid host name (letters, digits, '-')`);
      continue;
    }
    if (DHCP_HOST_KEYWORD.test(name)) {
      // dnsmasq's dhcp-host reads these as a lease time or a keyword, never as a name
      r.fail(
        { line, section: s, key: 'name' },
        `'${name}' would be read by dnsmasq as a lease time or keyword ('ignore', 'infinite'), ` +
          'not a name; choose another',
      );
      continue;
    }
    const same = seenName.get(name.toLowerCase());
    if (same) {
      r.fail(
        { line, section: s, key: 'name' },
        `same name as [host.${same}] on line ${r.sectionLine(`host.${same}`)} (names are not case-sensitive)`,
      );
      continue;
    }
    seenName.set(name.toLowerCase(), name);
    const macEntry = r.get(s, 'mac');
    const ipEntry = r.get(s, 'ip');
    if (!macEntry) r.fail({ line, section: s, key: 'mac' }, 'missing; a static host needs a mac');
    if (!ipEntry) r.fail({ line, section: s, key: 'ip' }, 'missing; a static host needs an ip');
    const mac = r.value('host.*', 'mac', s);
    let ip: string | undefined;
    if (ipEntry && cfg.ipv4.auto) {
      r.fail(ipEntry, 'with address = auto the subnet is chosen by brmgr: give a fixed address for static hosts');
    } else if (ipEntry) {
      const { first, last } = span4(cfg.ipv4.address, cfg.ipv4.prefix);
      const n = isIPv4(ipEntry.value) ? ip4ToInt(ipEntry.value) : NaN;
      if (Number.isNaN(n)) r.fail(ipEntry, `'${ipEntry.value}' is not an IPv4 address`);
      else if (n <= first || n >= last)
        r.fail(ipEntry, `${ipEntry.value} is not a host address of ${cfg.ipv4.network}/${cfg.ipv4.prefix}`);
      else if (ipEntry.value === cfg.ipv4.address) r.fail(ipEntry, `${ipEntry.value} is the bridge's own address`);
      else if (seenIp.has(ipEntry.value))
        r.fail(ipEntry, `${ipEntry.value} is already given to [host.${seenIp.get(ipEntry.value)}]`);
      else ip = ipEntry.value;
    }
    const leaseTime = r.value('host.*', 'lease_time', s);
    const portMacs = r.value('host.*', 'port_macs', s);
    const ip6Entry = r.get(s, 'ip6');
    let ip6: string | undefined;
    if (ip6Entry) {
      const v6 = cfg.ipv6;
      const a = isIPv6(ip6Entry.value) && !/[%.]/.test(ip6Entry.value) ? canonical6(ip6Entry.value) : undefined;
      if (!a) r.fail(ip6Entry, `'${ip6Entry.value}' is not an IPv6 address`);
      else if (v6?.dhcp !== 'stateful')
        r.fail(ip6Entry, 'a fixed DHCPv6 address needs [ipv6] dhcp = stateful (and an [ipv6] address)');
      else if (!contains6(v6.network, v6.prefix, a) || a === v6.network)
        r.fail(ip6Entry, `${a} is not a host address of ${v6.network}/${v6.prefix}`);
      else if (a === v6.address) r.fail(ip6Entry, `${a} is the bridge's own address`);
      else if (seenIp6.has(a)) r.fail(ip6Entry, `${a} is already given to [host.${seenIp6.get(a)}]`);
      else ip6 = a;
    }
    const dnsEntry = r.get(s, 'dns');
    const dns = dnsEntry ? dnsServers(r, dnsEntry) : undefined;
    const bootFile = r.value('host.*', 'boot_file', s);
    const ingress = r.value('host.*', 'ingress', s);
    const egress = r.value('host.*', 'egress', s);
    for (const e of [dnsEntry, r.get(s, 'boot_file')])
      if (e && !cfg.ipv4.dhcp) r.fail(e, 'told to the guest by DHCP: needs [ipv4] dhcp = true');
    const extraEntry = r.get(s, 'extra_ips');
    const extraIps = extraEntry ? extraAddresses(r, extraEntry) : undefined;
    const portSecurity = r.value('host.*', 'port_security', s);
    const levelEntry = r.get(s, 'port_security');
    if (levelEntry && portSecurity && portSecurity !== 'off' && cfg.portSecurity === 'off')
      r.fail(levelEntry, `needs [bridge] port_security basic or strict (it is off: no port is guarded)`);
    else if (levelEntry && portSecurity === 'strict' && cfg.mode === 'bridged')
      r.fail(
        levelEntry,
        "strict binds the port to the addresses brmgr's DHCP gives; in bridged mode the LAN gives them",
      );
    if (mac && seenMac.has(mac)) r.fail(macEntry!, `${mac} is already given to [host.${seenMac.get(mac)}]`);
    if (mac && ip && !seenMac.has(mac)) {
      seenIp.set(ip, name);
      seenMac.set(mac, name);
      if (ip6) seenIp6.set(ip6, name);
      hosts.push({
        name: name.toLowerCase(),
        mac,
        ip,
        ...(ip6 ? { ip6 } : {}),
        ...(leaseTime ? { leaseTime } : {}),
        ...(dns?.length ? { dns } : {}),
        ...(bootFile ? { bootFile } : {}),
        ...(portMacs !== undefined ? { portMacs } : {}),
        ...(ingress !== undefined ? { ingress } : {}),
        ...(egress !== undefined ? { egress } : {}),
        ...(extraIps?.length ? { extraIps } : {}),
        ...(portSecurity ? { portSecurity } : {}),
      });
    }
  }
  return hosts;
}

/** One guest's DNS servers (option 6): IPv4 addresses. */
function dnsServers(r: Reader, e: Entry): string[] {
  const servers: string[] = [];
  for (const text of list(e)) {
    if (!isIPv4(text)) r.fail(e, `'${text}' is not an IPv4 address`);
    else if (!isUnicast4(text)) r.fail(e, NOT_UNICAST4(text));
    else if (servers.includes(text)) r.fail(e, `${text} is given twice`);
    else servers.push(text);
  }
  return servers;
}

/** A guest's extra addresses (strict): unicast IPv4 or IPv6, each once. */
function extraAddresses(r: Reader, e: Entry): string[] {
  const out: string[] = [];
  for (const text of list(e)) {
    const a = isIPv4(text) ? text : isIPv6(text) && !/[%.]/.test(text) ? canonical6(text) : undefined;
    if (!a) r.fail(e, `'${text}' is not an IPv4 or IPv6 address`);
    else if (isIPv4(a) && !isUnicast4(a)) r.fail(e, NOT_UNICAST4(a));
    else if (!isIPv4(a) && /^(ff|::$)/.test(a)) r.fail(e, `${a} is not a unicast address`);
    else if (out.includes(a)) r.fail(e, `${a} is given twice`);
    else out.push(a);
  }
  return out;
}
