import { paths } from '../../paths.js';
import { eventsSocket } from '../../supervisor/events-socket.js';
import { bridgeName, expectPositionals, HELP, parseOptions, refuseUnknown, type Help } from '../command.js';
import { ask, notFollowing, refused } from '../events-client.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('reload');

export const help = commandHelp('reload');

export interface ReloadOptions {
  bridge: string;
}

export function parse(args: string[]): ReloadOptions | Help {
  const parsed = parseOptions(args, {}, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE']);
  return { bridge: bridgeName(bridge!) };
}

/** 0 once the new config is served, 2 when it was refused (the old one serves on), 1 otherwise. */
export async function run({ bridge }: ReloadOptions): Promise<number> {
  const unknown = refuseUnknown('reload', bridge);
  if (unknown !== undefined) return unknown;
  const reply = await ask(eventsSocket(paths(bridge)), 'reload');
  if (refused(reply)) {
    process.stderr.write(`brmgr reload: ${notFollowing(bridge, reply)}\n`);
    return 1;
  }
  if (reply.outcome === 'applied') return 0;
  const reason = typeof reply.reason === 'string' ? reply.reason : String(reply.error ?? 'no reason given');
  if (reply.outcome === 'refused') {
    process.stderr.write(
      `brmgr reload: ${bridge}: the new config was refused; the previous one keeps serving:\n${reason}\n`,
    );
    return 2;
  }
  process.stderr.write(`brmgr reload: ${bridge}: ${reason}\n`);
  return 1;
}
