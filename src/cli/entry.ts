import { readFileSync } from 'node:fs';
import { overallHelp } from './usage.js';

/** Set by the bundler for installed copies; read from package.json in the source tree. */
declare const BRMGR_VERSION: string | undefined;

/** `brmgr --help`, made from each command's own usage (usage.ts). */
export const HELP = overallHelp();

/**
 * Shared entry of the brmgr, brmgr-pre and brmgr-post programs; the latter two
 * pass their fixed `command`. --help and --version answer before the rest of
 * brmgr is loaded, to stay fast.
 */
export async function entry(prog: string, args: string[], command?: string): Promise<void> {
  // a reader that stops early (`brmgr leases br0 | head`) is no error of ours
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
  const [first] = args;
  if (!command && (first === '--help' || first === '-h')) {
    process.stdout.write(HELP);
    return;
  }
  if (first === '--version' || first === '-V') {
    const version =
      typeof BRMGR_VERSION === 'string'
        ? BRMGR_VERSION
        : (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
            .version;
    process.stdout.write(`${prog} ${version}\n`);
    return;
  }
  const { main } = await import('./main.js');
  process.exitCode = await main(command ? [command, ...args] : args, prog);
}
