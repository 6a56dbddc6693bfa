/**
 * Tracing a guest's real packets through every nftables table (iptables-nft's
 * included): a short-lived table sets `meta nftrace` on the guest's packets
 * only, `nft monitor trace` reports the verdict of each rule they meet, and the
 * table is deleted again, also when the trace is cut short.
 */
import type { Run } from '../system/exec.js';
import { deleteNftTables, listChainWithHandles, loadNftRuleset, monitorNftTrace } from '../system/nft-trace.js';

export interface TracedGuest {
  mac?: string;
  ip?: string;
}

/** One chain's final verdict on a traced packet. */
export interface Drop {
  family: string;
  table: string;
  chain: string;
  /** the rule as nft prints it (counters left out), or undefined for the chain's policy */
  rule?: string;
  handle?: number;
  /** the packet, shortened: addresses, protocol, port */
  packet: string;
  /** how many traced packets it dropped */
  count: number;
}

export const traceTableName = (bridge: string) => `brmgr-trace-${bridge}`;

/** The marking tables: the guest's frames as they enter, and what is sent to its address (replies, the host's). */
export function traceRuleset(bridge: string, guest: TracedGuest): string {
  const name = traceTableName(bridge);
  const ip = guest.ip?.includes(':') ? 'ip6' : 'ip';
  const from = guest.mac ? `ether saddr ${guest.mac}` : `${ip} saddr ${guest.ip}`;
  const to = guest.ip ? `${ip} daddr ${guest.ip}` : undefined;
  const pre = [`${from} meta nftrace set 1`, ...(to ? [`${to} meta nftrace set 1`] : [])];
  const lines = [
    `table inet ${name} {`,
    '  chain pre {',
    '    type filter hook prerouting priority -350;',
    ...pre.map((r) => `    ${r}`),
    '  }',
    ...(to
      ? ['  chain out {', '    type filter hook output priority -350;', `    ${to} meta nftrace set 1`, '  }']
      : []),
    '}',
  ];
  if (guest.mac) {
    lines.push(
      `table bridge ${name} {`,
      '  chain pre {',
      '    type filter hook prerouting priority -350;',
      `    ether saddr ${guest.mac} meta nftrace set 1`,
      '  }',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

const LINE = /^trace id (\S+) (\S+) (\S+) (\S+) (packet: (.*)|rule (.*) \(verdict (\w+)\)|policy (\w+))\s*$/;

/** A rule's text without its counters, as `nft list` and `nft monitor trace` differ only there. */
export const withoutCounters = (rule: string) =>
  rule
    .replace(/counter packets \d+ bytes \d+/g, 'counter')
    .replace(/\s+/g, ' ')
    .trim();

/** The fields of a traced packet worth naming. */
function shortPacket(text: string): string {
  const pick = (re: RegExp) => re.exec(text)?.[0];
  return [
    pick(/\biif "[^"]+"/),
    pick(/\bip6? saddr \S+/),
    pick(/\bip6? daddr \S+/),
    pick(/\b(icmp|icmpv6) type \S+/) ?? pick(/\b(tcp|udp) dport \d+/) ?? pick(/\bip protocol \S+/),
  ]
    .filter(Boolean)
    .join(' ');
}

/** The drops among `nft monitor trace` lines: per packet, the chain that ended it with drop or reject. */
export function parseTrace(lines: string[]): { packets: number; drops: Drop[] } {
  const packets = new Map<string, string>();
  const drops = new Map<string, Drop>();
  for (const line of lines) {
    const m = LINE.exec(line.trim());
    if (!m) continue;
    const [, id, family, table, chain, , packet, rule, verdict, policy] = m;
    if (packet !== undefined) {
      if (!packets.has(id!)) packets.set(id!, shortPacket(packet));
      continue;
    }
    if ((verdict ?? policy) !== 'drop') continue;
    const text = rule === undefined ? undefined : withoutCounters(rule);
    const key = `${family} ${table} ${chain} ${text ?? 'policy'}`;
    const seen = drops.get(key);
    if (seen) seen.count++;
    else
      drops.set(key, {
        family: family!,
        table: table!,
        chain: chain!,
        ...(text !== undefined ? { rule: text } : {}),
        packet: packets.get(id!) ?? '',
        count: 1,
      });
  }
  return { packets: packets.size, drops: [...drops.values()] };
}

/** The rule's handle, found by its text in `nft -a list chain`. */
export async function ruleHandle(run: Run, drop: Drop): Promise<number | undefined> {
  if (drop.rule === undefined) return undefined;
  const listed = await listChainWithHandles(run, drop.family, drop.table, drop.chain);
  for (const line of listed.split('\n')) {
    const m = /^(.*) # handle (\d+)$/.exec(line.trim());
    if (m && withoutCounters(m[1]!) === drop.rule) return Number(m[2]);
  }
  return undefined;
}

/**
 * Traces the guest's packets for `seconds` (or until `signal` aborts) and returns what dropped them.
 * The marking tables are always deleted before this returns.
 */
export async function traceGuest(
  run: Run,
  bridge: string,
  guest: TracedGuest,
  seconds: number,
  signal?: AbortSignal,
): Promise<{ packets: number; drops: Drop[] }> {
  const lines: string[] = [];
  const monitor = monitorNftTrace((l) => lines.push(l));
  const name = traceTableName(bridge);
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  try {
    // the monitor subscribes a moment after it starts
    await wait(200);
    const added = await loadNftRuleset(run, traceRuleset(bridge, guest));
    if (!added.ok) throw new Error(`nft: ${added.stderr}`);
    await wait(seconds * 1000);
  } finally {
    await deleteNftTables(run, name, ['inet', 'bridge']);
    // what is already on its way
    await new Promise((r) => setTimeout(r, 100));
    monitor.kill();
    await monitor.exited;
  }
  const found = parseTrace(lines);
  for (const d of found.drops) {
    const handle = await ruleHandle(run, d);
    if (handle !== undefined) d.handle = handle;
  }
  return found;
}
