import { exitOnClosedStdout } from './execute.js';
import { DHCP_DISCOVER } from './hidden.js';
import { overallHelp } from './usage.js';
import { brmgrVersion } from './version.js';

/** `brmgr --help`, made from each command's own usage (usage.ts). */
export const HELP = overallHelp();

/**
 * Shared entry of the brmgr, brmgr-pre and brmgr-post programs; the latter two
 * pass their fixed `command`. --help and --version answer before the rest of
 * brmgr is loaded, to stay fast.
 */
export async function entry(prog: string, args: string[], command?: string): Promise<void> {
  exitOnClosedStdout();
  const [first] = args;
  if (!command && (first === '--help' || first === '-h')) {
    process.stdout.write(HELP);
    return;
  }
  if (!command && first === DHCP_DISCOVER) {
    const { discoverMain } = await import('../system/dhcp-discover.js');
    process.exitCode = await discoverMain(args.slice(1));
    return;
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(`${prog} ${brmgrVersion()}\n`);
    return;
  }
  const { main } = await import('./main.js');
  process.exitCode = await main(command ? [command, ...args] : args, prog);
}
