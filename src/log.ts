import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * One JSON line per event on stdout; human-readable when stdout is a terminal.
 * pino-pretty runs in-process (not as a worker transport) to keep start-up short.
 */
export function logger(name: string): Logger {
  const opts = { name, base: undefined, level: process.env.BRMGR_LOG_LEVEL || 'info' };
  if (process.stdout.isTTY) return pino(opts, pretty({ sync: true, ignore: 'name', translateTime: 'HH:MM:ss' }));
  return pino(opts, pino.destination({ dest: 1, sync: true }));
}
export type { Logger };
