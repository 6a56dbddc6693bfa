import { type Run, type RunResult, type Spawned, spawnProcess } from './exec.js';

/** `nft monitor trace`, each line as it comes. */
export function monitorNftTrace(onLine: (line: string) => void): Spawned {
  return spawnProcess('nft', ['monitor', 'trace'], 'stdout', onLine);
}

/** Loads a ruleset given as nft's own text. */
export function loadNftRuleset(run: Run, text: string): Promise<RunResult> {
  return run('nft', ['-f', '-'], text);
}

/** Deletes the table `name` in each family; one that is not there is no error. */
export async function deleteNftTables(run: Run, name: string, families: readonly string[]): Promise<void> {
  for (const family of families) await run('nft', ['delete', 'table', family, name]);
}

/** A chain as `nft -a list chain` prints it, each rule with its `# handle N`; empty when it is gone. */
export async function listChainWithHandles(run: Run, family: string, table: string, chain: string): Promise<string> {
  return (await run('nft', ['-a', 'list', 'chain', family, table, chain])).stdout;
}
