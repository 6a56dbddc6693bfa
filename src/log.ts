import { pino, type Logger } from 'pino';

/**
 * One JSON line per event on stdout; human-readable when stdout is a terminal.
 * pino-pretty runs in-process (not as a worker transport) to keep start-up short,
 * and is loaded only for a terminal: services and scripts never pay for it.
 */
export async function logger(name: string): Promise<Logger> {
  const opts = { name, base: undefined, level: process.env.BRMGR_LOG_LEVEL || 'info' };
  if (process.stdout.isTTY) {
    const { default: pretty } = await import('pino-pretty');
    return pino(opts, pretty({ sync: true, ignore: 'name', translateTime: 'HH:MM:ss' }));
  }
  return pino(opts, pino.destination({ dest: 1, sync: true }));
}
export type { Logger };
