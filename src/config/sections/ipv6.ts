import { network6 } from '../../net/addr.js';
import type { Reader } from '../reader.js';
import type { BridgeConfig } from '../types.js';
import { parseCidr } from '../values.js';

/** [ipv6] (or the original's addr6, netmask6, network6); undefined without an address. */
export function ipv6Section(r: Reader): BridgeConfig['ipv6'] {
  const s = 'ipv6';
  const addr = r.get(s, 'address');
  if (addr?.section !== '') {
    for (const flat of ['netmask6', 'network6']) {
      const e = r.get('', flat);
      if (e) r.fail(e, addr ? `also set as [ipv6] address on line ${addr.line}; keep one` : 'set without addr6');
    }
    if (!addr) return undefined;
  }
  let cidr: { address: string; prefix: number } | undefined;
  if (addr.section === '') {
    const mask = r.get('', 'netmask6');
    const network = r.get('', 'network6');
    const prefix = mask?.value ?? /\/(\d+)$/.exec(network?.value ?? '')?.[1] ?? '64';
    cidr = parseCidr(r.fail, { ...addr, value: `${addr.value}/${prefix}` }, 6);
    if (cidr && network && network.value !== `${network6(cidr.address, cidr.prefix)}/${cidr.prefix}`) {
      r.fail(
        network,
        `'${network.value}' does not match addr6/netmask6 (${network6(cidr.address, cidr.prefix)}/${cidr.prefix})`,
      );
    }
  } else {
    cidr = parseCidr(r.fail, addr, 6);
  }
  const ra = r.value(s, 'ra') ?? true;
  const dhcp = r.value(s, 'dhcp') ?? 'off';
  const nat = r.value(s, 'nat') ?? false;
  if (!cidr) return undefined;
  const net = network6(cidr.address, cidr.prefix);
  if (net === cidr.address)
    r.fail(addr, `${cidr.address} is the subnet-router anycast address of /${cidr.prefix}; give a host address`);
  if (ra && cidr.prefix !== 64)
    r.fail(addr, `router advertisements (ra = true) need a /64 for SLAAC, not /${cidr.prefix}`);
  // dnsmasq refuses a DHCPv6 range on a shorter prefix and would not start
  else if (dhcp !== 'off' && cidr.prefix < 64)
    r.fail(addr, `DHCPv6 (dhcp = ${dhcp}) needs a prefix of /64 or longer, not /${cidr.prefix}`);
  return { ...cidr, network: net, ra, dhcp, nat };
}
