import type { BridgeConfig } from '../config/types.js';
import { nftTable } from './nftables.js';

import type { NftObject, NftRule } from '../host/nftables.js';

const FINAL = new Set(['drop', 'reject']);
const HARMLESS = new Set(['counter', 'log', 'limit']);

/** A rule that only counts, logs and drops or rejects: whatever reaches it is refused. */
function refusesAll(rule: NftRule): boolean {
  const kinds = rule.expr.map((e) => Object.keys(e)[0] ?? '');
  return kinds.some((k) => FINAL.has(k)) && kinds.every((k) => FINAL.has(k) || HARMLESS.has(k));
}

/**
 * A rule that names the bridge (or a wildcard such as "brmgr*" covering it) as
 * its input or output interface: an exception made for it.
 */
function namesBridge(rule: NftRule, bridge: string): boolean {
  const covers = (v: unknown) =>
    v === bridge || (typeof v === 'string' && v.endsWith('*') && bridge.startsWith(v.slice(0, -1)));
  return rule.expr.some((e) => {
    const m = e.match as { op?: string; left?: { meta?: { key?: string } }; right?: unknown } | undefined;
    const key = m?.left?.meta?.key;
    if (m?.op === '!=') return false;
    if (key !== 'iifname' && key !== 'oifname' && key !== 'iif' && key !== 'oif') return false;
    const right = m!.right as unknown;
    const values =
      typeof right === 'object' && right !== null && 'set' in right ? (right as { set: unknown[] }).set : [right];
    return values.some(covers);
  });
}

/**
 * Another nftables table whose input or forward chain drops what it does not
 * accept. A drop there is final whatever brmgr's own table accepts, so guests
 * would get no lease, no DNS or no way out. A rule anywhere in that table
 * naming the bridge counts as an exception: firewalld, for one, dispatches to
 * its zones from other chains. Tables `ip filter`/`ip6 filter` are iptables'
 * (brmgr adds its rules there itself) and are not looked at.
 */
export function hostFirewallWarnings(cfg: BridgeConfig, ruleset: NftObject[], serves: boolean): string[] {
  return hostFirewallGaps(cfg, ruleset, serves).map((g) => g.warning);
}

/** One chain of another table that refuses the bridge's traffic: in words, and the commands that make the exception. */
export interface FirewallGap {
  hook: string;
  warning: string;
  /** `nft insert rule …` at the chain's head, before whatever refuses */
  fixes: string[];
}

export function hostFirewallGaps(cfg: BridgeConfig, ruleset: NftObject[], serves: boolean): FirewallGap[] {
  const hooks = new Set<string>();
  if (serves) hooks.add('input');
  if (cfg.mode === 'nat' || cfg.mode === 'routed') hooks.add('forward');
  const own = nftTable(cfg.name);
  const rules = ruleset.flatMap((o) => (o.rule ? [o.rule] : []));
  const gaps: FirewallGap[] = [];
  for (const chain of ruleset.flatMap((o) => (o.chain ? [o.chain] : []))) {
    if (!chain.hook || !hooks.has(chain.hook) || chain.table === own) continue;
    if (!['ip', 'ip6', 'inet'].includes(chain.family) || (chain.family !== 'inet' && chain.table === 'filter'))
      continue;
    const table = rules.filter((r) => r.family === chain.family && r.table === chain.table);
    const mine = table.filter((r) => r.chain === chain.name);
    const refuses = chain.policy === 'drop' || (mine.length > 0 && refusesAll(mine[mine.length - 1]!));
    if (!refuses || table.some((r) => namesBridge(r, cfg.name))) continue;
    const what =
      chain.hook === 'input' ? "the guests' DHCP and DNS to dnsmasq" : "the guests' traffic to and from the outside";
    const last = mine[mine.length - 1];
    const how =
      chain.policy === 'drop'
        ? 'has policy drop'
        : `ends in a drop or reject${last?.handle ? ` (rule handle ${last.handle})` : ''}`;
    const where = `nftables chain ${chain.family} ${chain.table} ${chain.name} (hook ${chain.hook})`;
    const accept = `accept iifname "${cfg.name}"${chain.hook === 'forward' ? ` and oifname "${cfg.name}"` : ''}`;
    const insert = `nft insert rule ${chain.family} ${chain.table} ${chain.name}`;
    gaps.push({
      hook: chain.hook,
      warning:
        `${where} ${how} and makes no exception for ${cfg.name}: ` +
        `it refuses ${what} whatever brmgr accepts; ${accept} there ` +
        `(firewalld: firewall-cmd --zone=trusted --add-interface=${cfg.name})`,
      fixes: [
        `${insert} iifname "${cfg.name}" accept`,
        ...(chain.hook === 'forward' ? [`${insert} oifname "${cfg.name}" accept`] : []),
      ],
    });
  }
  return gaps;
}
