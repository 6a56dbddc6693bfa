import { down as post } from '../../converge/down.js';
import { UsageError } from '../../errors.js';
import { paths } from '../../paths.js';
import { runningSupervisor } from '../../system/run-files.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Context, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('down');

export const help = commandHelp('down');

export interface DownOptions {
  bridge: string;
  force: boolean;
  /** called as the unit's ExecStopPost: nothing to do when systemd is about to start it again */
  unlessRestarting?: boolean;
}

/**
 * Whether systemd will start the unit again (Restart=on-failure, exit 2 excepted), as the env it gives
 * ExecStopPost says: the next start converges what is there, and guests keep their network meanwhile.
 */
export function restarting(env: NodeJS.ProcessEnv): boolean {
  const result = env.SERVICE_RESULT ?? '';
  return ['exit-code', 'signal', 'core-dump', 'watchdog', 'timeout'].includes(result) && env.EXIT_STATUS !== '2';
}

export function parse(args: string[]): DownOptions | Help {
  const parsed = parseOptions(args, { force: { type: 'boolean' }, 'unless-restarting': { type: 'boolean' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE']);
  return {
    bridge: bridgeName(bridge!),
    force: parsed.values.force === true,
    ...(parsed.values['unless-restarting'] ? { unlessRestarting: true } : {}),
  };
}

export async function run({ bridge, force, unlessRestarting }: DownOptions, { log }: Context): Promise<number> {
  if (unlessRestarting && restarting(process.env)) {
    log.info(
      { bridge, result: process.env.SERVICE_RESULT },
      `the service stopped (${process.env.SERVICE_RESULT}) and starts again: ${bridge} is kept for it`,
    );
    return 0;
  }
  const serving = force ? undefined : runningSupervisor(paths(bridge));
  if (serving) throw new UsageError(servedMessage(bridge, serving));
  await post(bridge, { log, force });
  return 0;
}

/** Why down refuses while `brmgr run` serves the bridge: it would bring it all back within a second. */
function servedMessage(bridge: string, pid: number): string {
  return (
    `brmgr run serves ${bridge} (pid ${pid}) and would bring it back at once; stop the service instead ` +
    `(systemctl stop brmgr@${bridge} takes the bridge down too; a brmgr run started by hand: kill ${pid}, ` +
    `then brmgr down ${bridge}), or add --force`
  );
}
