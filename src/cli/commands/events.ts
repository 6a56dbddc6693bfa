import { setTimeout as sleep } from 'node:timers/promises';
import { formatLeaseEvent } from '../../dnsmasq/lease-events.js';
import { paths } from '../../paths.js';
import { eventsSocket } from '../../supervisor/events-socket.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Help } from '../command.js';
import { followEvents, notFollowing } from '../events-client.js';

const USAGE = 'brmgr events BRIDGE [--json]';

export const help = `Usage: ${USAGE}

Follow the bridge's DHCP lease events as they happen, one a line, until
interrupted:

  2026-11-27T16:00:00Z add 52:54:00:00:00:10 10.0.1.10 web

EVENT is add (a new lease), old (a lease renewed or changed), or del
(released, declined, expired, or replaced by another address), as dnsmasq's
dhcp-script names them. Needs brmgr run BRIDGE running (exit 1 when it is
not); when it stops, waits for it to start again. Events from before the
start are not shown: brmgr leases BRIDGE lists the current leases.

Options:
  --json       one JSON object a line: time, event, mac, ip, hostname, reason, expires
  -h, --help   this help
`;

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
  const path = eventsSocket(paths(bridge));
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop());
  let interrupted = false;
  void stopped.then(() => (interrupted = true));

  const print = (e: Parameters<typeof formatLeaseEvent>[0]) =>
    process.stdout.write(`${json ? JSON.stringify(e) : formatLeaseEvent(e)}\n`);
  let first = true;
  while (!interrupted) {
    const c = await followEvents(path, print);
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
