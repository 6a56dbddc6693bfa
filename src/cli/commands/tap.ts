import { checkName } from '../../config/validate.js';
import { parseRate, rateProblem } from '../../config/values.js';
import { UsageError } from '../../errors.js';
import { tapAdd, tapDel } from '../../converge/tap.js';
import { bridgeName, HELP, parseOptions, usageError, type Context, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('tap');

export const help = commandHelp('tap');

export type TapCommand =
  | { verb: 'add'; bridge: string; tap: string; owner?: string; rate?: number }
  | { verb: 'del'; tap: string };

function tapName(name: string): string {
  return checkName(name, 'TAP');
}

export function parse(args: string[]): TapCommand | Help {
  const parsed = parseOptions(args, { owner: { type: 'string' }, rate: { type: 'string' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [verb, ...names] = parsed.positionals;
  const { owner, rate } = parsed.values;
  if (verb === 'add' && names.length === 2) {
    if (owner === '') throw usageError('--owner needs a USER', USAGE);
    if (rate === '') throw usageError('--rate needs a RATE', USAGE);
    const problem = rate === undefined ? undefined : rateProblem(rate);
    if (problem) throw new UsageError(`--rate: ${problem}`);
    return {
      verb,
      bridge: bridgeName(names[0]!),
      tap: tapName(names[1]!),
      ...(owner !== undefined ? { owner } : {}),
      ...(rate !== undefined ? { rate: parseRate(rate)! } : {}),
    };
  }
  if (verb === 'del' && names.length === 1 && owner === undefined && rate === undefined)
    return { verb, tap: tapName(names[0]!) };
  // the wrong verb, the wrong number of names, or --owner or --rate for del
  throw new UsageError(`usage: ${USAGE}`);
}

export async function run(command: TapCommand, { log }: Context): Promise<number> {
  if (command.verb === 'add')
    await tapAdd(command.bridge, command.tap, command.owner, { log, ...(command.rate ? { rate: command.rate } : {}) });
  else await tapDel(command.tap, { log });
  return 0;
}
