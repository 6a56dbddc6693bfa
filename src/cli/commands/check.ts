import { loadConfig, loadOtherConfigs, readConfig, recordedSubnet } from '../../config/load.js';
import { resolve } from '../../plan/resolve.js';
import { machineId } from '../../system/machine.js';
import { observe } from '../../system/observe.js';
import type { BridgeConfig } from '../../config/types.js';
import { ConfigError, formatProblem } from '../../config/validate.js';
import { preflight } from '../../converge/preflight.js';
import { paths } from '../../paths.js';
import { runner } from '../../system/exec.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('check');

export const help = commandHelp('check');

export interface CheckOptions {
  bridge: string;
  json: boolean;
}

export function parse(args: string[]): CheckOptions | Help {
  const parsed = parseOptions(args, { json: { type: 'boolean' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE']);
  return { bridge: bridgeName(bridge!), json: parsed.values.json === true };
}

/**
 * The config as brmgr-pre would apply it: `address = auto` before its first pre takes the subnet pre would
 * pick, not the stand-in (which may well be taken).
 */
async function configToCheck(bridge: string, others: BridgeConfig[]): Promise<BridgeConfig> {
  const loaded = readConfig(bridge);
  if (!loaded.auto || recordedSubnet(bridge)) return loadConfig(bridge);
  return resolve(loaded, { observed: await observe(runner()), machineId: machineId() }, others).cfg;
}

export async function run({ bridge, json }: CheckOptions): Promise<number> {
  let cfg: BridgeConfig;
  const others = loadOtherConfigs(bridge);
  try {
    cfg = await configToCheck(bridge, others);
  } catch (err) {
    if (!json || !(err instanceof ConfigError)) throw err;
    const errors = err.problems.map(formatProblem);
    const file = paths(bridge).config;
    process.stdout.write(`${JSON.stringify({ bridge, file, ok: false, errors, warnings: [] }, null, 2)}\n`);
    return 2;
  }
  const { errors, warnings } = await preflight(cfg, {
    run: runner(),
    paths: paths(bridge),
    others,
  });
  if (json) {
    const ok = errors.length === 0;
    process.stdout.write(`${JSON.stringify({ bridge, file: cfg.file, ok, errors, warnings }, null, 2)}\n`);
    return ok ? 0 : 2;
  }
  for (const w of warnings) console.log(`warning: ${w}`);
  for (const e of errors) console.log(`error: ${e}`);
  if (!errors.length) console.log(`${cfg.file}: ok`);
  return errors.length ? 2 : 0;
}
