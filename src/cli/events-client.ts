import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { LeaseEvent } from '../dnsmasq/lease-events.js';
import type { BindingEvent } from '../plan/bindings.js';

export type Connected = { socket: Socket } | { error: string; code?: string };

const isBinding = (e: { event?: unknown }): boolean => e.event === 'bind' || e.event === 'unbind';

/**
 * Connects to a running supervisor's events socket; each lease event goes to `onEvent`, each port binding
 * to `onBinding` (left out without it: a lease's reader never sees one).
 */
export function followEvents(
  path: string,
  onEvent: (e: LeaseEvent) => void,
  onBinding?: (e: BindingEvent) => void,
): Promise<Connected> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.message, code: err.code ?? '' }));
    socket.once('connect', () => {
      createInterface({ input: socket }).on('line', (line) => {
        try {
          const e = JSON.parse(line) as LeaseEvent | BindingEvent;
          if (!isBinding(e)) onEvent(e as LeaseEvent);
          else onBinding?.(e as BindingEvent);
        } catch {
          /* a line from a newer brmgr this one cannot read */
        }
      });
      resolve({ socket });
    });
  });
}

/** What a failed connection means to the user. */
export function notFollowing(bridge: string, c: { error: string; code?: string }): string {
  if (c.code === 'ENOENT' || c.code === 'ECONNREFUSED') return `brmgr run ${bridge} is not running`;
  if (c.code === 'EACCES') return `cannot follow ${bridge}'s events: permission denied (root only)`;
  return `cannot follow ${bridge}'s events: ${c.error}`;
}

/** Asks the running supervisor one thing and resolves with its reply (one JSON line), or why it could not. */
export function ask(path: string, request: 'reload' | 'ready'): Promise<Record<string, unknown> | Refused> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.message, code: err.code ?? '' }));
    socket.once('connect', () => {
      socket.write(`${JSON.stringify({ request })}\n`);
      const lines = createInterface({ input: socket });
      lines.on('line', (line) => {
        let reply: Record<string, unknown>;
        try {
          reply = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        // lease events published meanwhile are not the reply
        if (reply.reply !== request) return;
        resolve(reply);
        socket.destroy();
      });
      socket.once('close', () => resolve({ error: 'brmgr run stopped before it answered', code: 'ECLOSED' }));
    });
  });
}

export type Refused = { error: string; code?: string };
export const refused = (r: object): r is Refused => 'error' in r;
