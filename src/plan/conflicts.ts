import type { BridgeConfig } from '../config/types.js';
import { overlaps } from '../net/addr.js';
import { GROUPS } from './link.js';
import { servicePorts } from './services.js';
import { vxlanName } from './vxlan.js';
import type { Listener } from '../host/listeners.js';
import type { Observed } from '../host/links.js';

export interface Findings {
  errors: string[];
  warnings: string[];
}

const SKIP_ROUTE_TYPES = new Set([
  'local',
  'broadcast',
  'multicast',
  'anycast',
  'unreachable',
  'prohibit',
  'blackhole',
]);

function splitPrefix(dst: string): [string, number] {
  const [addr, len] = dst.split('/') as [string, string | undefined];
  return [addr, len === undefined ? (addr.includes(':') ? 128 : 32) : Number(len)];
}

/** What to do about an overlapping IPv4 subnet: another one, or `address = auto`, which picks a free one. */
function anotherSubnet(cfg: BridgeConfig, net: string): string {
  if (net.includes(':')) return `; give ${cfg.name} another [ipv6] address in ${cfg.file}`;
  if (cfg.ipv4.auto) return '';
  return `; give ${cfg.name} another subnet, or let brmgr pick a free one: address = auto under [ipv4] in ${cfg.file}`;
}

/**
 * What on the host stands in the bridge's way: its name taken by something
 * that is not a bridge, or its subnets overlapping another interface's address
 * or a route. Each message names the other party.
 */
export function findConflicts(cfg: BridgeConfig, observed: Observed, others: BridgeConfig[] = []): Findings {
  const errors: string[] = [];
  const warnings: string[] = [];
  // no bridge, no subnet of its own: only its uplink (checked with what only the host knows, preflight.ts)
  if (cfg.mode === 'macvtap') return { errors, warnings };
  const link = observed.links.find((l) => l.ifname === cfg.name);
  if (link && link.kind !== 'bridge') {
    errors.push(
      `${cfg.name} already exists and is ` +
        `${link.kind ? `a ${link.kind} interface` : 'a plain network device'}, not a bridge`,
    );
  }
  if (cfg.vxlan) {
    const name = vxlanName(cfg.name);
    const vx = observed.links.find((l) => l.ifname === name);
    if (vx && vx.kind !== 'vxlan')
      errors.push(
        `${name} (the VXLAN port's name) is taken by ${vx.kind ? `a ${vx.kind} interface` : 'a plain network device'}`,
      );
    else if (vx?.master && vx.master !== cfg.name) errors.push(`${name} is a port of ${vx.master}, not ${cfg.name}`);
    const local = cfg.vxlan.local;
    if (local && !observed.addrs.some((a) => a.local === local))
      errors.push(`[vxlan] local ${local} is not an address of this host`);
    // another bridge's tunnel on the same VNI and port would take this one's traffic
    const other = observed.links.find(
      (l) => l.ifname !== name && l.vxlan?.id === cfg.vxlan!.id && l.vxlan.port === cfg.vxlan!.port,
    );
    if (other) errors.push(`VNI ${cfg.vxlan.id} on port ${cfg.vxlan.port} is already ${other.ifname}'s`);
  }
  const uplink = observed.links.find((l) => l.ifname === cfg.uplink);
  if (cfg.mode === 'bridged') {
    // without an uplink it extends another host's bridge over [vxlan]
    if (cfg.uplink && !uplink) errors.push(`uplink ${cfg.uplink} does not exist`);
    else if (uplink?.master && uplink.master !== cfg.name)
      errors.push(`uplink ${cfg.uplink} is already a port of ${uplink.master}`);
    else if (uplink?.kind === 'bridge')
      errors.push(`uplink ${cfg.uplink} is a bridge itself; a bridge cannot be a port of another`);
    // the bridge's own subnet is the uplink's: nothing of brmgr's to overlap
    return { errors, warnings };
  }
  if (cfg.uplink && !uplink) {
    warnings.push(`uplink ${cfg.uplink} does not exist (yet); guests reach the outside only through it`);
  }
  const subnets: [string, number][] = [[cfg.ipv4.network, cfg.ipv4.prefix]];
  // the links whose addresses overlap: a configured bridge among them is that one conflict, not another
  const overlapping = new Set<string>();
  if (cfg.ipv6) subnets.push([cfg.ipv6.network, cfg.ipv6.prefix]);
  for (const [net, prefix] of subnets) {
    for (const a of observed.addrs) {
      if (a.ifname === cfg.name || a.scope === 'link') continue;
      if (overlaps(net, prefix, a.local, a.prefixlen)) {
        overlapping.add(a.ifname);
        const group = observed.links.find((l) => l.ifname === a.ifname)?.group;
        const brmgr = Object.values(GROUPS).some((g) => String(g) === group);
        errors.push(
          `subnet ${net}/${prefix} overlaps ${a.local}/${a.prefixlen} ` +
            `on ${brmgr ? `brmgr bridge ${a.ifname}` : a.ifname}${anotherSubnet(cfg, net)}`,
        );
      }
    }
    for (const r of observed.routes) {
      if (r.dev === cfg.name || r.dst === 'default' || r.table === 'local' || SKIP_ROUTE_TYPES.has(r.type ?? 'unicast'))
        continue;
      const [addr, len] = splitPrefix(r.dst);
      if (addr.startsWith('fe80:') || addr.startsWith('ff')) continue;
      // an interface's own prefix route is already reported with its address
      if (
        observed.addrs.some(
          (a) => a.ifname === r.dev && overlaps(a.local, a.prefixlen, addr, len) && a.prefixlen === len,
        )
      )
        continue;
      if (overlaps(net, prefix, addr, len)) {
        errors.push(
          `subnet ${net}/${prefix} overlaps route ${r.dst}` +
            `${r.dev ? ` dev ${r.dev}` : ''}${r.table ? ` table ${r.table}` : ''}${anotherSubnet(cfg, net)}`,
        );
      }
    }
  }
  for (const other of others) {
    if (
      other.name !== cfg.name &&
      other.mode !== 'bridged' &&
      !overlapping.has(other.name) &&
      overlaps(cfg.ipv4.network, cfg.ipv4.prefix, other.ipv4.network, other.ipv4.prefix)
    ) {
      warnings.push(
        `subnet ${cfg.ipv4.network}/${cfg.ipv4.prefix} overlaps ${other.ipv4.network}/${other.ipv4.prefix} ` +
          `of brmgr bridge ${other.name} (${other.file}); the two cannot be up at the same time` +
          anotherSubnet(cfg, cfg.ipv4.network),
      );
    }
  }
  return { errors, warnings };
}

/**
 * `[ipv4] nat_address` must be an address the guests' traffic leaves from: one of the uplink's, or
 * without an uplink one of the host's (not the bridge's). Otherwise replies to it never come back.
 */
export function natAddressConflicts(cfg: BridgeConfig, observed: Observed): string[] {
  const to = cfg.ipv4.natAddress;
  if (!to || cfg.mode !== 'nat') return [];
  const holders = observed.addrs.filter((a) => a.local === to).map((a) => a.ifname);
  if (cfg.uplink) {
    if (holders.includes(cfg.uplink)) return [];
    const has = observed.addrs.filter((a) => a.ifname === cfg.uplink && a.family === 'inet').map((a) => a.local);
    return [
      `[ipv4] nat_address ${to} is not an address of the uplink ${cfg.uplink}` +
        ` (${has.length ? `it has ${has.join(', ')}` : 'it has no IPv4 address'}` +
        `${holders.length ? `; ${to} is on ${holders.join(', ')}` : ''}); ` +
        `add it (ip address add ${to}/32 dev ${cfg.uplink}) or give one of its addresses`,
    ];
  }
  if (holders.some((h) => h !== cfg.name && h !== 'lo')) return [];
  return [`[ipv4] nat_address ${to} is not an address of this host; add it to the interface guests leave by`];
}

/** A listener on an address of the host's own that outside clients reach (not loopback, not the bridge). */
const reachedFromOutside = (cfg: BridgeConfig, l: Listener) =>
  !l.address.startsWith('127.') &&
  l.address !== '::1' &&
  l.address !== cfg.ipv4.address &&
  l.address !== cfg.ipv6?.address;

/**
 * Forwards that would take a port the host itself listens on (its ssh, say) from outside clients:
 * refused unless the forward says `shadow = true`.
 */
export function forwardConflicts(cfg: BridgeConfig, listening: Listener[]): string[] {
  const errors: string[] = [];
  for (const f of cfg.forwards) {
    if (f.shadow) continue;
    const v6 = f.toIp.includes(':');
    // a wildcard socket ([::] or *) may take both families; an address, its own
    const sameFamily = (x: Listener) => x.address === '::' || x.address === '*' || x.address.includes(':') === v6;
    const l = listening.find(
      (x) =>
        x.proto === f.proto &&
        x.port >= f.ports.from &&
        x.port <= f.ports.to &&
        sameFamily(x) &&
        reachedFromOutside(cfg, x),
    );
    if (!l) continue;
    const who = l.process ? `${l.process} (pid ${l.pid})` : 'a process';
    errors.push(
      `[forward.${f.name}] ${f.proto} port ${l.port} is the host's own: ${who} listens on ${l.address}, and ` +
        `the forward would send outside clients to the guest instead; choose another port, or set ` +
        `shadow = true in [forward.${f.name}] if that is what you mean`,
    );
  }
  return errors;
}

const holder = (l: Listener) => (l.process ? `${l.process} (pid ${l.pid})` : 'another process');

/**
 * Other servers holding the ports brmgr's dnsmasq needs on the bridge: bound
 * to the bridge's address, or to the wildcard without a device (a system
 * dnsmasq without the brmgr.conf snippet, systemd-resolved on 0.0.0.0, …).
 * `own` are the pids of this bridge's own dnsmasq; `ownUnseen`: it runs, but its sockets cannot be told
 * apart by process (it dropped root, and reading its descriptors needs CAP_SYS_PTRACE, which the service
 * does not have): a socket of no known process on the bridge's address or device is then its own.
 */
export function portConflicts(cfg: BridgeConfig, listening: Listener[], own: number[], ownUnseen = false): string[] {
  const wanted = servicePorts(cfg).map((s): [Listener['proto'], number, string] => [s.proto, s.port, s.what]);
  const mine = new Set(['0.0.0.0', '*', cfg.ipv4.address, ...(cfg.ipv6 ? ['::', cfg.ipv6.address] : [])]);
  const errors: string[] = [];
  for (const l of listening) {
    const want = wanted.find(([proto, port]) => proto === l.proto && port === l.port);
    if (!want || !mine.has(l.address) || (l.device && l.device !== cfg.name) || (l.pid && own.includes(l.pid)))
      continue;
    const onBridge = l.device === cfg.name || l.address === cfg.ipv4.address || l.address === cfg.ipv6?.address;
    if (ownUnseen && !l.pid && onBridge) continue;
    const who = holder(l);
    const where =
      l.address === '0.0.0.0' || l.address === '*' || l.address === '::'
        ? `all addresses (${l.address.includes(':') ? `[${l.address}]` : l.address})`
        : l.address;
    const line = `port ${l.port}/${l.proto} for ${want[2]} is taken by ${who} on ${where}`;
    if (!errors.includes(line)) errors.push(line);
  }
  if (errors.length) {
    const holders = listening.filter((l) => errors.some((e) => e.includes(` by ${holder(l)} `)));
    const dnsmasq = holders.some((l) => !l.process || l.process === 'dnsmasq');
    errors.push(
      `brmgr's dnsmasq must bind ${cfg.name}'s address: make the other server leave ${cfg.name} alone ` +
        `${dnsmasq ? '(a system dnsmasq: install dnsmasq.d/brmgr.conf) ' : ''}or turn the service off in ${cfg.file}`,
    );
  }
  return errors;
}
