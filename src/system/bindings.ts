/**
 * Strict port security's sets on the host: one `nft -f` per change of a port's guest (plan/bindings.ts
 * writes it), and the elements the kernel holds, read when a port goes or `brmgr run` starts.
 */
import { parseSetElements, type SetElement } from '../host/bindings.js';
import { must, type Run } from './exec.js';

/** Applies one script of `add element` / `delete element` lines, all or nothing. */
export async function applyBindings(run: Run, script: string): Promise<void> {
  must(await run('nft', ['-f', '-'], script), 'nft');
}

/** The elements of `sets` in `table bridge TABLE`; empty when the table is not there. */
export async function readBindings(run: Run, table: string, sets: readonly string[]): Promise<SetElement[]> {
  const r = await run('nft', ['-j', 'list', 'table', 'bridge', table]);
  return r.ok ? parseSetElements(r.stdout, sets) : [];
}

/** The names of the bridge's ports now. */
export async function bridgePorts(run: Run, bridge: string): Promise<string[]> {
  const r = await run('ip', ['-json', 'link', 'show', 'master', bridge]);
  if (!r.ok) return [];
  return (JSON.parse(r.stdout || '[]') as { ifname: string }[]).map((l) => l.ifname);
}

/** One table as `nft -j list table` prints it; empty when it is not there. */
export async function listTableJson(run: Run, family: 'bridge' | 'inet', table: string): Promise<string> {
  const r = await run('nft', ['-j', 'list', 'table', family, table]);
  return r.ok ? r.stdout : '';
}
