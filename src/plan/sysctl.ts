import type { BridgeConfig } from '../config/types.js';

/** A kernel setting under /proc/sys, in path form: net/ipv4/ip_forward. */
export type Sysctl = [key: string, value: string];

/**
 * The kernel settings the bridge needs, in the order they must be written.
 * `acceptRa` holds each other link's net/ipv6/conf/LINK/accept_ra: links that
 * take their default route from router advertisements (1) must move to 2
 * before IPv6 forwarding is on, or the kernel ignores RAs and the host loses
 * that route. `kernelIpv6` is false where the kernel runs without IPv6.
 */
export function desiredSysctls(cfg: BridgeConfig, acceptRa: Record<string, string>, kernelIpv6 = true): Sysctl[] {
  // no bridge and nothing routed: the settings of the links it makes go with them (plan/macvtap.ts)
  if (cfg.mode === 'macvtap') return [];
  // port forwards are routed into the guest whatever the mode
  const forwarding = cfg.mode === 'nat' || cfg.mode === 'routed' || cfg.forwards.length > 0;
  const out: Sysctl[] = [];
  if (forwarding) out.push(['net/ipv4/ip_forward', '1']);
  if (kernelIpv6 && cfg.mode !== 'bridged') {
    // Guests must not configure the host: a router advertisement sent onto the
    // bridge would otherwise give the host a default route (and an address)
    // through that guest. Without [ipv6] the bridge has no IPv6 at all, not even
    // a link-local address guests could reach the host on. A bridged bridge is
    // the host's LAN link and keeps all of that.
    out.push(
      [`net/ipv6/conf/${cfg.name}/disable_ipv6`, cfg.ipv6 ? '0' : '1'],
      [`net/ipv6/conf/${cfg.name}/accept_ra`, '0'],
      [`net/ipv6/conf/${cfg.name}/autoconf`, '0'],
    );
  }
  if (kernelIpv6 && cfg.mode === 'bridged' && !cfg.uplink && cfg.vxlan) {
    // extending another host's bridge: the host takes no address from the authority's advertisements
    out.push([`net/ipv6/conf/${cfg.name}/accept_ra`, '0'], [`net/ipv6/conf/${cfg.name}/autoconf`, '0']);
  }
  if (cfg.ipv6) {
    // the bridge's own address usable at once
    out.push([`net/ipv6/conf/${cfg.name}/accept_dad`, '0']);
    if (forwarding) {
      for (const [link, value] of Object.entries(acceptRa).sort()) {
        if (value === '1' && link !== cfg.name && link !== 'lo' && link !== 'all' && link !== 'default') {
          out.push([`net/ipv6/conf/${link}/accept_ra`, '2']);
        }
      }
      out.push(['net/ipv6/conf/all/forwarding', '1']);
    }
  }
  return out;
}

/** Settings that belong to the bridge itself and vanish with it. */
export function isBridgeSysctl(key: string, bridge: string): boolean {
  return key.startsWith(`net/ipv6/conf/${bridge}/`);
}

/** The settings not as wanted now, in words ("net.ipv4.ip_forward = 0, not 1"); one that is gone (its link) is not. */
export function sysctlDrift(wanted: readonly Sysctl[], read: (key: string) => string | undefined): string[] {
  return wanted.flatMap(([key, value]) => {
    const now = read(key);
    return now === undefined || now === value ? [] : [`${key.replaceAll('/', '.')} = ${now}, not ${value}`];
  });
}
