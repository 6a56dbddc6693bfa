/**
 * Every port-security drop is counted twice: in total by why (the drop rule's comment, which the exporter
 * sums by table) and by port, in a set of the table with a counter on each element (what the doctor reads):
 * the port and what it sent that was refused, its MAC or the address it claimed. A drop goes through a
 * chain of its own, `drop-WHY-KEY`: the set's update first, then the drop, so a full set (a flood of new
 * MACs or addresses) loses a count but never lets the packet through. The sets are bounded and forget a
 * port's entry an hour after its last drop.
 */

/** What a drop is remembered by, besides the port it came from. */
export type DropKey = 'mac' | 'ip' | 'arp' | 'ip6' | 'na' | 'port' | 'service';

/** What port security drops is counted, and named by why in the rule's comment: the exporter sums them by table. */
export const DROP_COMMENT = 'port security: ';

/** The sets' names begin with this; `drops-WHY-KIND`. */
export const DROP_SET_PREFIX = 'drops-';
/** How long a port's count lives after its last drop. */
export const DROP_MEMORY = '1h';
/** The entries each set holds at most. */
const DROP_SET_SIZE = 4096;

/**
 * Each key: the set's kind (the last part of its name: what its elements' second value is), its type, and
 * the expression that fills it. ARP and IPv4 share a set, as both claim an IPv4 address.
 */
const KEYS: Record<DropKey, { kind: string; type: string; key: string }> = {
  mac: { kind: 'mac', type: 'typeof iifname . ether saddr', key: 'iifname . ether saddr' },
  ip: { kind: 'ip4', type: 'type ifname . ipv4_addr', key: 'iifname . ip saddr' },
  arp: { kind: 'ip4', type: 'type ifname . ipv4_addr', key: 'iifname . arp saddr ip' },
  ip6: { kind: 'ip6', type: 'type ifname . ipv6_addr', key: 'iifname . ip6 saddr' },
  // a neighbour advertisement's target, 64 bits into the ICMPv6 header
  na: { kind: 'na6', type: 'typeof iifname . @th,64,128', key: 'iifname . @th,64,128' },
  port: { kind: 'port', type: 'typeof iifname', key: 'iifname' },
  // what a guest asked of the host itself: in the inet table the port is not known, its MAC is
  service: {
    kind: 'service',
    type: 'typeof ether saddr . meta l4proto . th dport',
    key: 'ether saddr . meta l4proto . th dport',
  },
};

export const dropSet = (why: string, key: DropKey) => `${DROP_SET_PREFIX}${why}-${KEYS[key].kind}`;
const dropChain = (why: string, key: DropKey) => `drop-${why}${key === 'mac' ? '' : `-${key}`}`;

/**
 * The counted drops of one table: `drop` gives the verdict a rule ends with; `sets` and `chains` what the
 * table must then declare.
 */
export class Drops {
  private readonly used = new Map<string, { why: string; key: DropKey }>();

  /** A counted drop, named by why and remembered per port by `key`. */
  drop(why: string, key: DropKey = 'mac'): string {
    const chain = dropChain(why, key);
    this.used.set(chain, { why, key });
    return `jump ${chain}`;
  }

  /** The sets' declarations, one a reason and kind. */
  sets(): string[] {
    const out = new Map<string, string>();
    for (const { why, key } of this.used.values()) {
      const name = dropSet(why, key);
      out.set(
        name,
        `\tset ${name} {\n\t\t${KEYS[key].type}\n\t\tflags dynamic,timeout\n\t\ttimeout ${DROP_MEMORY}\n` +
          `\t\tsize ${DROP_SET_SIZE}\n\t\tcounter\n\t}`,
      );
    }
    return [...out.values()];
  }

  /** The drop chains, by name, with their rules. */
  chains(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [chain, { why, key }] of this.used)
      out[chain] = [
        `update @${dropSet(why, key)} { ${KEYS[key].key} }`,
        `counter drop comment ${JSON.stringify(`${DROP_COMMENT}${why}`)}`,
      ];
    return out;
  }
}
