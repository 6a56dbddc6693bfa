/**
 * What port security dropped in the last hour, by port: for one guest (its port, or its MAC sent from
 * another) or for the whole bridge. Each drop is named with the port, what it sent, the port's binding,
 * and the key that loosens it. Reads the counters the tables keep (firewall/drops.ts); traces nothing.
 */
import type { BridgeConfig } from '../config/types.js';
import { DROP_MEMORY, DROP_SET_PREFIX } from '../firewall/drops.js';
import { DNS_PER_PORT, l2Table } from '../firewall/l2.js';
import { parseBindings, parseDrops, type PortBinding, type PortDrop } from '../host/drops.js';
import { guestLevel, strictTable } from '../plan/bindings.js';
import { learnedMacs } from '../host/ports.js';
import { forwardingDatabase } from '../system/bridge.js';
import type { Run } from '../system/exec.js';
import { listTableJson } from '../system/bindings.js';

export interface PortSecurityFinding {
  ok: boolean;
  detail: string;
  fix?: string;
}

/** What the tables hold now: the drops, and strict's bindings. */
export interface PortSecurityFacts {
  drops: PortDrop[];
  bindings: PortBinding[];
  /** the MAC the bridge last saw behind each port (its forwarding table) */
  learned: Map<string, string>;
}

export async function readPortSecurity(run: Run, bridge: string): Promise<PortSecurityFacts> {
  const [l2, strict, host, fdb] = await Promise.all([
    listTableJson(run, 'bridge', l2Table(bridge)),
    listTableJson(run, 'bridge', strictTable(bridge)),
    listTableJson(run, 'inet', strictTable(bridge)),
    forwardingDatabase(run, bridge),
  ]);
  const learned = new Map<string, string>();
  for (const f of learnedMacs(fdb, bridge)) if (f.kind === 'fdb') learned.set(f.port, f.mac);
  return {
    drops: [l2, strict, host].flatMap((json) => parseDrops(json, DROP_SET_PREFIX)),
    bindings: parseBindings(strict),
    learned,
  };
}

const plural = (n: number) => `${n} packet${n === 1 ? '' : 's'}`;

/** The port's guest and binding in words: `bound to MAC (addresses; strict)`, or the MAC seen behind it. */
function bindingOf(cfg: BridgeConfig, facts: PortSecurityFacts, port: string): string {
  const b = facts.bindings.find((x) => x.port === port && x.mac);
  if (b?.mac) {
    const level = guestLevel(cfg, b.mac);
    const addresses = b.addresses.length ? b.addresses.join(', ') : 'no address yet';
    return `port ${port} is bound to ${b.mac} (${addresses}; ${level})`;
  }
  const mac = facts.learned.get(port);
  return mac ? `port ${port} has ${mac} behind it (${guestLevel(cfg, mac)})` : `port ${port} has no guest bound`;
}

/** The port's guest's MAC: bound, or last seen. */
const guestMac = (facts: PortSecurityFacts, port: string | undefined) =>
  port ? (facts.bindings.find((b) => b.port === port)?.mac ?? facts.learned.get(port)) : undefined;

/** Where a guest's own key goes: its [host.NAME] section, or a new one for its MAC. */
function hostKey(cfg: BridgeConfig, mac: string | undefined, key: string): string {
  const host = mac ? cfg.hosts.find((h) => h.mac.toLowerCase() === mac) : undefined;
  const where = host
    ? `[host.${host.name}] of ${cfg.file}`
    : `a [host.NAME] section with mac = ${mac ?? 'MAC'} in ${cfg.file}`;
  return `${key} in ${where}, then: brmgr reload ${cfg.name}`;
}

/** One drop in words, and what loosens it. */
export function describeDrop(
  cfg: BridgeConfig,
  facts: PortSecurityFacts,
  d: PortDrop,
): { detail: string; fix: string } {
  const port = d.port ?? [...facts.bindings].find((b) => b.mac === d.mac)?.port;
  const on = port ? `port ${port}` : `the port of ${d.mac}`;
  const mac = guestMac(facts, port) ?? d.mac;
  const from = `from guest ${on}${d.mac && d.mac !== guestMac(facts, port) ? ` (${d.mac})` : ''}`;
  const off = hostKey(cfg, mac, 'if this guest must (a router VM), port_security = off');
  let what: string;
  let fix = off;
  // a server's reply broadcast from a strict port meets the host's check first (br_netfilter)
  const why =
    d.why === 'strict-host-port' && d.service === 'udp/68'
      ? 'dhcp-server'
      : d.why === 'strict-host-port' && d.service === 'udp/546'
        ? 'dhcp6-server'
        : d.why;
  switch (why) {
    case 'strict-address':
      what = `${d.address ?? 'an address'} from ${on} is not its lease or an address given to it`;
      fix = hostKey(cfg, mac, `extra_ips = ${d.address ?? 'ADDRESS'} (or port_security = basic)`);
      break;
    case 'strict-mac': {
      const elsewhere = facts.bindings.find((b) => b.mac === d.mac && b.port !== port);
      what = `MAC ${d.mac} on ${on} is not the port's guest${elsewhere ? ` (it is bound to port ${elsewhere.port})` : ''}`;
      fix = hostKey(cfg, guestMac(facts, port), 'if the guest bridges others behind its port, port_security = basic');
      break;
    }
    case 'strict-ethertype':
      what = `frames other than ARP, IPv4 and IPv6 ${from} dropped`;
      fix = hostKey(cfg, mac, 'port_security = basic');
      break;
    case 'strict-host-port':
      what = `${d.service} on the host itself asked ${from}: a strict guest reaches only DHCP, DNS, TFTP and NTP there`;
      fix = `host_ports = ${(d.service ?? 'tcp/PORT').replace('/', ':')} in [bridge] of ${cfg.file}, then: brmgr reload ${cfg.name}`;
      break;
    case 'dhcp-server':
      what = `DHCP server reply ${from} dropped`;
      break;
    case 'dhcp6-server':
      what = `DHCPv6 server reply ${from} dropped`;
      break;
    case 'router-advertisement':
      what = `router advertisement ${from} dropped`;
      break;
    case 'redirect':
      what = `ICMP redirect ${from} dropped`;
      break;
    case 'bridge-mac':
      what = `frames ${from} sent from the bridge's own MAC dropped`;
      break;
    case 'gateway-claim':
      what = `ARP or neighbour advertisement ${from} claiming the bridge's address dropped`;
      break;
    case 'dhcp-forged':
      what = `DHCP client message ${from} for another MAC than its own dropped (a forged RELEASE?)`;
      fix = 'nothing to loosen: a guest asks for its own MAC only; look at what the guest runs';
      break;
    case 'dns-rate':
      what = `DNS queries ${from} past ${DNS_PER_PORT.rate} a second (bursts of ${DNS_PER_PORT.burst}) dropped`;
      fix = 'nothing to loosen: look at what floods DNS in the guest';
      break;
    case 'port-macs':
      what = `frames ${from} from more MACs than its port_macs (${cfg.portMacs}) dropped`;
      fix = hostKey(cfg, mac, `port_macs = ${cfg.portMacs * 4}`);
      break;
    case 'ipv6-sources':
      what = `IPv6 packets ${from} from new source addresses faster than 4 a second dropped`;
      fix = 'nothing to loosen: look at what sends from so many addresses in the guest';
      break;
    default:
      what = `${d.why} ${from} dropped`;
  }
  const binding = port ? `; ${bindingOf(cfg, facts, port)}` : '';
  return { detail: `${what}: ${plural(d.packets)} in the last ${DROP_MEMORY}${binding}`, fix };
}

/**
 * A drop of what the port is bound to now: sent in the moment between the guest's first frame and its
 * binding (its link-local address, its first packets from a new lease), no fault of the guest.
 */
function beforeBinding(facts: PortSecurityFacts, d: PortDrop): boolean {
  const b = d.port ? facts.bindings.find((x) => x.port === d.port) : undefined;
  if (!b) return false;
  if (d.why === 'strict-address') return !!d.address && b.addresses.includes(d.address);
  return d.why === 'strict-mac' && d.mac === b.mac;
}

/**
 * The drops of one guest (`mac`: those on its port, and its MAC sent from another) or, without one, of
 * every port; most packets first.
 */
export function portSecurityFindings(cfg: BridgeConfig, facts: PortSecurityFacts, mac?: string): PortSecurityFinding[] {
  const ports = new Set(
    mac
      ? [
          ...facts.bindings.filter((b) => b.mac === mac).map((b) => b.port),
          ...[...facts.learned].filter(([, m]) => m === mac).map(([p]) => p),
        ]
      : [],
  );
  const mine = (d: PortDrop) => !mac || d.mac === mac || (d.port !== undefined && ports.has(d.port));
  const drops = facts.drops.filter((d) => mine(d) && !beforeBinding(facts, d)).sort((a, b) => b.packets - a.packets);
  if (drops.length) return drops.map((d) => ({ ok: false, ...describeDrop(cfg, facts, d) }));
  if (!mac) return [{ ok: true, detail: `nothing dropped on any guest port in the last ${DROP_MEMORY}` }];
  const port = [...ports][0];
  return [
    {
      ok: true,
      detail: `nothing of ${mac} dropped in the last ${DROP_MEMORY}${port ? `; ${bindingOf(cfg, facts, port)}` : ''}`,
    },
  ];
}
