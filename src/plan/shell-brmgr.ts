/**
 * What the shell brmgr (the original, which this one replaces) leaves on a host: its bridge with its
 * address, the iptables rules its brmgr-pre added to the built-in chains, and net.ipv4.ip_forward = 1,
 * which it never set back. brmgr adopts such a bridge and serves it well, but never removes what it did
 * not make: these are named with the commands that remove them.
 */
import type { BridgeConfig } from '../config/types.js';
import type { Observed } from '../host/links.js';
import { network4, overlaps } from '../net/addr.js';

/** One kind of leftover and the commands (argument-correct, to paste) that remove it. */
export interface Leftover {
  what: 'bridge' | 'rules' | 'ip_forward';
  detail: string;
  commands: string[];
}

/** An iptables-save dump of one tool: `iptables` (whatever it is) or `iptables-legacy` beside it. */
export interface SavedRules {
  tool: 'iptables' | 'iptables-legacy';
  text: string;
}

export interface ShellFacts {
  observed: Observed;
  /** brmgr-pre's record of the bridge exists (it is brmgr's, or brmgr adopted it) */
  brmgrState: boolean;
  saved: SavedRules[];
  /** net.ipv4.ip_forward now */
  ipForward: string | undefined;
  /** what brmgr's ledger holds for ip_forward: the value before brmgr first set it, and who needs it */
  ipForwardLedger?: { original: string; bridges: string[] };
}

/** The rules the shell brmgr-pre adds, as iptables-save prints them, by table and chain. */
function shellRules(bridge: string, subnets: string[]): { table: string; chain: string; rule: string }[] {
  const input = (proto: string, port: number) => ({
    table: 'filter',
    chain: 'INPUT',
    rule: `-i ${bridge} -p ${proto} -m ${proto} --dport ${port} -j ACCEPT`,
  });
  return [
    input('udp', 67),
    input('tcp', 67),
    input('udp', 53),
    input('tcp', 53),
    { table: 'filter', chain: 'FORWARD', rule: `-i ${bridge} -j ACCEPT` },
    { table: 'filter', chain: 'FORWARD', rule: `-o ${bridge} -j ACCEPT` },
    ...subnets.map((net) => ({ table: 'nat', chain: 'POSTROUTING', rule: `-s ${net} ! -d ${net} -j MASQUERADE` })),
    {
      table: 'mangle',
      chain: 'POSTROUTING',
      rule: `-o ${bridge} -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill`,
    },
  ];
}

/** `-A CHAIN RULE` lines of iptables-save text, with their table. */
function appended(text: string): { table: string; chain: string; rule: string }[] {
  const out: { table: string; chain: string; rule: string }[] = [];
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith('-A ')) {
      const [, chain = '', ...rest] = line.trim().split(' ');
      out.push({ table, chain, rule: rest.join(' ') });
    }
  }
  return out;
}

/** The bridge's subnets that are not brmgr's own doing: the config's, and those of the addresses it has. */
function subnetsOf(cfg: BridgeConfig, observed: Observed): string[] {
  const subnets = new Set([`${cfg.ipv4.network}/${cfg.ipv4.prefix}`]);
  for (const a of observed.addrs) {
    if (a.ifname !== cfg.name || a.family !== 'inet') continue;
    subnets.add(`${network4(a.local, a.prefixlen)}/${a.prefixlen}`);
  }
  return [...subnets];
}

/**
 * The shell brmgr's leftovers for this bridge: its bridge (an address of the config's subnet, no record
 * of brmgr's), its rules (only where one of them is unmistakably its: a FORWARD accept alone is anyone's),
 * and ip_forward = 1 that brmgr did not set, named only beside the others.
 */
export function shellLeftovers(cfg: BridgeConfig, facts: ShellFacts): Leftover[] {
  // a bridged or macvtap network has no subnet of its own: its bridge is the host's LAN link, adopted on purpose
  if (cfg.mode === 'bridged' || cfg.mode === 'macvtap') return [];
  const br = cfg.name;
  const out: Leftover[] = [];
  const link = facts.observed.links.find((l) => l.ifname === br && l.kind === 'bridge');
  const addrs = facts.observed.addrs.filter(
    (a) => a.ifname === br && a.family === 'inet' && overlaps(a.local, a.prefixlen, cfg.ipv4.network, cfg.ipv4.prefix),
  );
  if (link && addrs.length && !facts.brmgrState) {
    const held = addrs.map((a) => `${a.local}/${a.prefixlen}`).join(', ');
    out.push({
      what: 'bridge',
      detail:
        `bridge ${br} has ${held} but brmgr did not make it (the shell brmgr's, or made by hand): brmgr-pre adopts ` +
        `it and brmgr-post leaves it as it found it, up with ${held}, serving nothing`,
      commands: [`ip link delete ${br}`],
    });
  }
  const wanted = shellRules(br, subnetsOf(cfg, facts.observed));
  for (const { tool, text } of facts.saved) {
    const found = appended(text).filter((r) =>
      wanted.some((w) => w.table === r.table && w.chain === r.chain && w.rule === r.rule),
    );
    if (!found.some((r) => r.chain !== 'FORWARD')) continue;
    const masquerade = found.some((r) => r.rule.endsWith('MASQUERADE'));
    const accepts = found.some((r) => r.rule.endsWith('ACCEPT'));
    const kinds = [
      ...(masquerade ? ['its MASQUERADE'] : []),
      ...(accepts ? ['its INPUT and FORWARD accepts'] : []),
      ...(found.some((r) => r.table === 'mangle') ? ['its DHCP checksum fill'] : []),
    ];
    out.push({
      what: 'rules',
      detail:
        `${tool} holds ${found.length} rule(s) of the shell brmgr's for ${br} (${kinds.join(', ')}): brmgr's own ` +
        `rules replace them, and these accept and masquerade whatever [bridge] mode says`,
      commands: found.map((r) => `${tool} -t ${r.table} -D ${r.chain} ${r.rule}`),
    });
  }
  const ledger = facts.ipForwardLedger;
  if (out.length && facts.ipForward === '1' && (!ledger || ledger.original === '1')) {
    out.push({
      what: 'ip_forward',
      detail:
        'net.ipv4.ip_forward = 1, and brmgr found it so (the shell brmgr sets it and never sets it back): it stays 1 ' +
        `when brmgr's bridges go down${ledger ? ` (${ledger.bridges.join(', ')} need it now)` : ''}; ` +
        `if nothing else on this host routes${ledger ? ', once they are down' : ''}, set it back`,
      commands: ['sysctl -w net.ipv4.ip_forward=0'],
    });
  }
  return out;
}

/** A leftover as one warning: its detail, then each command on a line of its own, to paste. */
export const leftoverText = (l: Leftover): string =>
  `${l.detail}${l.what === 'ip_forward' ? ':' : '; remove with:'}\n${l.commands.map((c) => `    ${c}`).join('\n')}`;
