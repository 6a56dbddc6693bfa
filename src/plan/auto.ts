import { createHash } from 'node:crypto';
import type { BridgeConfig } from '../config/types.js';
import { intToIp4, overlaps } from '../net/addr.js';
import type { Observed } from '../host/links.js';

/** Every IPv4 subnet in use on the host: addresses, routes, and other brmgr bridges' configs. */
export function takenSubnets(observed: Observed, others: BridgeConfig[]): [string, number][] {
  const taken: [string, number][] = [];
  for (const a of observed.addrs) if (a.family === 'inet') taken.push([a.local, a.prefixlen]);
  for (const r of observed.routes) {
    if (r.dst === 'default' || r.dst.includes(':') || r.table === 'local') continue;
    const [addr, len] = r.dst.split('/');
    taken.push([addr!, len === undefined ? 32 : Number(len)]);
  }
  for (const o of others) if (o.mode !== 'bridged') taken.push([o.ipv4.network, o.ipv4.prefix]);
  return taken;
}

/**
 * A free 10.x.y.0/24 for `address = auto`, as `10.x.y.1/24`. The search starts
 * at a point derived from the host and the bridge name (so hosts do not all
 * pick the same subnets, which would collide once their networks meet) and
 * visits each of the 65536 candidates once.
 */
export function pickSubnet(bridge: string, machineId: string, taken: [string, number][]): string | undefined {
  const start = createHash('sha256').update(`brmgr-auto:${machineId}:${bridge}`).digest().readUInt16BE(0);
  for (let i = 0; i < 65536; i++) {
    // an odd stride visits every residue modulo 2^16
    const n = (start + i * 40503) % 65536;
    const network = intToIp4((10 << 24) + (n << 8));
    if (!taken.some(([addr, len]) => overlaps(network, 24, addr, len)))
      return `${intToIp4((10 << 24) + (n << 8) + 1)}/24`;
  }
  return undefined;
}
