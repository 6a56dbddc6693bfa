/** Pieces the VXLAN e2e tests share: hosts on one underlay switch, and the tunnel's flooding entries. */
import { type Features, parseFeatures } from '../../src/host/ethtool.js';
import { exec, ip, type Lab } from './netns.js';

/** The peers a VXLAN link floods to (its all-zero FDB entries), sorted. */
export async function flooding(ns: string, dev: string): Promise<string[]> {
  const entries = JSON.parse((await exec(ns, 'bridge', ['-json', 'fdb', 'show', 'dev', dev])).stdout) as {
    mac: string;
    dst?: string;
  }[];
  return entries
    .filter((e) => e.mac === '00:00:00:00:00:00' && e.dst)
    .map((e) => e.dst!)
    .sort();
}

/**
 * A switch (a bridge in namespace `sw`) with each host plugged in at its address (`ADDR/PREFIX`, MTU 1500).
 * Returns each host's underlay interface, in the order given.
 */
export async function underlay(
  lab: Lab,
  sw: string,
  hosts: (readonly [ns: string, cidr: string])[],
): Promise<string[]> {
  const devs: string[] = [];
  const swbr = lab.name('sw');
  await ip(sw, 'link', 'add', swbr, 'type', 'bridge');
  await ip(sw, 'link', 'set', swbr, 'up');
  for (const [ns, cidr] of hosts) {
    const u = lab.name('u');
    devs.push(u);
    await lab.veth(ns, u, sw, lab.name('s'), { master: swbr });
    await ip(ns, 'address', 'add', cidr, 'dev', u, ...(cidr.includes(':') ? ['nodad'] : []));
  }
  return devs;
}

/** A link's offload features as `ethtool -k` shows them, by name. */
export async function offloads(ns: string, dev: string): Promise<Features> {
  return parseFeatures((await exec(ns, 'ethtool', ['-k', dev])).stdout);
}
