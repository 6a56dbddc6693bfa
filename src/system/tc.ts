/** tc, and the ip links it needs (ifb devices): reads of a link's traffic control, and batches of changes. */
import { type Filter, type Qdisc, parseFilters, parseQdiscs } from '../host/tc.js';
import { must, type Run } from './exec.js';

/** A link's qdiscs; undefined when there is no such link. */
export async function qdiscsOf(run: Run, dev: string): Promise<Qdisc[] | undefined> {
  const r = await run('tc', ['-json', 'qdisc', 'show', 'dev', dev]);
  if (r.missing) throw new Error('tc: command not found (package iproute2)');
  return r.ok ? parseQdiscs(r.stdout) : undefined;
}

/** The filters of a link's ingress qdisc (none without one, or without the link). */
export async function ingressFilters(run: Run, dev: string): Promise<Filter[]> {
  const r = await run('tc', ['-json', 'filter', 'show', 'dev', dev, 'ingress']);
  return r.ok ? parseFilters(r.stdout) : [];
}

export interface AliasedLink {
  ifname: string;
  alias?: string;
}

/** A link's alias: undefined without one, null when there is no such link. */
export async function linkAlias(run: Run, dev: string): Promise<string | undefined | null> {
  const r = await run('ip', ['-json', 'link', 'show', 'dev', dev]);
  if (!r.ok) return null;
  const [link] = JSON.parse(r.stdout || '[]') as { ifalias?: string }[];
  return link ? link.ifalias : null;
}

/** The ifb devices here, with their aliases (none on a kernel without ifb). */
export async function ifbLinks(run: Run): Promise<AliasedLink[]> {
  const r = await run('ip', ['-json', 'link', 'show', 'type', 'ifb']);
  if (!r.ok) return [];
  return (JSON.parse(r.stdout || '[]') as { ifname: string; ifalias?: string }[]).map((l) => ({
    ifname: l.ifname,
    ...(l.ifalias ? { alias: l.ifalias } : {}),
  }));
}

// what `-batch` reads as one word: anything else (a quote, a `#`) goes as an argument array of its own
const PLAIN = /^[A-Za-z0-9._:@+=-]+$/;

/** `ip` or `tc` commands in order, each an argument array: one `-batch` process when every word is plain. */
export async function applyCommands(run: Run, tool: 'ip' | 'tc', commands: readonly string[][]): Promise<void> {
  if (!commands.length) return;
  if (commands.every((c) => c.every((w) => PLAIN.test(w)))) {
    must(await run(tool, ['-batch', '-'], `${commands.map((c) => c.join(' ')).join('\n')}\n`), tool);
    return;
  }
  for (const c of commands) must(await run(tool, c), `${tool} ${c.join(' ')}`);
}
