/**
 * Entry of the supervisor's own bundle (`brmgr-run.cjs`, started by build/run-loader.mjs with V8's code
 * cache): `brmgr run` alone, so that nothing else of brmgr is loaded, compiled or held by a lasting process.
 * The arguments are `run BRIDGE …` or, in the original's form, `BRIDGE …` (the launcher sends both here).
 */
import * as run from './commands/run.js';
import { execute, exitOnClosedStdout } from './execute.js';

export async function runMain(args: string[]): Promise<number> {
  exitOnClosedStdout();
  return execute(async () => run, args[0] === 'run' ? args.slice(1) : args, 'brmgr', { lasting: true });
}
