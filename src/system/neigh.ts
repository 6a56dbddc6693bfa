import { type Neighbour, parseNeighbours } from '../host/neigh.js';
import type { Run } from './exec.js';

/** The bridge's IPv6 neighbours (its guests' global addresses and MACs); empty when they cannot be read. */
export async function readNeighbours6(run: Run, bridge: string): Promise<Neighbour[]> {
  const r = await run('ip', ['-json', '-6', 'neigh', 'show', 'dev', bridge]);
  if (!r.ok) return [];
  try {
    return parseNeighbours(r.stdout);
  } catch {
    return [];
  }
}
