import type { Observed } from '../host/links.js';
import { parseObserved } from '../host/links.js';
import type { Run } from './exec.js';
import { must } from './exec.js';

/** One process for links, addresses and routes of both families. */
export async function observe(run: Run): Promise<Observed> {
  const r = must(
    await run('ip', ['-d', '-json', '-batch', '-'], 'link show\naddress show\nroute show table all\n'),
    'ip',
  );
  return parseObserved(r.stdout);
}

/** Applies `ip -batch` lines; one process for all of them. `force` goes on past failing lines (undo, restore). */
export async function applyIpBatch(run: Run, lines: string[], opts: { force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  must(await run('ip', [...(opts.force ? ['-force'] : []), '-batch', '-'], `${lines.join('\n')}\n`), 'ip');
}
