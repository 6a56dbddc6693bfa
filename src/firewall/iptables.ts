/**
 * The iptables backend: the policy in brmgr's own chains (BRMGR-BRIDGE-IN, -FWD,
 * -POST, -DNAT, -CSUM), entered by one jump each from the built-in chains,
 * changed by `iptables-restore --noflush` (one per family) and compared with
 * what iptables-save shows, so every run applies only the difference. The same
 * chains carry the nftables backend's shim.
 */
import type { NftObject } from '../host/nftables.js';
import { must, type Run } from '../system/exec.js';
import { onPath } from '../system/tools.js';
import { defaultIsLegacy, legacyTables } from '../system/xtables.js';
import {
  EMPTY,
  mergePlans,
  type Backend,
  type IptablesFacts,
  type IptablesHost,
  type IptablesPlan,
  type Jump,
  type ShimNeed,
} from './backend.js';
import { checksumPlan } from './checksum.js';
import type { Family, FirewallIntent, Ports } from './policy.js';

export type { Family, IptablesPlan, Jump };

export { EMPTY };

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;
/** One devgroup value/mask covering all the groups (and, harmlessly, the unused values between them). */
function groupMatch(groups: number[]): string {
  const differ = groups.reduce((bits, g) => bits | (g ^ groups[0]!), 0);
  return differ ? `${hex(groups[0]! & ~differ)}/${hex(~differ)}` : hex(groups[0]!);
}

const ports = (p: Ports) => (p.from === p.to ? `${p.from}` : `${p.from}:${p.to}`);
const match = (proto: string, which: '--dport' | '--sport', p: Ports) => `-p ${proto} -m ${proto} ${which} ${ports(p)}`;
const REPLIES = ' -m conntrack --ctstate RELATED,ESTABLISHED';
/** one address, as iptables-save prints it */
const host = (ip: string) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`);
const DNAT = ' -m conntrack --ctstate DNAT';
export const chainPrefix = (bridge: string) => `BRMGR-${bridge}-`;
const SUFFIXES = ['IN', 'FWD', 'LIMIT', 'POST', 'DNAT', 'CSUM'];
/** One of this bridge's chains, not those of a bridge whose name merely starts the same (br vs br-lan). */
export const isOwnChain = (name: string, bridge: string) => SUFFIXES.some((s) => name === `${chainPrefix(bridge)}${s}`);

/** The filter-table chains: what guests may reach on the host, and forwarding. */
export function filterPlan(intent: FirewallIntent, family: Family, forwardChain: string): IptablesPlan {
  const p = chainPrefix(intent.bridge);
  const br = intent.bridge;
  const out = intent.uplink ? ` -o ${intent.uplink}` : '';
  const inn = intent.uplink ? ` -i ${intent.uplink}` : '';
  const reject =
    family === 4 ? 'REJECT --reject-with icmp-admin-prohibited' : 'REJECT --reject-with icmp6-adm-prohibited';
  const input = intent.input[family].map((r) =>
    'icmp' in r
      ? family === 4
        ? '-p icmp -j ACCEPT'
        : '-p ipv6-icmp -j ACCEPT'
      : 'udpReplies' in r
        ? '-p udp -m conntrack --ctstate ESTABLISHED -j ACCEPT'
        : `-p ${r.proto} -m ${r.proto} --dport ${r.port} -j ACCEPT`,
  );
  const limit: string[] = [];
  const forward = intent.forward.flatMap((r): string[] => {
    switch (r.rule) {
      case 'cap-conns': {
        if (r.family !== family) return [];
        // one connlimit count per rule: the guest's own flows and those forwarded to it are counted apart
        const over = (dir: 'saddr' | 'daddr') =>
          `-m connlimit --connlimit-above ${r.conns} --connlimit-mask ${family === 4 ? 32 : 128} --connlimit-${dir} -j ${p}LIMIT`;
        limit.splice(0, limit.length, '-p tcp -j REJECT --reject-with tcp-reset', `-j ${reject}`);
        return [
          `-s ${r.subnet} -i ${br} -m conntrack --ctstate NEW ${over('saddr')}`,
          `-d ${r.subnet} -o ${br} -m conntrack --ctstate NEW ${over('daddr')}`,
        ];
      }
      case 'within':
        return [`-i ${br} -o ${br} -j ACCEPT`];
      case 'refuse-groups':
        return [
          `-i ${br} -m devgroup --dst-group ${groupMatch(r.groups)} -j ${reject}`,
          `-o ${br} -m devgroup --src-group ${groupMatch(r.groups)} -j ${reject}`,
        ];
      case 'to-forwarded':
        if (r.family !== family) return [];
        return [
          `-d ${host(r.ip)} -o ${br} ${match(r.proto, '--dport', r.ports)} -m conntrack --ctstate DNAT -j ACCEPT`,
        ];
      case 'from-forwarded':
        if (r.family !== family) return [];
        return [`-s ${host(r.ip)} -i ${br} ${match(r.proto, '--sport', r.ports)}${DNAT} --ctdir REPLY -j ACCEPT`];
      case 'out':
        return r.family === family ? [`-s ${r.subnet} -i ${br}${out} -j ACCEPT`] : [];
      case 'in':
        if (r.family !== family) return [];
        return [`-d ${r.subnet}${inn} -o ${br}${r.repliesOnly ? REPLIES : ''} -j ACCEPT`];
      case 'refuse-rest':
        return [`-i ${br} -j ${reject}`, `-o ${br} -j ${reject}`];
    }
  });
  return {
    chains: { filter: { [`${p}IN`]: input, ...(limit.length ? { [`${p}LIMIT`]: limit } : {}), [`${p}FWD`]: forward } },
    jumps: [
      { table: 'filter', chain: 'INPUT', rule: `-i ${br} -j ${p}IN` },
      { table: 'filter', chain: forwardChain, rule: `-j ${p}FWD` },
    ],
  };
}

/**
 * Everything the iptables backend installs for one family: filter rules,
 * masquerade and port forwards (nat), and the DHCP checksum fix (mangle).
 */
export function iptablesPlan(intent: FirewallIntent, family: Family, forwardChain: string): IptablesPlan {
  const plan = filterPlan(intent, family, forwardChain);
  const p = chainPrefix(intent.bridge);
  const out = intent.uplink ? ` -o ${intent.uplink}` : '';
  const loopback = family === 4 ? '127.0.0.0/8' : '::1/128';
  const dnat = intent.dnat
    .filter((r) => r.family === family)
    .map((r) =>
      r.rule === 'keep-served'
        ? `-d ${host(r.address)} -p ${r.proto} -m ${r.proto} --dport ${r.port} -j RETURN`
        : // loopback stays the host's own: 127.0.0.1:PORT is never forwarded
          `! -d ${loopback} -p ${r.proto} -m ${r.proto} --dport ${ports(r.ports)} -m addrtype --dst-type LOCAL ` +
          `-j DNAT --to-destination ${family === 6 ? `[${r.ip}]` : r.ip}:${ports(r.toPorts).replace(':', '-')}`,
    );
  const post = intent.postrouting.flatMap((r): string[] => {
    switch (r.rule) {
      case 'hairpin':
        if (r.family !== family) return [];
        return [`-s ${r.subnet} -d ${host(r.ip)} ${match(r.proto, '--dport', r.ports)}${DNAT} -j MASQUERADE`];
      case 'keep-source':
        if (family !== 4) return [];
        return r.destinations.map((d) => `-s ${r.subnet} -d ${d.includes('/') ? d : `${d}/32`} -j RETURN`);
      case 'masquerade':
        if (r.family !== family) return [];
        return [`-s ${r.subnet} ! -d ${r.subnet}${out} -j ${r.to ? `SNAT --to-source ${r.to}` : 'MASQUERADE'}`];
    }
  });
  const nat: Record<string, string[]> = {};
  if (post.length) {
    nat[`${p}POST`] = post;
    plan.jumps.push({ table: 'nat', chain: 'POSTROUTING', rule: `-j ${p}POST` });
  }
  if (dnat.length) {
    nat[`${p}DNAT`] = dnat;
    plan.jumps.push(
      { table: 'nat', chain: 'PREROUTING', rule: `-j ${p}DNAT` },
      { table: 'nat', chain: 'OUTPUT', rule: `-j ${p}DNAT` },
    );
  }
  if (Object.keys(nat).length) plan.chains.nat = nat;
  return mergePlans(plan, checksumPlan(intent, family));
}

/** A built-in chain of the filter table: its policy, and how many rules it holds that are not jumps to brmgr's chains. */
export interface FilterChain {
  policy: string;
  rules: number;
}

/** Which tables exist, and brmgr's chains and jumps for the bridge, as iptables-save shows them. */
export interface IptablesSeen extends IptablesPlan {
  tables: Set<string>;
  /** Docker's chain for user rules, which runs before its own FORWARD rules */
  dockerUser: boolean;
  /** the filter table's INPUT and FORWARD, where they exist */
  filter: Partial<Record<FilterHook, FilterChain>>;
}

export type FilterHook = 'INPUT' | 'FORWARD';
const isFilterHook = (chain: string): chain is FilterHook => chain === 'INPUT' || chain === 'FORWARD';
/**
 * A jump to any bridge's brmgr chain: not counted as the host's. Another bridge's chains only refuse what its
 * own policy refuses (`-i`/`-o` its bridge), which nftables' table would refuse as well.
 */
const toBrmgr = (rest: string[]) => rest.at(-2) === '-j' && rest.at(-1)!.startsWith('BRMGR-');

/** The built-in chain brmgr's forward rules hang from: Docker's DOCKER-USER runs before Docker's own FORWARD rules. */
export function forwardChain(seen: IptablesSeen): IptablesHost['forwardChain'] {
  return seen.dockerUser ? 'DOCKER-USER' : 'FORWARD';
}

/** What a backend's iptables rules depend on, from what iptables-save showed. */
export function iptablesHost(seen: IptablesSeen): IptablesHost {
  return { forwardChain: forwardChain(seen), shim: shimNeed(seen) };
}

/**
 * Where something in the filter table could drop or reject what brmgr's nft table accepts, and why: a
 * policy other than ACCEPT or any rule at all in INPUT or FORWARD, or Docker's DOCKER-USER (conservative:
 * a rule is not read, only counted). Nothing there, or no filter table: no shim, and none made.
 */
export function shimNeed(seen: Pick<IptablesSeen, 'filter' | 'dockerUser'>): ShimNeed {
  const why = (hook: FilterHook) => {
    const c = seen.filter[hook];
    if (c && c.policy !== 'ACCEPT') return `filter ${hook} has policy ${c.policy}`;
    if (c?.rules) return `filter ${hook} has ${c.rules === 1 ? 'a rule' : `${c.rules} rules`}`;
    return undefined;
  };
  const forward = seen.dockerUser ? "Docker's DOCKER-USER chain is there" : why('FORWARD');
  const input = why('INPUT');
  return { ...(input ? { input } : {}), ...(forward ? { forward } : {}) };
}

/** The host itself: PATH and /proc. */
export const HOST_IPTABLES: IptablesFacts = { defaultIsLegacy, legacyTables, onPath: (tool) => onPath(tool) };

/**
 * iptables-legacy's filter table beside an nft-based iptables (older Docker, hosts that switched
 * alternatives): its drops apply whatever nftables accepts, so the guests' accept rules must go there too.
 */
export function legacyFilterBeside(family: Family, facts: IptablesFacts = HOST_IPTABLES): boolean {
  return !facts.defaultIsLegacy() && facts.legacyTables(family).has('filter');
}

export function parseIptablesSave(text: string, bridge: string): IptablesSeen {
  const seen: IptablesSeen = { tables: new Set(), chains: {}, jumps: [], dockerUser: false, filter: {} };
  let table = '';
  const chainsOf = (t: string) => {
    seen.chains[t] ??= {};
    return seen.chains[t];
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      seen.tables.add(table);
    } else if (table === 'filter' && line.startsWith(':DOCKER-USER ')) seen.dockerUser = true;
    else if (table === 'filter' && line.startsWith(':') && isFilterHook(line.slice(1).split(' ')[0]!)) {
      const [name, policy] = line.slice(1).split(' ');
      seen.filter[name as FilterHook] = { policy: policy!, rules: 0 };
    } else if (line.startsWith(':') && isOwnChain(line.slice(1).split(' ')[0]!, bridge)) {
      chainsOf(table)[line.slice(1).split(' ')[0]!] = [];
    } else if (line.startsWith('-A ')) {
      const [, chain, ...rest] = line.trim().split(' ');
      const rule = rest.join(' ');
      const hook = table === 'filter' && isFilterHook(chain!) ? seen.filter[chain as FilterHook] : undefined;
      if (hook && !toBrmgr(rest)) hook.rules++;
      if (isOwnChain(chain!, bridge)) chainsOf(table)[chain!]?.push(rule);
      else if (rest.at(-2) === '-j' && isOwnChain(rest.at(-1)!, bridge))
        seen.jumps.push({ table, chain: chain!, rule });
    }
  }
  return seen;
}

/**
 * iptables-save's view, told by an nftables ruleset listed moments ago instead of another process, where
 * that is certain: iptables is nft-based and has none of brmgr's chains for the bridge (so no jump to them
 * either; the kernel refuses a jump to a missing chain), and filter's INPUT and FORWARD are absent or have
 * a policy that tells without their rules (the listing has none of them). Undefined where only iptables-save
 * can tell.
 */
export function seenInRuleset(ruleset: readonly NftObject[], family: Family, bridge: string): IptablesSeen | undefined {
  const fam = family === 4 ? 'ip' : 'ip6';
  const chains = ruleset.flatMap((o) => (o.chain?.family === fam ? [o.chain] : []));
  if (chains.some((c) => isOwnChain(c.name, bridge))) return undefined;
  const filter: IptablesSeen['filter'] = {};
  for (const c of chains) {
    if (c.table !== 'filter' || !isFilterHook(c.name)) continue;
    const policy = (c.policy ?? 'accept').toUpperCase();
    if (policy === 'ACCEPT') return undefined;
    // a policy that drops decides it: the rules are not counted
    filter[c.name] = { policy, rules: 0 };
  }
  const tables = ruleset.flatMap((o) => {
    const t = o.table as { family?: string; name?: string } | undefined;
    return t?.family === fam && t.name && XT_TABLES.has(t.name) ? [t.name] : [];
  });
  return {
    tables: new Set(tables),
    chains: {},
    jumps: [],
    dockerUser: chains.some((c) => c.table === 'filter' && c.name === 'DOCKER-USER'),
    filter,
  };
}

/** The tables iptables-nft keeps in nftables under their iptables names. */
const XT_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

const jumpId = (j: Jump) => `${j.table} ${j.chain} ${j.rule}`;

/**
 * iptables-restore --noflush input that turns brmgr's chains and jumps from
 * `current` into `target`: declaring a chain flushes it, each missing jump is
 * inserted once, and chains and jumps `target` no longer has are removed.
 * With an empty target it is the teardown; with the two swapped, the undo.
 */
export function renderIptablesRestore(target: IptablesPlan, current: IptablesPlan): string {
  const wanted = new Set(target.jumps.map(jumpId));
  const present = new Set(current.jumps.map(jumpId));
  let out = '';
  for (const table of ['filter', 'nat', 'mangle']) {
    const chains = target.chains[table] ?? {};
    const lines: string[] = [];
    for (const name of Object.keys(chains)) lines.push(`:${name} - [0:0]`);
    for (const [name, rules] of Object.entries(chains)) for (const r of rules) lines.push(`-A ${name} ${r}`);
    for (const j of target.jumps)
      if (j.table === table && !present.has(jumpId(j))) lines.push(`-I ${j.chain} 1 ${j.rule}`);
    for (const j of current.jumps)
      if (j.table === table && !wanted.has(jumpId(j))) lines.push(`-D ${j.chain} ${j.rule}`);
    // every chain flushed before any is deleted: one may jump to another (FWD to LIMIT)
    const gone = Object.keys(current.chains[table] ?? {}).filter((name) => !(name in chains));
    lines.push(...gone.map((name) => `-F ${name}`), ...gone.map((name) => `-X ${name}`));
    if (lines.length) out += `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  return out;
}

/** What of `want` is missing from or changed in `seen`, in words; undefined when all of it is there. */
export function chainsDiff(want: IptablesPlan, seen: IptablesPlan): string | undefined {
  const have = new Set(seen.jumps.map(jumpId));
  const jump = want.jumps.find((j) => !have.has(jumpId(j)));
  if (jump) return `the rule \`${jump.rule}\` in ${jump.table} ${jump.chain} is gone`;
  for (const [table, chains] of Object.entries(want.chains)) {
    for (const [name, rules] of Object.entries(chains)) {
      const now = seen.chains[table]?.[name];
      if (!now) return `chain ${table} ${name} is gone`;
      if (now.length !== rules.length) return `chain ${table} ${name} has ${now.length} of its ${rules.length} rules`;
    }
  }
  return undefined;
}

/** The host's iptables (whichever variant it is), or iptables-legacy's tables beside it. */
export type Variant = 'default' | 'legacy';

const tool = (family: Family, what: 'save' | 'restore', variant: Variant = 'default') =>
  `${family === 4 ? 'iptables' : 'ip6tables'}${variant === 'legacy' ? '-legacy' : ''}-${what}`;

/** brmgr's chains for the bridge as they are now; undefined where iptables is not installed. */
export async function iptablesSave(
  run: Run,
  family: Family,
  bridge: string,
  variant: Variant = 'default',
): Promise<IptablesSeen | undefined> {
  const r = await run(tool(family, 'save', variant), []);
  if (r.missing) return undefined;
  return parseIptablesSave(must(r, tool(family, 'save', variant)).stdout, bridge);
}

export async function iptablesRestore(run: Run, family: Family, input: string, variant: Variant = 'default') {
  if (input) must(await run(tool(family, 'restore', variant), ['--noflush'], input), tool(family, 'restore', variant));
}

export const iptables: Backend = {
  name: 'iptables',
  probe: async ({ iptables }) => ({ works: iptables.onPath(tool(4, 'save')) }),
  unavailable: 'iptables-save is not installed',
  nftTable: () => undefined,
  iptables: (intent, family, host) => iptablesPlan(intent, family, host.forwardChain),
};
