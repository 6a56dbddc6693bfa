import type { Run } from './exec.js';

/** One entry of the bridge's forwarding database: a MAC and the port it was last seen behind. */
export interface FdbEntry {
  mac: string;
  ifname: string;
  master?: string;
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
