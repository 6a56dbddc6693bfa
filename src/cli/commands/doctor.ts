import { loadConfig, loadOtherConfigs } from '../../config/load.js';
import { diagnose } from '../../doctor/index.js';
import { paths } from '../../paths.js';
import { runner } from '../../system/exec.js';
import { bridgeName, expectPositionals, HELP, parseOptions, usageError, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('doctor');

export const help = commandHelp('doctor');

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
