import { fstatSync } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';

/** syslog priorities by pino level: err 3, warning 4, info 6, debug 7 */
const PRIORITY: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };

const fieldValue = (v: unknown) =>
  typeof v === 'string' ? (/^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)) : JSON.stringify(v);

/**
 * One pino JSON line as the journal reads it: `<PRIORITY>` (sd-daemon(3)'s prefix, which journald turns into
 * the entry's priority), the message in words, then its fields as key=value.
 */
export function journalLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, time: _time, name: _name, msg, ...fields } = entry;
  const priority = PRIORITY[level as number] ?? 6;
  const rest = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${fieldValue(v)}`);
  return `<${priority}>${[msg ?? '', ...rest].join(' ').replaceAll('\n', ' ')}\n`;
}

/** Whether stdout is the journal's stream (systemd sets JOURNAL_STREAM to its device:inode). */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const stream = env.JOURNAL_STREAM;
  if (!stream) return false;
  try {
    const st = fstatSync(1);
    return stream === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** Whether stderr is the journal's stream too (a unit's StandardError=inherit): a line then carries its priority. */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const stream = env.JOURNAL_STREAM;
  if (!stream) return false;
  try {
    const st = fstatSync(2);
    return stream === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** Whether stdout (the log) and stderr reach the same place (a terminal, the journal, one file): what is said on one is read on the other. */
export function sameDestination(): boolean {
  try {
    const out = fstatSync(1);
    const err = fstatSync(2);
    return out.dev === err.dev && out.ino === err.ino;
  } catch {
    return false;
  }
}

/**
 * One JSON line per event on stdout; human-readable when stdout is a terminal; lines carrying their
 * syslog priority when it is the journal, so `journalctl -p warning` shows the warnings.
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
  const out = pino.destination({ dest: 1, sync: !opts.lasting });
  if (!stdoutIsJournal()) return pino(options, out);
  const journal: DestinationStream = { write: (line: string) => out.write(journalLine(line)) };
  // pino flushes its own destination at exit; this one it does not know
  if (opts.lasting)
    process.on('exit', () => {
      try {
        out.flushSync();
      } catch {
        /* nothing buffered, or stdout gone */
      }
    });
  return pino(options, journal);
}
export type { Logger };
