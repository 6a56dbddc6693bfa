import { bridgeName, expectPositionals, HELP, type Help, noSuchBridge, parseOptions } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';
import { scrape } from './exporter.js';

const USAGE = commandUsage('metrics');

export const help = commandHelp('metrics');

export interface MetricsOptions {
  /** undefined: every bridge here */
  bridge?: string;
}

export function parse(args: string[]): MetricsOptions | Help {
  const parsed = parseOptions(args, {}, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, [], ['BRIDGE']);
  return bridge !== undefined ? { bridge: bridgeName(bridge) } : {};
}

export async function run({ bridge }: MetricsOptions): Promise<number> {
  const unknown = bridge ? noSuchBridge(bridge) : undefined;
  if (unknown) {
    process.stderr.write(`brmgr metrics: ${unknown}\n`);
    return 2;
  }
  process.stdout.write(await scrape(bridge ? [bridge] : undefined));
  return 0;
}
