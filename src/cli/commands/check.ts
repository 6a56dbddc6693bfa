import { loadConfig, loadOtherConfigs } from '../../config/load.js';
import { servesAnything } from '../../dnsmasq/render.js';
import { paths } from '../../paths.js';
import { findConflicts, portConflicts } from '../../plan/conflicts.js';
import { hostFirewallWarnings } from '../../plan/hostfirewall.js';
import { ownDnsmasq } from '../../pre/index.js';
import { runner } from '../../system/exec.js';
import { nftRuleset } from '../../system/firewall.js';
import { listeners } from '../../system/listeners.js';
import { observe } from '../../system/observe.js';
import { qemuBridgeCheck } from '../../system/qemu.js';
import { missingTools, onPath } from '../../system/tools.js';
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
  const errors: string[] = [];
  const warnings: string[] = [];
  errors.push(...missingTools(cfg, { serving: true }));
  if (onPath('ip')) {
    const run = runner();
    const found = findConflicts(cfg, await observe(run), loadOtherConfigs(bridge));
    errors.push(...found.errors, ...portConflicts(cfg, await listeners(run), ownDnsmasq(paths(bridge))));
    warnings.push(...found.warnings, ...hostFirewallWarnings(cfg, await nftRuleset(run), servesAnything(cfg)));
  }
  warnings.push(...qemuBridgeCheck(bridge));
  for (const w of warnings) console.log(`warning: ${w}`);
  for (const e of errors) console.log(`error: ${e}`);
  if (!errors.length) console.log(`${cfg.file}: ok`);
  return errors.length ? 2 : 0;
}
