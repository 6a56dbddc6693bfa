import { setTimeout as sleep } from 'node:timers/promises';
import { paths } from '../../paths.js';
import { eventsSocket } from '../../supervisor/events-socket.js';
import { alive } from '../../system/process.js';
import { bridgeName, expectPositionals, HELP, parseOptions, refuseUnknown, usageError, type Help } from '../command.js';
import { ask, refused } from '../events-client.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('wait');

export const help = commandHelp('wait');

export interface WaitOptions {
  bridge: string;
  /** the supervisor's pid: once it is gone, it never will serve */
  pid?: number;
  timeoutMs: number;
}

export function parse(args: string[]): WaitOptions | Help {
  const parsed = parseOptions(args, { pid: { type: 'string' }, timeout: { type: 'string' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE']);
  const number = (name: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text) || Number(text) === 0) throw usageError(`--${name} needs a positive whole number`, USAGE);
    return Number(text);
  };
  const pid = number('pid', parsed.values.pid);
  return {
    bridge: bridgeName(bridge!),
    ...(pid ? { pid } : {}),
    timeoutMs: (number('timeout', parsed.values.timeout) ?? 60) * 1000,
  };
}

/** 0 once brmgr run serves the bridge (dnsmasq answers this run's config), 1 when it exited or time ran out. */
export async function run({ bridge, pid, timeoutMs }: WaitOptions): Promise<number> {
  const unknown = refuseUnknown('wait', bridge);
  if (unknown !== undefined) return unknown;
  const path = eventsSocket(paths(bridge));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // a socket left by a supervisor killed with -9 refuses: the new one is still converging
    const reply = await ask(path, 'ready');
    if (!refused(reply) && reply.ready === true) return 0;
    if (pid !== undefined && !alive(pid)) {
      process.stderr.write(`brmgr wait: brmgr run ${bridge} (pid ${pid}) exited before it served\n`);
      return 1;
    }
    await sleep(50);
  }
  process.stderr.write(`brmgr wait: brmgr run ${bridge} does not serve after ${timeoutMs / 1000} s\n`);
  return 1;
}
