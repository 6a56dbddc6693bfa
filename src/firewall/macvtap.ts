/**
 * A macvtap network's own nft table, `table netdev brmgr-NET`: its guests' addresses learned where their
 * traffic crosses the uplink (the parent of their macvtap devices), as bridged mode learns them on the
 * bridge (l2.ts; system/snoop.ts reads both). DHCP acknowledgements come in through the uplink (the
 * LAN's server answers); the guests' neighbour discovery goes out through it (a macvtap's frames to the
 * LAN leave by the parent's egress, never its ingress). Goes with the network.
 */
import type { BridgeConfig } from '../config/types.js';
import { must, type Run } from '../system/exec.js';
import { CHADDR, DHCP4_REPLY, DHCP_ACK_FIRST, q, SNOOP_SETS, SNOOP_TIMEOUT, YIADDR } from './l2.js';

export const macvtapTable = (network: string) => `brmgr-${network}`;

/**
 * The table's text for one `nft -f`; the chains are replaced, the sets (what the kernel learned) kept.
 * `hostMac`: the uplink's own MAC, whose neighbour discovery is the host's, not a guest's; `shimMac`: the
 * host_access macvlan's, which speaks to the guests only (plan/macvtap.ts).
 */
export function renderMacvtapTable(cfg: BridgeConfig, hostMac: string | undefined, shimMac?: string): string {
  const t = macvtapTable(cfg.name);
  const uplink = q(cfg.uplink!);
  const set = (name: string, type: string) =>
    `\tset ${name} {\n\t\t${type}\n\t\tflags dynamic,timeout\n\t\ttimeout ${SNOOP_TIMEOUT}\n\t\tsize 65535\n\t}`;
  const sets = [
    set(SNOOP_SETS.dhcp4, `typeof ${CHADDR} . ${YIADDR}`),
    set(SNOOP_SETS.nd6, 'type ether_addr . ipv6_addr'),
    set(SNOOP_SETS.dad6, 'typeof ether saddr . @th,64,128'),
  ];
  const notHost = hostMac ? `ether saddr != ${hostMac} ` : '';
  const chains: Record<string, { hook: string; rules: string[] }> = {
    'uplink-in': {
      hook: 'ingress',
      rules: [`${DHCP4_REPLY} ${DHCP_ACK_FIRST} update @${SNOOP_SETS.dhcp4} { ${CHADDR} . ${YIADDR} }`],
    },
    'uplink-out': {
      hook: 'egress',
      rules: [
        // the host's way to its guests stays off the wire: what it sends the LAN would take for the host's
        ...(shimMac ? [`ether saddr ${shimMac} drop`] : []),
        `${notHost}ether type ip6 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ` +
          `ip6 saddr != { ::, fe80::/10 } update @${SNOOP_SETS.nd6} { ether saddr . ip6 saddr }`,
        // duplicate address detection: the address a SLAAC guest is about to take
        `${notHost}ether type ip6 icmpv6 type nd-neighbor-solicit ip6 saddr :: ` +
          `update @${SNOOP_SETS.dad6} { ether saddr . @th,64,128 }`,
      ],
    },
  };
  const declare = Object.entries(chains).map(
    ([name, c]) =>
      `\tchain ${name} {\n\t\ttype filter hook ${c.hook} device ${uplink} priority filter; policy accept;\n\t}`,
  );
  const fill = Object.entries(chains).map(
    ([name, c]) => `\tchain ${name} {\n${c.rules.map((r) => `\t\t${r}\n`).join('')}\t}`,
  );
  // a chain hooked to another device (the uplink changed) cannot be moved: it goes, and comes back
  return (
    `table netdev ${t} {\n${[...sets, ...declare].join('\n')}\n}\n` +
    Object.keys(chains)
      .map((name) => `flush chain netdev ${t} ${name}\n`)
      .join('') +
    `table netdev ${t} {\n${fill.join('\n')}\n}\n`
  );
}

/** Applies the table; a table hooked to another uplink is replaced whole (what it learned is the old LAN's). */
export async function applyMacvtapTable(
  run: Run,
  cfg: BridgeConfig,
  hostMac: string | undefined,
  shimMac: string | undefined,
): Promise<void> {
  const t = macvtapTable(cfg.name);
  const listed = await run('nft', ['list', 'table', 'netdev', t]);
  const stale = listed.ok && !listed.stdout.includes(`device ${q(cfg.uplink!)}`);
  const reset = stale ? `table netdev ${t}\ndelete table netdev ${t}\n` : '';
  must(await run('nft', ['-f', '-'], reset + renderMacvtapTable(cfg, hostMac, shimMac)), 'nft');
}

/** Deletes the table; nothing when it or nft is not there. */
export async function removeMacvtapTable(run: Run, network: string): Promise<void> {
  const r = await run('nft', ['delete', 'table', 'netdev', macvtapTable(network)]);
  if (!r.ok && !r.missing && !/No such file or directory/.test(r.stderr)) must(r, 'nft');
}

/** The table's absence, in words; undefined when it is there. */
export async function macvtapTableDrift(run: Run, network: string): Promise<string | undefined> {
  const r = await run('nft', ['list', 'table', 'netdev', macvtapTable(network)]);
  return !r.ok && !r.missing ? `nftables table netdev ${macvtapTable(network)} is gone` : undefined;
}
