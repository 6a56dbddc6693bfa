import { setTimeout as sleep } from 'node:timers/promises';
import { formatLeaseEvent } from '../../dnsmasq/lease-events.js';
import { paths } from '../../paths.js';
import { type BindingEvent, formatBindingEvent } from '../../plan/bindings.js';
import { eventsSocket } from '../../supervisor/events-socket.js';
import { bridgeName, expectPositionals, HELP, parseOptions, refuseUnknown, type Help } from '../command.js';
import { followEvents, notFollowing } from '../events-client.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('events');

export const help = commandHelp('events');

export interface EventsOptions {
  bridge: string;
  json: boolean;
}

export function parse(args: string[]): EventsOptions | Help {
  const parsed = parseOptions(args, { json: { type: 'boolean' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE']);
  return { bridge: bridgeName(bridge!), json: parsed.values.json === true };
}

export async function run({ bridge, json }: EventsOptions): Promise<number> {
  const unknown = refuseUnknown('events', bridge);
  if (unknown !== undefined) return unknown;
  const path = eventsSocket(paths(bridge));
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop());
  let interrupted = false;
  void stopped.then(() => (interrupted = true));

  const print = (e: Parameters<typeof formatLeaseEvent>[0]) =>
    process.stdout.write(`${json ? JSON.stringify(e) : formatLeaseEvent(e)}\n`);
  const printBinding = (e: BindingEvent) =>
    process.stdout.write(`${json ? JSON.stringify(e) : formatBindingEvent(e)}\n`);
  let first = true;
  while (!interrupted) {
    const c = await followEvents(path, print, printBinding);
    if (!('socket' in c)) {
      if (first) {
        process.stderr.write(`brmgr events: ${notFollowing(bridge, c)}\n`);
        return 1;
      }
      // brmgr run is restarting (a service manager's restart)
      await Promise.race([sleep(250), stopped]);
      continue;
    }
    process.stderr.write(`brmgr events: ${first ? 'following' : 'following again'} ${bridge}\n`);
    first = false;
    const closed = new Promise<void>((resolve) => c.socket.once('close', () => resolve()));
    await Promise.race([closed, stopped]);
    c.socket.destroy();
    if (!interrupted)
      process.stderr.write(`brmgr events: brmgr run ${bridge} stopped; waiting for it to start again\n`);
  }
  return 0;
}
