/**
 * The facts behind the metrics, read without asking any `brmgr run`: its run dir (the status file it
 * writes at most every few seconds, state.json, its lock), the lease file, and two dumps of the host
 * for all bridges at once (`ip -json -s link show`, `bridge -json fdb show`). Nothing here can slow a
 * supervisor down.
 */
import { readdirSync } from 'node:fs';
import { configuredBridges, loadConfig } from '../config/load.js';
import type { BridgeConfig, StaticHost } from '../config/types.js';
import type { Lease } from '../dnsmasq/leases.js';
import { parseLinkStats, type LinkStats } from '../host/link-stats.js';
import { countedByComment } from '../host/nftables.js';
import { learnedMacs } from '../host/ports.js';
import { ZERO_MAC } from '../host/vxlan.js';
import { DROP_COMMENT } from '../firewall/drops.js';
import { l2Table } from '../firewall/l2.js';
import { strictTable } from '../plan/bindings.js';
import { nftJson } from '../firewall/nftables.js';
import { paths } from '../paths.js';
import { dhcpPoolSize } from '../plan/services.js';
import type { FdbEntry } from '../system/bridge.js';
import type { Run } from '../system/exec.js';
import { readLeases } from '../system/leases.js';
import { alive } from '../system/process.js';
import { liveDnsmasqPid, liveSupervisorPid, readStatus } from '../system/run-files.js';
import { readState } from '../system/state.js';
import { readSysctl } from '../system/sysctl.js';
import type { BridgeFacts, HostFacts, PortFacts } from './samples.js';

/** The bridges to report: every one configured here, and every one brmgr-pre has set up. */
export function reportedBridges(env: NodeJS.ProcessEnv = process.env): string[] {
  const root = paths('x', env).runRoot;
  let set: string[] = [];
  try {
    set = readdirSync(root).filter((b) => !b.startsWith('.') && readState(paths(b, env)));
  } catch {
    // no run dir yet
  }
  return [...new Set([...configuredBridges(env), ...set])].sort();
}

async function json<T>(run: Run, file: string, args: string[]): Promise<T[]> {
  const r = await run(file, args);
  if (!r.ok) return [];
  try {
    return JSON.parse(r.stdout || '[]') as T[];
  } catch {
    return [];
  }
}

export async function gather(
  run: Run,
  bridges: string[],
  version: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ bridges: BridgeFacts[]; host: HostFacts }> {
  const [links, fdb, bridgeTables] = await Promise.all([
    run('ip', ['-json', '-s', 'link', 'show']).then((r) => (r.ok ? parseLinkStats(r.stdout) : [])),
    json<FdbEntry & { dst?: string }>(run, 'bridge', ['-json', 'fdb', 'show']),
    // port security's drops, counted in every bridge's table at once
    nftJson(run, ['list', 'ruleset', 'bridge']),
  ]);
  const drops = countedByComment(bridgeTables ?? [], DROP_COMMENT);
  const count = Number(readSysctl('net/netfilter/nf_conntrack_count'));
  const max = Number(readSysctl('net/netfilter/nf_conntrack_max'));
  const conntrack = readSysctl('net/netfilter/nf_conntrack_max') !== undefined ? { count, max } : undefined;
  return {
    bridges: bridges.map((b) => ({
      ...bridgeFacts(b, links, fdb, env),
      drops: sumDrops(drops.get(l2Table(b)), drops.get(strictTable(b))),
    })),
    host: { version, ...(conntrack ? { conntrack } : {}) },
  };
}

/** The drops of a bridge's two tables, by reason. */
function sumDrops(...tables: (Record<string, number> | undefined)[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const t of tables) for (const [reason, n] of Object.entries(t ?? {})) sum[reason] = (sum[reason] ?? 0) + n;
  return sum;
}

function bridgeFacts(
  bridge: string,
  links: LinkStats[],
  fdb: (FdbEntry & { dst?: string })[],
  env: NodeJS.ProcessEnv,
): BridgeFacts {
  const p = paths(bridge, env);
  const supervisor = liveSupervisorPid(p);
  // a status left by a killed brmgr run says nothing of the one running now
  const status = supervisor ? readStatus(p) : undefined;
  const own = status?.pid === supervisor ? status : undefined;
  const dnsmasqUp = own?.dnsmasqPid ? alive(own.dnsmasqPid) : liveDnsmasqPid(p) !== undefined;
  const leases = readLeases(p.leases).filter((l) => l.mac && !l.ip.includes(':'));
  const cfg = configOf(bridge, env);
  const hosts = cfg?.hosts ?? [];
  const pool = own?.dhcpPool ?? (cfg ? dhcpPoolSize(cfg) : undefined);
  const vxlan = readState(p)?.vxlan?.link;
  return {
    bridge,
    up: supervisor !== undefined,
    dnsmasqUp,
    ...(own?.counts ? { run: { counts: own.counts, ...(own.started ? { started: own.started } : {}) } } : {}),
    leases: leases.length,
    ...(pool !== undefined ? { pool } : {}),
    ports: links.filter((l) => l.master === bridge).map((l) => portFacts(l, bridge, fdb, leases, hosts)),
    ...(vxlan
      ? {
          vxlanPeers: new Set(fdb.filter((e) => e.ifname === vxlan && e.mac === ZERO_MAC && e.dst).map((e) => e.dst))
            .size,
        }
      : {}),
  };
}

function portFacts(link: LinkStats, bridge: string, fdb: FdbEntry[], leases: Lease[], hosts: StaticHost[]): PortFacts {
  const macs = [
    ...new Set(
      learnedMacs(
        fdb.filter((e) => e.ifname === link.ifname && e.master === bridge),
        bridge,
      ).flatMap((f) => (f.kind === 'fdb' ? [f.mac] : [])),
    ),
  ];
  const mac = macs.length === 1 ? macs[0] : undefined;
  const guest = mac
    ? (leases.find((l) => l.mac?.toLowerCase() === mac)?.hostname ??
      hosts.find((h) => h.mac.toLowerCase() === mac)?.name)
    : undefined;
  return {
    port: link.ifname,
    ...(mac ? { mac } : {}),
    ...(guest && guest !== '*' ? { guest } : {}),
    rx: link.rx,
    tx: link.tx,
  };
}

/** The config file's view, for a guest's [host.*] name and the pool of a bridge whose brmgr run does not say it. */
function configOf(bridge: string, env: NodeJS.ProcessEnv): BridgeConfig | undefined {
  try {
    return loadConfig(bridge, env);
  } catch {
    return undefined;
  }
}
