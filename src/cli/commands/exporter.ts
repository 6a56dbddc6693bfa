import { once } from 'node:events';
import { serveMetrics } from '../../metrics/exporter.js';
import { gather, reportedBridges } from '../../metrics/gather.js';
import { metricsOf } from '../../metrics/samples.js';
import { exposition } from '../../metrics/text.js';
import { runner } from '../../system/exec.js';
import { type Context, HELP, type Help, expectPositionals, parseOptions, usageError } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';
import { brmgrVersion } from '../version.js';

const USAGE = commandUsage('exporter');

export const help = commandHelp('exporter');

export const DEFAULT_LISTEN = '127.0.0.1:9469';

export interface ExporterOptions {
  host: string;
  port: number;
}

/** `ADDR:PORT`, an IPv6 address in brackets (`[::1]:9469`). */
export function parseListen(text: string): ExporterOptions {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw usageError(`--listen '${text}' is not ADDR:PORT`, USAGE);
  return { host: m[1] ?? m[2]!, port };
}

export function parse(args: string[], env: NodeJS.ProcessEnv = process.env): ExporterOptions | Help {
  const parsed = parseOptions(args, { listen: { type: 'string' } }, USAGE);
  if (parsed === HELP) return HELP;
  expectPositionals(parsed.positionals, USAGE, []);
  return parseListen(parsed.values.listen ?? (env.BRMGR_EXPORTER_LISTEN || DEFAULT_LISTEN));
}

/** Every bridge's metrics now, as text. */
export async function scrape(bridges: string[] = reportedBridges()): Promise<string> {
  // a hung tool fails one scrape, not the exporter
  const facts = await gather(runner({ timeoutMs: 10_000 }), bridges, brmgrVersion());
  return exposition(metricsOf(facts.bridges, facts.host));
}

export async function run({ host, port }: ExporterOptions, { log }: Context): Promise<number> {
  const server = await serveMetrics({ host, port, log, scrape: () => scrape() });
  const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  log.info({ event: 'listen', listen: where }, `serving metrics on http://${where}/metrics`);
  const stop = new AbortController();
  await Promise.race([
    once(process, 'SIGTERM', { signal: stop.signal }),
    once(process, 'SIGINT', { signal: stop.signal }),
  ]).catch(() => {});
  stop.abort();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  log.info({ event: 'stop' }, 'stopped');
  return 0;
}
