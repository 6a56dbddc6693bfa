import { canonical6, contains6, ip4ToInt, isIPv4, isIPv6, span4 } from '../../net/addr.js';
import type { Reader } from '../reader.js';
import type { BridgeConfig, Forward, StaticHost } from '../types.js';
import { LABEL, portRange } from '../values.js';

/** The [forward.NAME] sections, in file order: DNAT from a host port to a guest's, no port forwarded twice. */
export function forwardSections(
  r: Reader,
  ipv4: BridgeConfig['ipv4'],
  ipv6: BridgeConfig['ipv6'],
  hosts: StaticHost[],
): Forward[] {
  const forwards: Forward[] = [];
  const used = new Map<string, string>();
  for (const name of r.forwardNames) {
    const s = `forward.${name}`;
    const line = r.sectionLine(s);
    if (!LABEL.test(name)) {
      r.fail({ line, section: s, key: 'name' }, `'${name}' is not a valid forward name (letters, digits, '-')`);
      continue;
    }
    const proto = r.value('forward.*', 'proto', s) ?? 'tcp';
    const portEntry = r.get(s, 'port');
    const toEntry = r.get(s, 'to');
    if (!portEntry) r.fail({ line, section: s, key: 'port' }, 'missing; give the host port (like 8080)');
    if (!toEntry)
      r.fail({ line, section: s, key: 'to' }, 'missing; give IP:PORT, [IPV6]:PORT or HOSTNAME:PORT of a [host.*]');
    const ports = r.value('forward.*', 'port', s);
    if (!ports || !toEntry) continue;
    const m = /^([^:[\]]+|\[[^\]]+\])(?::([^:]+))?$/.exec(toEntry.value);
    if (!m) {
      r.fail(toEntry, `'${toEntry.value}' is not IP:PORT, [IPV6]:PORT or HOSTNAME:PORT`);
      continue;
    }
    let toIp: string | undefined;
    const target = m[1]!;
    if (target.startsWith('[')) {
      const a = target.slice(1, -1);
      const v6 = isIPv6(a) && !/[%.]/.test(a) ? canonical6(a) : undefined;
      if (!v6) r.fail(toEntry, `'${a}' is not an IPv6 address`);
      else if (!ipv6) r.fail(toEntry, 'an IPv6 forward needs IPv6 on the bridge ([ipv6] address)');
      else if (!contains6(ipv6.network, ipv6.prefix, v6) || v6 === ipv6.network || v6 === ipv6.address)
        r.fail(toEntry, `${v6} is not a guest address of ${ipv6.network}/${ipv6.prefix}`);
      else toIp = v6;
    } else if (isIPv4(target) && ipv4.auto) {
      r.fail(
        toEntry,
        'with address = auto the subnet is chosen by brmgr: give a fixed address to forward to a guest address',
      );
    } else if (isIPv4(target)) {
      const { first, last } = span4(ipv4.address, ipv4.prefix);
      const n = ip4ToInt(target);
      if (n <= first || n >= last || target === ipv4.address) {
        r.fail(toEntry, `${target} is not a guest address of ${ipv4.network}/${ipv4.prefix}`);
      } else toIp = target;
    } else {
      const host = hosts.find((h) => h.name === target.toLowerCase());
      if (!host) r.fail(toEntry, `'${target}' is neither an IPv4 address nor a [host.*] name`);
      else toIp = host.ip;
    }
    const toPorts = m[2] === undefined ? ports : portRange(r.fail, toEntry, m[2]);
    if (!toIp || !toPorts) continue;
    if (toPorts.to - toPorts.from !== ports.to - ports.from) {
      r.fail(toEntry, `port range ${m[2]} is not the same size as port ${portEntry!.value}`);
      continue;
    }
    // DNAT to a port range picks a free port from it instead of shifting: 8005 would land on 9000
    if (ports.to > ports.from && toPorts.from !== ports.from) {
      r.fail(
        toEntry,
        `port range ${m[2]} must be the same ports as ${portEntry!.value}; ` +
          'a range cannot be shifted to other port numbers',
      );
      continue;
    }
    // an IPv4 and an IPv6 forward may share a host port: each family's clients go to its own guest
    const family = isIPv4(toIp) ? '4' : '6';
    const clash = [...used.entries()].find(([k]) => {
      const [f, p, a, b] = k.split(':');
      return f === family && p === proto && Number(a) <= ports.to && ports.from <= Number(b);
    });
    if (clash) {
      r.fail(portEntry!, `${proto} port ${portEntry!.value} is already forwarded by [forward.${clash[1]}]`);
      continue;
    }
    used.set(`${family}:${proto}:${ports.from}:${ports.to}`, name);
    const shadow = r.value('forward.*', 'shadow', s) ?? false;
    forwards.push({ name, proto, ports, toIp, toPorts, ...(shadow ? { shadow: true as const } : {}) });
  }
  return forwards;
}
