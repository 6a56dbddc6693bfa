/**
 * The nftables backend: the whole policy in brmgr's own table, `inet brmgr-BRIDGE`,
 * replaced atomically by one `nft -f`; teardown is deleting the table. A DROP in
 * the iptables filter table would still win over it (Docker's FORWARD policy,
 * ufw's INPUT): so the shim (shim.ts) goes into that table wherever something
 * there could refuse the guests' packets; the DHCP checksum fill (checksum.ts)
 * is iptables' wherever iptables is installed.
 */
import type { NftChain, NftObject } from '../host/nftables.js';
import { must, type Run } from '../system/exec.js';
import { mergePlans, type Backend } from './backend.js';
import { checksumPlan } from './checksum.js';
import type { FirewallIntent, Ports } from './policy.js';
import { shimPlan } from './shim.js';

export function nftTable(bridge: string): string {
  return `brmgr-${bridge}`;
}

const ports = (p: Ports) => (p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`);
const fam = (family: 4 | 6) => (family === 4 ? 'ip' : 'ip6');
const ESTABLISHED = 'ct state established,related accept';
/** the guests' connection counts by address (one set per family), and the chain that refuses one past the cap */
const CONNS_SET = 'guest-conns';
const CONNS_OVER = 'guest-conns-over';
/** the forward chain's two halves: what comes in from the bridge (and stays within it), what goes out to it */
const FROM_BRIDGE = 'from-bridge';
const TO_BRIDGE = 'to-bridge';
/** addressed to the host, but not to loopback: 127.0.0.1:PORT (and [::1]:PORT) is never forwarded */
const LOCAL = { 4: 'fib daddr type local ip daddr != 127.0.0.0/8', 6: 'fib daddr type local ip6 daddr != ::1' };
/** an address as nft's dnat takes it with a port */
const withPort = (ip: string, p: Ports) => `${ip.includes(':') ? `[${ip}]` : ip}:${ports(p)}`;

/** The whole table, as one transaction that replaces any previous version atomically (declare, delete, define). */
export function renderNftables(intent: FirewallIntent): string {
  const t = nftTable(intent.bridge);
  const br = JSON.stringify(intent.bridge);
  const out = intent.uplink ? ` oifname ${JSON.stringify(intent.uplink)}` : '';
  const toUplink = intent.uplink ? `oifname ${JSON.stringify(intent.uplink)} ` : '';
  const fromUplink = intent.uplink ? `iifname ${JSON.stringify(intent.uplink)} ` : '';
  const sets: string[] = [];
  // each rule by the side of the bridge the packet comes from (`from`: in from the bridge; `to`: out to it);
  // a packet within the bridge is decided in `from`, where `within` accepts it
  let from: string[] = [];
  let to: string[] = [];
  // the connection counts, for new connections only, behind one jump (the first rule but for the accepts below)
  const fromNew: string[] = [];
  const toNew: string[] = [];
  const outRule = (r: { family: 4 | 6; subnet: string }) => `${toUplink}${fam(r.family)} saddr ${r.subnet} accept`;
  const inRule = (r: { family: 4 | 6; subnet: string }) => `${fromUplink}${fam(r.family)} daddr ${r.subnet} accept`;
  // other brmgr bridges' groups are refused new connections only: what is established was let through
  const refused = intent.forward.some((r) => r.rule === 'refuse-groups');
  for (const r of intent.forward) {
    switch (r.rule) {
      case 'cap-conns': {
        const set = `${CONNS_SET}${r.family}`;
        const f = fam(r.family);
        sets.push(
          `\tset ${set} {\n\t\ttype ${f === 'ip' ? 'ipv4_addr' : 'ipv6_addr'}\n\t\tsize 65535\n\t\tflags dynamic\n\t}`,
        );
        const count = (dir: 'saddr' | 'daddr', within = '') =>
          `${within}${f} ${dir} ${r.subnet} add @${set} { ${f} ${dir} ct count over ${r.conns} } jump ${CONNS_OVER}`;
        // within the bridge, both guests' counts
        fromNew.push(count('saddr'), count('daddr', `oifname ${br} `));
        toNew.push(count('daddr'));
        break;
      }
      case 'within':
        from.push(`oifname ${br} accept`);
        break;
      case 'refuse-groups': {
        const groups = r.groups.length === 1 ? `${r.groups[0]}` : `{ ${r.groups.join(', ')} }`;
        for (const o of intent.forward) {
          if (o.rule === 'out') from.push(`oifgroup != ${groups} ${outRule(o)}`);
          // replies only: all of them are established, accepted first (the forward chain's first rule)
          if (o.rule === 'in' && !o.repliesOnly) to.push(`iifgroup != ${groups} ${inRule(o)}`);
        }
        from.push(`oifgroup ${groups} reject with icmpx admin-prohibited`);
        to.push(`iifgroup ${groups} reject with icmpx admin-prohibited`);
        break;
      }
      case 'to-forwarded':
        to.push(`${fam(r.family)} daddr ${r.ip} ${r.proto} dport ${ports(r.ports)} ct status dnat accept`);
        break;
      case 'from-forwarded':
        from.push(
          `${fam(r.family)} saddr ${r.ip} ${r.proto} sport ${ports(r.ports)} ct status dnat ct direction reply accept`,
        );
        break;
      case 'out':
        if (!refused) from.push(outRule(r));
        break;
      case 'in':
        // replies only: as above
        if (!refused && !r.repliesOnly) to.push(inRule(r));
        break;
      case 'refuse-rest':
        from.push('reject with icmpx admin-prohibited');
        to.push('reject with icmpx admin-prohibited');
        break;
    }
  }
  // within the bridge, what is not new (a guest's address off the subnets: link-local, another's) before the counts
  const within = intent.forward.some((r) => r.rule === 'within') ? [`oifname ${br} ct state != new accept`] : [];
  from = [...within, ...(fromNew.length ? [`ct state new jump ${FROM_BRIDGE}-new`] : []), ...from];
  to = [...(toNew.length ? [`ct state new jump ${TO_BRIDGE}-new`] : []), ...to];
  // Where guests have a way out, every established packet is accepted first, by its state alone: it belongs to a
  // connection these rules (or another table's, for a packet not the bridge's) let through new, and this table's
  // verdict on another's packet is accept either way. Established, not `!= new`: an invalid packet meets the
  // other bridges' reject as a new one does. Isolated has no such rule: a bridge made isolated cuts its flows.
  const forward = [
    ...(intent.forward.some((r) => r.rule === 'out') ? [ESTABLISHED] : []),
    // one look at each interface's name, not one per rule
    ...(from.length ? [`iifname ${br} goto ${FROM_BRIDGE}`] : []),
    ...(to.length ? [`oifname ${br} goto ${TO_BRIDGE}`] : []),
  ];
  // loopback stays the host's own: 127.0.0.1:PORT is never forwarded
  const dnat = intent.dnat.map((r) =>
    r.rule === 'keep-served'
      ? `${fam(r.family)} daddr ${r.address} ${r.proto} dport ${r.port} return`
      : `${LOCAL[r.family]} ${r.proto} dport ${ports(r.ports)} dnat ${fam(r.family)} to ${withPort(r.ip, r.toPorts)}`,
  );
  const postrouting = intent.postrouting.map((r) => {
    switch (r.rule) {
      case 'hairpin':
        return (
          `${fam(r.family)} saddr ${r.subnet} ${fam(r.family)} daddr ${r.ip} ${r.proto} dport ${ports(r.ports)} ` +
          'ct status dnat masquerade'
        );
      case 'keep-source':
        return `ip saddr ${r.subnet} ip daddr { ${r.destinations.join(', ')} } return`;
      case 'masquerade':
        return (
          `${fam(r.family)} saddr ${r.subnet} ${fam(r.family)} daddr != ${r.subnet}${out} ` +
          (r.to ? `snat ${fam(r.family)} to ${r.to}` : 'masquerade')
        );
    }
  });

  const chains: string[] = [...sets];
  const chain = (name: string, hook: string | undefined, rules: string[]) =>
    chains.push(
      `\tchain ${name} {\n${[hook ?? [], rules]
        .flat()
        .map((r) => `\t\t${r}\n`)
        .join('')}\t}`,
    );
  // declared before the forward chain that jumps to it
  if (sets.length)
    chain(CONNS_OVER, undefined, ['meta l4proto tcp reject with tcp reset', 'reject with icmpx admin-prohibited']);
  if (fromNew.length) chain(`${FROM_BRIDGE}-new`, undefined, fromNew);
  if (toNew.length) chain(`${TO_BRIDGE}-new`, undefined, toNew);
  if (from.length) chain(FROM_BRIDGE, undefined, from);
  if (to.length) chain(TO_BRIDGE, undefined, to);
  chain('forward', 'type filter hook forward priority filter; policy accept;', forward);
  if (dnat.length) {
    chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', dnat);
    // nft accepts the `dstnat` keyword on prerouting only; -100 is its value
    chain('output', 'type nat hook output priority -100; policy accept;', dnat);
  }
  if (postrouting.length)
    chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', postrouting);
  // the DHCP checksum is iptables' CHECKSUM target's (checksum.ts): nftables cannot fill one in
  return `table inet ${t}\ndelete table inet ${t}\ntable inet ${t} {\n${chains.join('\n')}\n}\n`;
}

/**
 * The chains of a table and how many rules each holds, from `nft list table`
 * or the rendered text (whose first lines declare and delete the table): nft
 * prints rules in its own words, so they are counted, not compared.
 */
export function nftShape(text: string): Record<string, number> {
  const shape: Record<string, number> = {};
  let chain: string | undefined;
  for (const raw of text.slice(text.lastIndexOf('table inet ')).split('\n')) {
    const line = raw.trim();
    const open = /^chain (\S+) \{$/.exec(line);
    if (open) {
      chain = open[1]!;
      shape[chain] = 0;
    } else if (line === '}') chain = undefined;
    else if (chain && line && !line.startsWith('type ')) shape[chain]!++;
  }
  return shape;
}

/** Which chain of the table lost or gained rules, in words; undefined when the shapes are the same. */
export function shapeDiff(want: Record<string, number>, have: Record<string, number>): string | undefined {
  for (const [chain, rules] of Object.entries(want)) {
    if (!(chain in have)) return `chain ${chain} is gone`;
    if (have[chain] !== rules) return `chain ${chain} has ${have[chain]} of its ${rules} rules`;
  }
  const extra = Object.keys(have).find((chain) => !(chain in want));
  return extra ? `chain ${extra} is not brmgr's` : undefined;
}

/** The table as it is now: undefined when absent; `works` false when nftables is unusable here. */
export async function listNftTable(run: Run, bridge: string): Promise<{ works: boolean; text?: string }> {
  const r = await run('nft', ['list', 'table', 'inet', nftTable(bridge)]);
  if (r.ok) return { works: true, text: r.stdout };
  return { works: !r.missing && /No such file or directory/.test(r.stderr) };
}

/** The text that deletes brmgr's table, whether it exists or not. */
export function dropNftTable(bridge: string): string {
  const t = nftTable(bridge);
  return `table inet ${t}\ndelete table inet ${t}\n`;
}

/** Applies nft text as one transaction: all of it or nothing. */
export async function applyNft(run: Run, text: string): Promise<void> {
  must(await run('nft', ['-f', '-'], text), 'nft');
}

/** Puts back the table as it was (undefined: absent) and whatever else `also` restores, at once; best effort. */
export async function restoreNft(run: Run, bridge: string, listed: string | undefined, also = ''): Promise<void> {
  await run('nft', ['-f', '-'], `${dropNftTable(bridge)}${listed ?? ''}${also}`);
}

/** Deletes the table; nothing when it or nft is not there. */
export async function deleteNftTable(run: Run, bridge: string): Promise<void> {
  const r = await run('nft', ['delete', 'table', 'inet', nftTable(bridge)]);
  if (!r.ok && !r.missing && !/No such file or directory/.test(r.stderr)) must(r, 'nft');
}

/** `nft -j` output's objects; undefined where nft is missing or fails. */
export async function nftJson(run: Run, args: string[]): Promise<NftObject[] | undefined> {
  const r = await run('nft', ['-j', ...args]);
  if (!r.ok) return undefined;
  try {
    return (JSON.parse(r.stdout) as { nftables?: NftObject[] }).nftables ?? [];
  } catch {
    return undefined;
  }
}

/** A table whose input or forward hook may drop what brmgr accepts: all of it is read (hostfirewall.ts). */
const mayRefuse = (c: NftChain) =>
  (c.hook === 'input' || c.hook === 'forward') &&
  ['ip', 'ip6', 'inet'].includes(c.family) &&
  !(c.family !== 'inet' && c.table === 'filter') &&
  !c.table.startsWith('brmgr-');

/**
 * The host's nftables ruleset as far as brmgr reads it: every table and chain, and the rules of the tables
 * that hook input or forward other than brmgr's and iptables' filter (their drops are what the pre-flight
 * warns of). Listing every rule of every table is what grows with the host (bench/README.md: ten times the
 * chains' time beside 100 bridges). Empty where nft is missing or fails.
 */
export async function nftRuleset(run: Run): Promise<NftObject[]> {
  const listed = await nftJson(run, ['list', 'chains']);
  if (!listed) return [];
  const chains = listed.flatMap((o) => (o.chain ? [o.chain] : []));
  const key = (t: { family: string; table?: string; name?: string }) => `${t.family} ${t.table ?? t.name}`;
  const read = [...new Map(chains.filter(mayRefuse).map((c) => [key(c), c])).values()];
  const whole = await Promise.all(read.map((c) => nftJson(run, ['list', 'table', c.family, c.table])));
  const wholeKeys = new Set(read.map(key));
  const tables = [...new Map(chains.map((c) => [key(c), { family: c.family, name: c.table }])).values()];
  return [
    ...listed.filter((o) => !o.chain),
    ...tables.filter((t) => !wholeKeys.has(key(t))).map((table) => ({ table })),
    ...chains.filter((c) => !wholeKeys.has(key(c))).map((chain) => ({ chain })),
    ...whole.flatMap((objects) => objects?.filter((o) => !o.metainfo) ?? []),
  ];
}

/** nft works (the ruleset was listed) and whether brmgr's table for the bridge is in it; undefined: not known. */
const knownPresent = (ruleset: readonly NftObject[], bridge: string) =>
  ruleset.length > 0
    ? ruleset.some((o) => {
        const t = o.table as { family?: string; name?: string } | undefined;
        return t?.family === 'inet' && t.name === nftTable(bridge);
      })
    : undefined;

export const nftables: Backend = {
  name: 'nftables',
  // the listing is kept: it is what a rollback puts back
  probe: async ({ run, bridge, ruleset, applied }) => {
    const present = knownPresent(ruleset, bridge);
    if (present === false) return { works: true };
    if (present && applied) return { works: true, listed: applied };
    const { works, text } = await listNftTable(run, bridge);
    return text === undefined ? { works } : { works, listed: text };
  },
  unavailable: 'nft does not work here (is it installed?)',
  nftTable: renderNftables,
  iptables: (intent, family, host) => mergePlans(shimPlan(intent, family, host), checksumPlan(intent, family)),
};
