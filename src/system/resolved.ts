/** systemd-resolved's per-link DNS, through resolvectl (one module per external tool). */
import { must, type Run } from './exec.js';

/** Points resolved at the link's DNS servers for these domains; throws with resolvectl's own words. */
export async function setLinkDns(run: Run, link: string, servers: string[], domains: string[]): Promise<void> {
  must(await run('resolvectl', ['dns', link, ...servers]), 'resolvectl dns');
  must(await run('resolvectl', ['domain', link, ...domains]), 'resolvectl domain');
}

/** Drops what was set for the link (resolved forgets it with the link, too). */
export async function revertLinkDns(run: Run, link: string): Promise<void> {
  await run('resolvectl', ['revert', link]);
}
