import { readFileSync } from 'node:fs';

/** Whether a process runs: a zombie (killed, not yet reaped by its parent) does not. */
export function alive(pid: number | undefined): boolean {
  if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
