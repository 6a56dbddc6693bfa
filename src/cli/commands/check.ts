import { loadConfig, loadOtherConfigs } from '../../config/load.js';
import { preflight } from '../../converge/preflight.js';
import { paths } from '../../paths.js';
import { runner } from '../../system/exec.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Help } from '../command.js';

const USAGE = 'brmgr check BRIDGE';

export const help = `Usage: ${USAGE}

Validate the config and the host without changing anything: config errors, a
subnet overlapping another interface or route, a non-bridge interface with the
name, DNS/DHCP ports taken, another firewall in the way, missing tools.
Exit 0 when ok (warnings allowed), 2 on an error.

Options:
  -h, --help   this help
`;

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
