import { readFileSync } from 'node:fs';
import { learnedMacs, type PortFact } from '../host/ports.js';
import type { Run } from './exec.js';

/** One entry of the bridge's forwarding database: a MAC and the port it was last seen behind. */
export interface FdbEntry {
  mac: string;
  ifname: string;
  master?: string;
  /** permanent, static: the ports' own MACs and ones set by hand, not learned from guests */
  state?: string;
  flags?: string[];
}

/** A port's spanning tree state (forwarding, blocking, listening, learning, disabled). */
export interface PortState {
  ifname: string;
  state?: string;
}

async function bridgeJson<T>(run: Run, args: string[]): Promise<T[]> {
  const r = await run('bridge', ['-json', ...args]);
  return r.ok ? (JSON.parse(r.stdout || '[]') as T[]) : [];
}

/** The bridge's forwarding database; empty when it cannot be read. */
export function forwardingDatabase(run: Run, bridge: string): Promise<FdbEntry[]> {
  return bridgeJson<FdbEntry>(run, ['fdb', 'show', 'br', bridge]);
}

/** The STP state of each of the bridge's ports; empty when it cannot be read. */
export function portStates(run: Run, bridge: string): Promise<PortState[]> {
  return bridgeJson<PortState>(run, ['link', 'show', 'master', bridge]);
}

/** The bridge's ports now, and the guests' MACs learned on them: one process, one JSON array a line. */
export async function readPorts(run: Run, bridge: string): Promise<PortFact[]> {
  const r = await run('bridge', ['-json', '-batch', '-'], `link show master ${bridge}\nfdb show br ${bridge}\n`);
  // a bridge that is gone: `link show master` of a missing one lists every bridge's ports, then fdb fails
  if (!r.ok) return [];
  const [ports = [], fdb = []] = r.stdout
    .split('\n')
    .filter((line) => line.startsWith('['))
    .map((line) => JSON.parse(line) as unknown[]) as [PortState[]?, FdbEntry[]?];
  return [...ports.map((p): PortFact => ({ kind: 'port-added', port: p.ifname })), ...learnedMacs(fdb, bridge)];
}

/** A link's ifindex, or undefined while it does not exist. */
export function linkIndex(ifname: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8').trim());
  } catch {
    return undefined;
  }
}
