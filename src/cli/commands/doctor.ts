import { loadConfig, loadOtherConfigs } from '../../config/load.js';
import { diagnose } from '../../doctor/index.js';
import { paths } from '../../paths.js';
import { runner } from '../../system/exec.js';
import { bridgeName, expectPositionals, HELP, parseOptions, usageError, type Help } from '../command.js';

const USAGE = 'brmgr doctor BRIDGE [MAC|HOSTNAME|IP [--trace SECONDS]] [--json]';

export const help = `Usage: ${USAGE}

Say why guests are offline, or that nothing stands in the way: the bridge and
its ports up, its address, ip_forward, brmgr's own firewall rules, another
firewall's drop (nftables, iptables-legacy), dnsmasq serving, the lease pool,
conntrack, the uplink and default route, MTU; with a guest, the port it is
behind. Each problem names the object at fault and the command that fixes it.
Changes nothing. Exit 0 when the path is clear, 1 when a problem was found.

With --trace, the guest's real packets are traced for SECONDS through every
nftables table (iptables-nft's too) while the guest sends (ping, a DHCP
request): each table, chain and rule that drops them is named. The marks are
removed when the trace ends, also on Ctrl-C.

Options:
  --trace      trace the guest's packets for SECONDS (1-60)
  --json       the findings as JSON
  -h, --help   this help
`;

export interface DoctorOptions {
  bridge: string;
  guest?: string;
  traceSeconds?: number;
  json: boolean;
}

export function parse(args: string[]): DoctorOptions | Help {
  const parsed = parseOptions(args, { json: { type: 'boolean' }, trace: { type: 'string' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge, guest] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE'], ['MAC|HOSTNAME|IP']);
  const trace = parsed.values.trace;
  if (trace !== undefined && !guest) throw usageError('--trace needs a guest', USAGE);
  if (trace !== undefined && !(/^\d+$/.test(trace) && Number(trace) >= 1 && Number(trace) <= 60))
    throw usageError(`--trace '${trace}' is not a number of seconds from 1 to 60`, USAGE);
  return {
    bridge: bridgeName(bridge!),
    ...(guest ? { guest } : {}),
    ...(trace !== undefined ? { traceSeconds: Number(trace) } : {}),
    json: parsed.values.json === true,
  };
}

export async function run({ bridge, guest, traceSeconds, json }: DoctorOptions): Promise<number> {
  const cfg = loadConfig(bridge);
  // a Ctrl-C ends the trace early; its marks are removed and the findings still printed
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, onSignal);
  const findings = await diagnose(cfg, {
    run: runner(),
    paths: paths(bridge),
    others: loadOtherConfigs(bridge),
    ...(guest ? { guest } : {}),
    ...(traceSeconds ? { trace: { seconds: traceSeconds, signal: stop.signal } } : {}),
  }).finally(() => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.off(sig, onSignal);
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
