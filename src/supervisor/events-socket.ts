import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { Paths } from '../paths.js';

/** Where `brmgr run` publishes the bridge's lease events, one JSON object a line. */
export const eventsSocket = (p: Paths) => p.events;

/** A follower this far behind (bytes not yet taken) is dropped rather than buffered without end. */
const MAX_BACKLOG = 1 << 20;

/**
 * The unix socket `brmgr events` and `brmgr lookup --wait` connect to: each line published goes to
 * every follower connected at that moment. Only root may connect (mode 0600).
 */
export class EventsServer {
  private readonly followers = new Set<Socket>();
  private server: Server | undefined;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  async listen(): Promise<void> {
    // left by a supervisor killed with -9; the supervisor lock says none runs now
    rmSync(this.path, { force: true });
    const server = createServer((socket) => {
      this.followers.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => this.followers.delete(socket));
      // followers only read
      socket.on('data', () => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o600);
    this.server = server;
  }

  publish(event: object): void {
    const line = `${JSON.stringify(event)}\n`;
    for (const socket of this.followers) {
      if (socket.writableLength > MAX_BACKLOG) {
        this.log.warn({ event: 'events' }, 'a follower of the lease events stopped reading; disconnecting it');
        socket.destroy();
        continue;
      }
      socket.write(line);
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.followers) socket.end();
    // a follower that does not read its end is not waited for
    setTimeout(() => {
      for (const socket of this.followers) socket.destroy();
    }, 500).unref();
    await closed;
    rmSync(this.path, { force: true });
  }
}
