/**
 * The host's connection tracking, through conntrack(8) (Debian package conntrack): the flows of a
 * guest that left, forgotten. Each one holds an entry of the host's one table (an established TCP
 * flow for five days) that nothing else frees.
 */
import type { Run } from './exec.js';

/**
 * Deletes the flows the addresses started (original source) or answered (reply source: forwards,
 * routed and guest-to-guest flows into them); how many, or undefined where conntrack is not installed.
 */
export async function forgetFlows(run: Run, addresses: readonly string[]): Promise<number | undefined> {
  let deleted = 0;
  for (const address of addresses) {
    const family = address.includes(':') ? ['-f', 'ipv6'] : [];
    for (const which of ['--orig-src', '--reply-src']) {
      const r = await run('conntrack', ['-D', ...family, which, address]);
      if (r.missing) return undefined;
      // exits 1 when nothing matched; the count is on stderr either way
      deleted += Number(/(\d+) flow entries have been deleted/.exec(r.stderr)?.[1] ?? 0);
    }
  }
  return deleted;
}
