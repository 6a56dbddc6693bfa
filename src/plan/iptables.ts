import type { BridgeConfig } from '../config/types.js';
import { servedPortsInForwards } from './forwards.js';
import { refusedGroups } from './link.js';

export type Family = 4 | 6;

/** A rule that sends a built-in chain's packets into one of brmgr's chains. */
export interface Jump {
  table: string;
  chain: string;
  /** the rule as iptables-save prints it, without `-A CHAIN` */
  rule: string;
}

export interface IptablesPlan {
  /** brmgr's chains by table, each with its rules (without `-A CHAIN`) */
  chains: Record<string, Record<string, string[]>>;
  jumps: Jump[];
}

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;
/** One devgroup value/mask covering all the groups (and, harmlessly, the unused values between them). */
function groupMatch(groups: number[]): string {
  const differ = groups.reduce((bits, g) => bits | (g ^ groups[0]!), 0);
  return differ ? `${hex(groups[0]! & ~differ)}/${hex(~differ)}` : hex(groups[0]!);
}

const ports = (p: { from: number; to: number }) => (p.from === p.to ? `${p.from}` : `${p.from}:${p.to}`);
export const chainPrefix = (bridge: string) => `BRMGR-${bridge}-`;
const SUFFIXES = ['IN', 'FWD', 'POST', 'DNAT', 'CSUM'];
/** One of this bridge's chains, not those of a bridge whose name merely starts the same (br vs br-lan). */
const isOwnChain = (name: string, bridge: string) => SUFFIXES.some((s) => name === `${chainPrefix(bridge)}${s}`);

/**
 * The filter-table rules that let the bridge's guests through: DHCP, DNS and
 * ICMP to the host, and forwarding per mode. Under the nftables backend these
 * go into the host's iptables filter table as well, because an accept in
 * brmgr's own nft table cannot undo a DROP policy (Docker's, ufw's) there.
 */
function filterChains(cfg: BridgeConfig, family: Family, forwardChain: string): IptablesPlan {
  const p = chainPrefix(cfg.name);
  const br = cfg.name;
  const subnet = family === 4 ? `${cfg.ipv4.network}/${cfg.ipv4.prefix}` : `${cfg.ipv6!.network}/${cfg.ipv6!.prefix}`;
  const out = cfg.uplink ? ` -o ${cfg.uplink}` : '';
  const inn = cfg.uplink ? ` -i ${cfg.uplink}` : '';
  const reject = family === 4 ? 'REJECT --reject-with icmp-admin-prohibited' : 'REJECT --reject-with icmp6-adm-prohibited';
  // only what brmgr's dnsmasq serves
  const dhcp = family === 4 ? cfg.ipv4.dhcp : cfg.ipv6!.dhcp !== 'off';
  const input = [
    ...(dhcp ? [`-p udp -m udp --dport ${family === 4 ? 67 : 547} -j ACCEPT`] : []),
    ...(cfg.dns.enable ? ['-p udp -m udp --dport 53 -j ACCEPT', '-p tcp -m tcp --dport 53 -j ACCEPT'] : []),
    ...(cfg.mode === 'bridged' ? [] : [family === 4 ? '-p icmp -j ACCEPT' : '-p ipv6-icmp -j ACCEPT']),
  ];
  const forward = [`-i ${br} -o ${br} -j ACCEPT`];
  // other brmgr bridges' guests, before any accept: whichever bridge's chain runs first refuses them
  const refused = refusedGroups(cfg.mode);
  if (refused.length) {
    forward.push(`-i ${br} -m devgroup --dst-group ${groupMatch(refused)} -j ${reject}`);
    forward.push(`-o ${br} -m devgroup --src-group ${groupMatch(refused)} -j ${reject}`);
  }
  if (family === 4) {
    for (const f of cfg.forwards) {
      forward.push(`-d ${f.toIp}/32 -o ${br} -p ${f.proto} -m ${f.proto} --dport ${ports(f.toPorts)} -m conntrack --ctstate DNAT -j ACCEPT`);
      // and the guest's replies, whichever interface the client came in by (isolated has no other way out)
      forward.push(`-s ${f.toIp}/32 -i ${br} -p ${f.proto} -m ${f.proto} --sport ${ports(f.toPorts)} -m conntrack --ctstate DNAT --ctdir REPLY -j ACCEPT`);
    }
  }
  if (cfg.mode === 'nat') {
    forward.push(`-s ${subnet} -i ${br}${out} -j ACCEPT`);
    forward.push(`-d ${subnet}${inn} -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
  } else if (cfg.mode === 'routed') {
    forward.push(`-s ${subnet} -i ${br}${out} -j ACCEPT`);
    forward.push(`-d ${subnet}${inn} -o ${br} -j ACCEPT`);
  }
  // bridged: the bridge is the host's LAN interface, whose routing is the host's business
  if (cfg.mode !== 'bridged') forward.push(`-i ${br} -j ${reject}`, `-o ${br} -j ${reject}`);
  return {
    chains: { filter: { [`${p}IN`]: input, [`${p}FWD`]: forward } },
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
export function iptablesPlan(cfg: BridgeConfig, family: Family, opts: { forwardChain: string; filterOnly: boolean }): IptablesPlan {
  const plan = filterChains(cfg, family, opts.forwardChain);
  if (opts.filterOnly) return plan;
  const p = chainPrefix(cfg.name);
  const br = cfg.name;
  const subnet = family === 4 ? `${cfg.ipv4.network}/${cfg.ipv4.prefix}` : `${cfg.ipv6!.network}/${cfg.ipv6!.prefix}`;
  const out = cfg.uplink ? ` -o ${cfg.uplink}` : '';
  const post: string[] = [];
  const dnat: string[] = [];
  if (family === 4) {
    for (const s of servedPortsInForwards(cfg)) dnat.push(`-d ${cfg.ipv4.address}/32 -p ${s.proto} -m ${s.proto} --dport ${s.port} -j RETURN`);
    for (const f of cfg.forwards) {
      const m = `-p ${f.proto} -m ${f.proto} --dport ${ports(f.ports)}`;
      // loopback stays the host's own: 127.0.0.1:PORT is never forwarded
      dnat.push(`! -d 127.0.0.0/8 ${m} -m addrtype --dst-type LOCAL -j DNAT --to-destination ${f.toIp}:${ports(f.toPorts).replace(':', '-')}`);
      post.push(`-s ${subnet} -d ${f.toIp}/32 -p ${f.proto} -m ${f.proto} --dport ${ports(f.toPorts)} -m conntrack --ctstate DNAT -j MASQUERADE`);
    }
  }
  const masquerade = cfg.mode === 'nat' && (family === 4 || cfg.ipv6?.nat);
  if (masquerade) {
    if (family === 4) post.push(`-s ${subnet} -d 224.0.0.0/24 -j RETURN`, `-s ${subnet} -d 255.255.255.255/32 -j RETURN`);
    post.push(`-s ${subnet} ! -d ${subnet}${out} -j MASQUERADE`);
  }
  const nat: Record<string, string[]> = {};
  if (post.length) {
    nat[`${p}POST`] = post;
    plan.jumps.push({ table: 'nat', chain: 'POSTROUTING', rule: `-j ${p}POST` });
  }
  if (dnat.length) {
    nat[`${p}DNAT`] = dnat;
    plan.jumps.push({ table: 'nat', chain: 'PREROUTING', rule: `-j ${p}DNAT` }, { table: 'nat', chain: 'OUTPUT', rule: `-j ${p}DNAT` });
  }
  if (Object.keys(nat).length) plan.chains.nat = nat;
  if (family === 4 && cfg.ipv4.dhcp) {
    plan.chains.mangle = { [`${p}CSUM`]: [`-o ${br} -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill`] };
    plan.jumps.push({ table: 'mangle', chain: 'POSTROUTING', rule: `-j ${p}CSUM` });
  }
  return plan;
}

/** Which tables exist, and brmgr's chains and jumps for the bridge, as iptables-save shows them. */
export interface IptablesSeen extends IptablesPlan {
  tables: Set<string>;
  /** Docker's chain for user rules, which runs before its own FORWARD rules */
  dockerUser: boolean;
}

export function parseIptablesSave(text: string, bridge: string): IptablesSeen {
  const seen: IptablesSeen = { tables: new Set(), chains: {}, jumps: [], dockerUser: false };
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) seen.tables.add((table = line.slice(1).trim()));
    else if (table === 'filter' && line.startsWith(':DOCKER-USER ')) seen.dockerUser = true;
    else if (line.startsWith(':') && isOwnChain(line.slice(1).split(' ')[0]!, bridge)) (seen.chains[table] ??= {})[line.slice(1).split(' ')[0]!] = [];
    else if (line.startsWith('-A ')) {
      const [, chain, ...rest] = line.trim().split(' ');
      const rule = rest.join(' ');
      if (isOwnChain(chain!, bridge)) (seen.chains[table] ??= {})[chain!]?.push(rule);
      else if (rest.at(-2) === '-j' && isOwnChain(rest.at(-1)!, bridge)) seen.jumps.push({ table, chain: chain!, rule });
    }
  }
  return seen;
}

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
    for (const j of target.jumps) if (j.table === table && !present.has(jumpId(j))) lines.push(`-I ${j.chain} 1 ${j.rule}`);
    for (const j of current.jumps) if (j.table === table && !wanted.has(jumpId(j))) lines.push(`-D ${j.chain} ${j.rule}`);
    for (const name of Object.keys(current.chains[table] ?? {})) if (!(name in chains)) lines.push(`-F ${name}`, `-X ${name}`);
    if (lines.length) out += `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  return out;
}

export const EMPTY: IptablesPlan = { chains: {}, jumps: [] };
