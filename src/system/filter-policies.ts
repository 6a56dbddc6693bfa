import type { Run } from './exec.js';

/**
 * The policy of each built-in chain of an iptables filter table (`FORWARD` → `DROP`), as the save tool
 * given prints it; empty when the tool is missing or the table cannot be read.
 */
export async function filterPolicies(
  run: Run,
  save: 'iptables-save' | 'ip6tables-save' = 'iptables-save',
): Promise<Map<string, string>> {
  const r = await run(save, ['-t', 'filter']);
  const policies = new Map<string, string>();
  for (const m of r.stdout.matchAll(/^:(\S+) (\S+)/gm)) if (m[2] !== '-') policies.set(m[1]!, m[2]!);
  return policies;
}
