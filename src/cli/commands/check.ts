import { loadConfig, loadOtherConfigs } from '../../config/load.js';
import { preflight } from '../../converge/preflight.js';
import { paths } from '../../paths.js';
import { runner } from '../../system/exec.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('check');

export const help = commandHelp('check');

export interface CheckOptions {
  bridge: string;
}

export function parse(args: string[]): CheckOptions | Help {
  const parsed = parseOptions(args, {}, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE']);
  return { bridge: bridgeName(bridge!) };
}

export async function run({ bridge }: CheckOptions): Promise<number> {
  const cfg = loadConfig(bridge);
  const { errors, warnings } = await preflight(cfg, {
    run: runner(),
    paths: paths(bridge),
    others: loadOtherConfigs(bridge),
  });
  for (const w of warnings) console.log(`warning: ${w}`);
  for (const e of errors) console.log(`error: ${e}`);
  if (!errors.length) console.log(`${cfg.file}: ok`);
  return errors.length ? 2 : 0;
}
