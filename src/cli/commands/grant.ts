import { readConfig } from '../../config/load.js';
import { UsageError } from '../../errors.js';
import { paths } from '../../paths.js';
import { account } from '../../system/dnsmasq-account.js';
import { handOver } from '../../system/handover.js';
import { legacyInstalled } from '../../system/xtables.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';
import { runsAsRoot } from '../../system/process.js';

const USAGE = commandUsage('grant');

export const help = commandHelp('grant');

export interface GrantOptions {
  bridge: string;
  user: string;
}

export function parse(args: string[]): GrantOptions | Help {
  const parsed = parseOptions(args, {}, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge, user] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE', 'USER']);
  return { bridge: bridgeName(bridge!), user: user! };
}

/** 0 once USER has what `brmgr run BRIDGE` needs from root; 1 when it cannot be given. */
export async function run({ bridge, user }: GrantOptions): Promise<number> {
  if (!runsAsRoot()) throw new UsageError('brmgr grant gives files only root can give: run it as root');
  const to = account(user);
  if (!to) throw new UsageError(`no user ${user} (make install creates the brmgr user)`);
  if (to.uid === 0) return 0;
  let autoSubnet = false;
  try {
    autoSubnet = readConfig(bridge).auto;
  } catch {
    /* brmgr run says what is wrong with the config */
  }
  const changed = handOver(paths(bridge), to, { autoSubnet, legacy: legacyInstalled() });
  if (changed.length) process.stderr.write(`brmgr grant: gave ${to.user} ${changed.join(', ')}\n`);
  return 0;
}
