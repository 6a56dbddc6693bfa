import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { alive } from './process.js';

/**
 * A lock file holding the owner's pid: two holders never interleave; a lock
 * left by a killed process is taken over.
 */
export async function acquireLock(path: string, timeoutMs = 30_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  // the pid is written first and the lock appears with it (link), never empty
  const mine = `${path}.${process.pid}`;
  writeFileSync(mine, `${process.pid}\n`, { mode: 0o600 });
  for (;;) {
    try {
      linkSync(mine, path);
      rmSync(mine, { force: true });
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        rmSync(mine, { force: true });
        throw err;
      }
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(path, 'utf8').trim());
    } catch {
      continue; // released between our attempts
    }
    if (!Number.isInteger(owner) || owner <= 0 || !alive(owner)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      rmSync(mine, { force: true });
      throw new Error(`another brmgr (pid ${owner}) holds ${path}`);
    }
    await sleep(25);
  }
}
