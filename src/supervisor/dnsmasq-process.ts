import { rmSync, writeFileSync } from 'node:fs';
import { parseDnsmasqLine, type DnsmasqEvent } from '../dnsmasq/log.js';
import { dnsmasqFiles } from '../dnsmasq/render.js';
import type { Logger } from '../log.js';
import type { Paths } from '../paths.js';
import { spawnProcess, type Exit } from '../system/exec.js';

const STOP_TIMEOUT_MS = 5_000;
const UNHEARD = /^dnsmasq-dhcp\[\d+\]: DHCP(?:DISCOVER|OFFER|SOLICIT|ADVERTISE)\(/;

export interface DnsmasqExit extends Exit {
  /** it had logged "started, version": a death before that is a start failure */
  wasReady: boolean;
  /** its last error line, the reason of a start failure */
  lastError?: string;
}

/** One dnsmasq process, in the foreground, its log going to ours. */
export interface Dnsmasq {
  readonly pid: number | undefined;
  readonly startedAt: number;
  /** resolves once dnsmasq serves, or has exited */
  readonly ready: Promise<void>;
  readonly exited: Promise<DnsmasqExit>;
  /** re-read the hosts files */
  hup(): void;
  /** it has said it serves */
  readonly isReady: boolean;
  /** SIGTERM (SIGKILL after 5 s), or SIGKILL at once; resolves once it has exited */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

/**
 * `onLine`: each line of dnsmasq's log, parsed (the lease events come from its DHCP lines); it returns
 * what the line meant for the leases, logged with it.
 */
export function startDnsmasq(
  files: { conf: string; log: string },
  log: Logger,
  onLine?: (ev: DnsmasqEvent) => string | undefined,
): Dnsmasq {
  const { conf, log: logFifo } = files;
  const startedAt = Date.now();
  let wasReady = false;
  let lastError: string | undefined;
  // before it serves, whatever dnsmasq said last is the reason it stopped, whatever its level
  let lastLine: string | undefined;
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));
  // a guest's DISCOVER and the OFFER it is made are logged at debug, and are most of the log under load:
  // with debug off they are not even parsed (a REQUEST still is: it tells an ACK that grants a lease from
  // one answering an INFORM)
  const quiet = !log.isLevelEnabled('debug');
  const child = spawnProcess('dnsmasq', ['--keep-in-foreground', `--conf-file=${conf}`], 'stderr', onStderr, {
    // its log is read as it comes; a stopped supervisor must not stop it
    neverBlocks: logFifo,
  });
  function onStderr(line: string): void {
    if (quiet && wasReady && UNHEARD.test(line) && !line.endsWith('no address available')) return;
    const parsed = parseDnsmasqLine(line);
    const { level, msg, ...fields } = parsed;
    if (level === 'error') lastError = msg;
    if (!wasReady && msg) lastLine = msg;
    // what the line meant for the leases (add, old, del) goes on the line itself: one line per lease
    const lease = onLine?.(parsed);
    log[level]({ ...fields, ...(lease ? { lease } : {}), dnsmasq: true }, msg);
    if (!wasReady && /^started, version/.test(msg)) {
      wasReady = true;
      log.info({ event: 'ready', pid: child.pid, ms: Date.now() - startedAt }, 'dnsmasq is serving');
      resolveReady();
    }
  }
  log.info({ event: 'start', pid: child.pid }, 'starting dnsmasq');
  const exited = child.exited.then((exit) => {
    resolveReady();
    const reason = lastError ?? (wasReady ? undefined : lastLine);
    return { ...exit, wasReady, ...(reason !== undefined ? { lastError: reason } : {}) };
  });
  return {
    pid: child.pid,
    startedAt,
    ready,
    exited,
    get isReady() {
      return wasReady;
    },
    hup: () => child.kill('SIGHUP'),
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** dnsmasq's own verdict on a config before it replaces a running one: undefined when fine, else its error. */
export async function dnsmasqRefuses(conf: string, p: Paths): Promise<string | undefined> {
  const { trial } = dnsmasqFiles(p);
  writeFileSync(trial, conf, { mode: 0o644 });
  try {
    const lines: string[] = [];
    const test = spawnProcess('dnsmasq', ['--test', `--conf-file=${trial}`], 'stderr', (line) => {
      if (line.trim()) lines.push(line.trim());
    });
    const exit = await test.exited;
    if (exit.exitCode === 0) return undefined;
    return lines.at(-1) ?? `dnsmasq --test exited ${exit.exitCode}`;
  } finally {
    rmSync(trial, { force: true });
  }
}
