import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { Paths } from '../paths.js';

/** Where `brmgr run` publishes the bridge's lease events, one JSON object a line. */
export const eventsSocket = (p: Paths) => p.events;

/** A follower this far behind (bytes not yet taken) is dropped rather than buffered without end. */
const MAX_BACKLOG = 1 << 20;

/** What a client may ask of the supervisor, one JSON line: `{"request":"reload"}`. */
export type Request = 'reload' | 'ready';
export type ReloadOutcome = { outcome: 'applied' } | { outcome: 'refused' | 'failed'; reason: string };
/** Answers a request; the reply goes back to the one client that asked, one JSON line. */
export type Answer = (request: Request) => Promise<object>;

/**
 * The unix socket `brmgr events`, `lookup --wait`, `reload` and `wait` connect to: each line published goes
 * to every follower connected at that moment; a request line is answered to its sender alone. Only root
 * may connect (mode 0600). It listens once the bridge is converged: a client that connects is served.
 */
export class EventsServer {
  private readonly followers = new Set<Socket>();
  private server: Server | undefined;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    private readonly answer: Answer = async () => ({ error: 'no requests here' }),
  ) {}

  async listen(): Promise<void> {
    // left by a supervisor killed with -9; the supervisor lock says none runs now
    rmSync(this.path, { force: true });
    const server = createServer((socket) => {
      this.followers.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => this.followers.delete(socket));
      let pending = '';
      socket.on('data', (chunk) => {
        pending += chunk.toString();
        if (pending.length > 4096) return void socket.destroy();
        let nl = pending.indexOf('\n');
        while (nl >= 0) {
          this.request(socket, pending.slice(0, nl));
          pending = pending.slice(nl + 1);
          nl = pending.indexOf('\n');
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o600);
    this.server = server;
  }

  private request(socket: Socket, line: string): void {
    let request: unknown;
    try {
      request = (JSON.parse(line) as { request?: unknown }).request;
    } catch {
      request = undefined;
    }
    const reply = (r: object) => socket.writable && socket.write(`${JSON.stringify({ reply: request, ...r })}\n`);
    if (request !== 'reload' && request !== 'ready')
      return void reply({ error: `unknown request: ${line.slice(0, 80)}` });
    this.answer(request).then(reply, (err: Error) => reply({ outcome: 'failed', reason: err.message }));
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
