import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether a process runs: a zombie (killed, not yet reaped by its parent) does not. */
/** brmgr runs as root (runit, OpenRC, by hand), not as its own user (the systemd unit's). */
export const runsAsRoot = (): boolean => (process.getuid?.() ?? 0) === 0;

export function alive(pid: number | undefined): boolean {
  if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    // another user's process is hidden from a sandboxed root (the unit's ProtectProc=invisible): ask the kernel
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
}

/**
 * The live process a pid file names, if its command line holds `marker` (a pid can be reused by any
 * process): a dnsmasq whose supervisor was killed.
 */
export function pidFromFile(pidFile: string, marker: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!pid || !alive(pid) || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) return undefined;
    return pid;
  } catch {
    return undefined;
  }
}

/** The command line of every process this one may read (a zombie's is empty). */
export function commandLines(): { pid: number; argv: string[] }[] {
  const out: { pid: number; argv: string[] }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv.at(-1) === '') argv.pop();
      if (argv.length) out.push({ pid: Number(name), argv });
    } catch {
      /* gone meanwhile, or hidden */
    }
  }
  return out;
}

/** SIGTERM, then SIGKILL after 2 s; resolves once the process is gone. */
export async function stopProcess(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 40 && alive(pid); i++) await sleep(50);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 40 && alive(pid); i++) await sleep(25);
}
