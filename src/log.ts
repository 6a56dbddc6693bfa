import { pino, type Logger } from 'pino';

/**
 * One JSON line per event on stdout; human-readable when stdout is a terminal.
 * pino-pretty runs in-process (not as a worker transport) to keep start-up short,
 * and is loaded only for a terminal: services and scripts never pay for it.
 * `lasting` (brmgr run): writes leave the event loop, so a slow reader of the log (a
 * busy journal) never stalls the supervisor, nor through it dnsmasq's own log pipe;
 * lines written meanwhile go out together. Whatever is left is written at exit.
 */
export async function logger(name: string, opts: { lasting?: boolean } = {}): Promise<Logger> {
  const level = process.env.BRMGR_LOG_LEVEL || 'info';
  const options = { name, base: undefined, level };
  if (process.stdout.isTTY) {
    const { default: pretty } = await import('pino-pretty');
    return pino(options, pretty({ sync: true, ignore: 'name', translateTime: 'HH:MM:ss' }));
  }
  return pino(options, pino.destination({ dest: 1, sync: !opts.lasting }));
}
export type { Logger };
