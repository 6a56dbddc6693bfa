import { linkSync, lstatSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { alive } from './process.js';

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** The lock is another live brmgr's (as opposed to a lock that cannot be written at all). */
export class LockHeld extends Error {
  override name = 'LockHeld';
}

/**
 * Whether a live pid may be a brmgr program: one named so, or any Node.js process (brmgr run from a
 * folder of another name). A pid left in a lock by a killed brmgr can be reused by any other program.
 */
function mayBeBrmgr(pid: number): boolean {
  if (pid === process.pid) return true;
  const argv = (read(`/proc/${pid}/cmdline`) ?? '').split('\0');
  return argv.some((a) => a.includes('brmgr')) || /(^|\/)node[\d.]*$/.test(argv[0] ?? '');
}

/** Whether a lock's content names no live brmgr: its owner was killed. */
function isStale(held: string): boolean {
  const owner = Number(held.trim());
  return !Number.isInteger(owner) || owner <= 0 || !alive(owner) || !mayBeBrmgr(owner);
}

/**
 * Moves a file aside and removes it if it still holds `stale`, else puts it back. Only for the takeover's
 * own guard: between the move and the putting back another taker can find the place empty.
 */
function removeStale(path: string, stale: string): void {
  const aside = `${path}.stale.${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // another waiter moved it first
  }
  if (read(aside) !== stale) {
    try {
      linkSync(aside, path);
    } catch {
      /* taken again meanwhile */
    }
  }
  rmSync(aside, { force: true });
}

/**
 * Removes a lock left by a dead process, and only that one, even when several waiters find it at once: one
 * waiter at a time takes over, under a guard beside the lock (linked from `mine`, the waiter's pid), and
 * reads the lock again there. A waiter that read the stale lock before another took it over and took the
 * lock finds that one's pid, and leaves it. False: another live waiter is at it (wait, then look again).
 */
function takeOver(path: string, stale: string, mine: string): boolean {
  const guard = `${path}.takeover`;
  try {
    linkSync(mine, guard);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // another waiter is taking over; or one was killed at it, in the moment it holds the guard
    const held = read(guard);
    if (held === undefined || !isStale(held)) return held === undefined;
    removeStale(guard, held);
    return true;
  }
  const me = read(mine);
  try {
    // no one else can change the lock meanwhile: it is there (a taker's link fails) and its owner is dead
    if (read(path) === stale) rmSync(path, { force: true });
  } finally {
    if (read(guard) === me) rmSync(guard, { force: true });
  }
  return true;
}

/** What is at a path that cannot be read as a file, or undefined when nothing is there. */
function kindOf(path: string): string | undefined {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return 'symbolic link';
    if (st.isDirectory()) return 'directory';
    return st.isFile() ? 'file that cannot be read' : 'special file';
  } catch {
    return undefined;
  }
}

/**
 * A lock file holding the owner's pid: two holders never interleave; a lock
 * left by a killed process is taken over. `signal` gives up waiting.
 */
export async function acquireLock(path: string, timeoutMs = 30_000, signal?: AbortSignal): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  const me = `${process.pid}\n`;
  // the pid is written first and the lock appears with it (link), never empty
  const mine = `${path}.${process.pid}`;
  try {
    writeFileSync(mine, me, { mode: 0o600 });
  } catch (err) {
    rmSync(mine, { force: true });
    // a write error names no file: this one does
    throw Object.assign(err as Error, { path: mine, syscall: 'open' });
  }
  let unreadable = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      try {
        linkSync(mine, path);
        // released only while it is still ours
        return () => {
          if (read(path) === me) rmSync(path, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = read(path);
      if (held === undefined) {
        const kind = kindOf(path);
        // released between our attempts; or released and taken again between the read and the look
        // (several waiters at once): a file that stays unreadable is not a lock
        if (kind === undefined || (kind === 'file that cannot be read' && ++unreadable < 3)) continue;
        throw new Error(`${path} is a ${kind}, not a lock file: remove it`);
      }
      unreadable = 0;
      if (isStale(held) && takeOver(path, held, mine)) continue;
      if (Date.now() > deadline) throw new LockHeld(`another brmgr (pid ${Number(held.trim())}) holds ${path}`);
      await sleep(25, undefined, { signal });
    }
  } finally {
    rmSync(mine, { force: true });
  }
}
