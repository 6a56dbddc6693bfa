import { loadConfig, loadConfigText, loadOtherConfigs } from '../../config/load.js';
import type { BridgeConfig } from '../../config/types.js';
import { ConfigError, formatProblem } from '../../config/validate.js';
import { diagnose, type Finding } from '../../doctor/index.js';
import { readServed } from '../../system/run-files.js';
import { paths } from '../../paths.js';
import { runner } from '../../system/exec.js';
import { DHCP_DISCOVER } from '../hidden.js';
import { bridgeName, expectPositionals, HELP, parseOptions, usageError, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('doctor');

export const help = commandHelp('doctor');

export interface DoctorOptions {
  bridge: string;
  guest?: string;
  traceSeconds?: number;
  /** the MAC the DHCP question is asked from (a guest's) */
  mac?: string;
  json: boolean;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function parse(args: string[]): DoctorOptions | Help {
  const parsed = parseOptions(
    args,
    { json: { type: 'boolean' }, trace: { type: 'string' }, mac: { type: 'string' } },
    USAGE,
  );
  if (parsed === HELP) return HELP;
  const [bridge, guest] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE'], ['MAC|HOSTNAME|IP']);
  const trace = parsed.values.trace;
  if (trace !== undefined && !guest) throw usageError('--trace needs a guest', USAGE);
  if (trace !== undefined && !(/^\d+$/.test(trace) && Number(trace) >= 1 && Number(trace) <= 60))
    throw usageError(`--trace '${trace}' is not a number of seconds from 1 to 60`, USAGE);
  const mac = parsed.values.mac;
  if (mac !== undefined && (!MAC.test(mac) || (Number.parseInt(mac.slice(0, 2), 16) & 1) === 1))
    throw usageError(`--mac '${mac}' is not a unicast MAC address (aa:bb:cc:dd:ee:ff)`, USAGE);
  return {
    bridge: bridgeName(bridge!),
    ...(guest ? { guest } : {}),
    ...(trace !== undefined ? { traceSeconds: Number(trace) } : {}),
    ...(mac !== undefined ? { mac: mac.toLowerCase() } : {}),
    json: parsed.values.json === true,
  };
}

/**
 * The config to diagnose: the file's; while it has errors and `brmgr run` serves the one it read before,
 * that one, with the file's errors as the first finding.
 */
function configToDiagnose(bridge: string): { cfg: BridgeConfig; broken?: Finding } {
  try {
    return { cfg: loadConfig(bridge) };
  } catch (err) {
    const served = err instanceof ConfigError ? readServed(paths(bridge)) : undefined;
    if (!served) throw err;
    const cfg = loadConfigText(bridge, served.text);
    const errors = (err as ConfigError).problems.map(formatProblem);
    return {
      cfg,
      broken: {
        check: 'config',
        ok: false,
        detail:
          `${errors.join('; ')}: brmgr run (pid ${served.pid}) serves the config it read before, ` +
          'which the rest of this walk diagnoses',
        fix: `correct ${cfg.file}, then: brmgr check ${bridge} && brmgr reload ${bridge}`,
      },
    };
  }
}

export async function run({ bridge, guest, traceSeconds, mac, json }: DoctorOptions): Promise<number> {
  const { cfg, broken } = configToDiagnose(bridge);
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
    ...(mac ? { dhcpMac: mac } : {}),
    // brmgr itself, as it was started, runs the DHCP client inside the throwaway namespace
    ...(process.argv[1] ? { self: [process.execPath, process.argv[1], DHCP_DISCOVER] } : {}),
  }).finally(() => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.off(sig, onSignal);
  });
  if (broken) findings.unshift(broken);
  const problems = findings.filter((f) => !f.ok);
  if (json) process.stdout.write(`${JSON.stringify({ bridge, ok: problems.length === 0, findings }, null, 2)}\n`);
  else {
    for (const f of findings) {
      process.stdout.write(
        `${f.advice ? '!' : f.ok ? '✓' : '✗'} ${f.check.padEnd(15)} ${f.detail}${f.fix ? `\n    fix: ${f.fix.replaceAll('\n', '\n         ')}` : ''}\n`,
      );
    }
    process.stdout.write(problems.length ? `${problems.length} problem(s) found\n` : 'the path is clear\n');
  }
  return problems.length ? 1 : 0;
}
