import { loadConfig, loadOtherConfigs } from '../../config/load.js';
import { diagnose } from '../../doctor/index.js';
import { paths } from '../../paths.js';
import { runner } from '../../system/exec.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Help } from '../command.js';

const USAGE = 'brmgr doctor BRIDGE [MAC|HOSTNAME|IP] [--json]';

export const help = `Usage: ${USAGE}

Say why guests are offline, or that nothing stands in the way: the bridge and
its ports up, its address, ip_forward, brmgr's own firewall rules, another
firewall's drop (nftables, iptables-legacy), dnsmasq serving, the lease pool,
conntrack, the uplink and default route, MTU; with a guest, the port it is
behind. Each problem names the object at fault and the command that fixes it.
Changes nothing. Exit 0 when the path is clear, 1 when a problem was found.

Options:
  --json       the findings as JSON
  -h, --help   this help
`;

export interface DoctorOptions {
  bridge: string;
  guest?: string;
  json: boolean;
}

export function parse(args: string[]): DoctorOptions | Help {
  const parsed = parseOptions(args, { json: { type: 'boolean' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge, guest] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE'], ['MAC|HOSTNAME|IP']);
  return { bridge: bridgeName(bridge!), ...(guest ? { guest } : {}), json: parsed.values.json === true };
}

export async function run({ bridge, guest, json }: DoctorOptions): Promise<number> {
  const cfg = loadConfig(bridge);
  const findings = await diagnose(cfg, {
    run: runner(),
    paths: paths(bridge),
    others: loadOtherConfigs(bridge),
    ...(guest ? { guest } : {}),
  });
  const problems = findings.filter((f) => !f.ok);
  if (json) process.stdout.write(`${JSON.stringify({ bridge, ok: problems.length === 0, findings }, null, 2)}\n`);
  else {
    for (const f of findings) {
      process.stdout.write(
        `${f.ok ? '✓' : '✗'} ${f.check.padEnd(15)} ${f.detail}${f.fix ? `\n    fix: ${f.fix}` : ''}\n`,
      );
    }
    process.stdout.write(problems.length ? `${problems.length} problem(s) found\n` : 'the path is clear\n');
  }
  return problems.length ? 1 : 0;
}
