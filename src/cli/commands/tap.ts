import { checkName } from '../../config/validate.js';
import { parseRate, rateProblem } from '../../config/values.js';
import { UsageError } from '../../errors.js';
import { tapAdd, tapDel } from '../../converge/tap.js';
import { bridgeName, HELP, parseOptions, usageError, type Context, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('tap');

export const help = commandHelp('tap');

export type TapCommand =
  | { verb: 'add'; bridge: string; tap: string; owner?: string; mac?: string; rate?: number }
  | { verb: 'del'; tap: string };

const UNICAST_MAC = /^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/i;

function tapName(name: string): string {
  return checkName(name, 'TAP');
}

export function parse(args: string[]): TapCommand | Help {
  const parsed = parseOptions(
    args,
    { owner: { type: 'string' }, mac: { type: 'string' }, rate: { type: 'string' } },
    USAGE,
  );
  if (parsed === HELP) return HELP;
  const [verb, ...names] = parsed.positionals;
  const { owner, mac, rate } = parsed.values;
  if (verb === 'add' && names.length === 2) {
    if (owner === '') throw usageError('--owner needs a USER', USAGE);
    if (mac !== undefined && !UNICAST_MAC.test(mac))
      throw usageError(`--mac takes a unicast MAC address (like 52:54:00:12:34:56), not '${mac}'`, USAGE);
    if (rate === '') throw usageError('--rate needs a RATE', USAGE);
    const problem = rate === undefined ? undefined : rateProblem(rate);
    if (problem) throw new UsageError(`--rate: ${problem}`);
    return {
      verb,
      bridge: bridgeName(names[0]!),
      tap: tapName(names[1]!),
      ...(owner !== undefined ? { owner } : {}),
      ...(mac !== undefined ? { mac: mac.toLowerCase() } : {}),
      ...(rate !== undefined ? { rate: parseRate(rate)! } : {}),
    };
  }
  if (verb === 'del' && names.length === 1 && owner === undefined && mac === undefined && rate === undefined)
    return { verb, tap: tapName(names[0]!) };
  // the wrong verb, the wrong number of names, or --owner, --mac or --rate for del
  throw new UsageError(`usage: ${USAGE}`);
}

export async function run(command: TapCommand, { log }: Context): Promise<number> {
  if (command.verb === 'add') {
    const device = await tapAdd(command.bridge, command.tap, command.owner, {
      log,
      ...(command.mac ? { mac: command.mac } : {}),
      ...(command.rate ? { rate: command.rate } : {}),
    });
    // a macvtap's character device, for the VMM to open
    if (device) process.stdout.write(`${device}\n`);
  } else await tapDel(command.tap, { log });
  return 0;
}
