import type { Run } from './exec.js';

/** The MAC the host last saw at an address on a link (a guest with a static address has no lease). */
export async function neighbourMac(run: Run, dev: string, address: string): Promise<string | undefined> {
  const r = await run('ip', ['-json', 'neigh', 'show', 'to', address, 'dev', dev]);
  const entries = r.ok ? (JSON.parse(r.stdout || '[]') as { lladdr?: string }[]) : [];
  return entries.find((e) => e.lladdr)?.lladdr;
}

/** The link the kernel would send a packet to `address` out of. */
export async function routeDevice(run: Run, address: string): Promise<string | undefined> {
  const r = await run('ip', ['-json', 'route', 'get', address]);
  return r.ok ? (JSON.parse(r.stdout || '[]') as { dev?: string }[])[0]?.dev : undefined;
}

/** A link's neighbour entries, by address: the MAC that answered, or that none does (FAILED). */
export async function linkNeighbours(
  run: Run,
  dev: string,
): Promise<Record<string, { mac?: string; unreachable: boolean }>> {
  const r = await run('ip', ['-json', 'neigh', 'show', 'dev', dev]);
  const entries = r.ok ? (JSON.parse(r.stdout || '[]') as { dst: string; lladdr?: string; state?: string[] }[]) : [];
  return Object.fromEntries(
    entries.map((e) => [
      e.dst,
      {
        ...(e.lladdr ? { mac: e.lladdr } : {}),
        unreachable: (e.state ?? []).includes('FAILED'),
      },
    ]),
  );
}
