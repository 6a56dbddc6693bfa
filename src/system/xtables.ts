import { closeSync, constants, existsSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

/**
 * iptables-legacy's tables in this network namespace (the kernel's x_tables,
 * which iptables-nft never creates): their rules apply beside nftables'
 * whatever brmgr accepts there. Read from /proc, no process spawned.
 */
export function legacyTables(family: 4 | 6): Set<string> {
  try {
    const text = readFileSync(`/proc/net/${family === 4 ? 'ip' : 'ip6'}_tables_names`, 'utf8');
    return new Set(text.split('\n').filter(Boolean));
  } catch {
    return new Set();
  }
}

/** Whether `iptables-save` on PATH is iptables-legacy itself (Debian's alternatives, older distributions). */
export function defaultIsLegacy(env: NodeJS.ProcessEnv = process.env): boolean {
  for (const dir of (env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    try {
      return realpathSync(join(dir, 'iptables-save')).includes('legacy');
    } catch {
      /* not in this folder */
    }
  }
  return false;
}

/** Whether an iptables-legacy is installed (beside iptables-nft or as the default). */
export function legacyInstalled(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .some((dir) => existsSync(join(dir, 'xtables-legacy-multi')));
}

/** The lock every iptables-legacy change takes (`XTABLES_LOCKFILE` moves it). */
export function xtablesLockPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.XTABLES_LOCKFILE || '/run/xtables.lock';
}

/** The lock, created as iptables creates it when missing, so that it can be watched before the first legacy command runs. */
export function xtablesLock(env: NodeJS.ProcessEnv = process.env): string {
  const path = xtablesLockPath(env);
  try {
    closeSync(openSync(path, constants.O_RDONLY | constants.O_CREAT, 0o600));
  } catch {
    /* inotifywait says so */
  }
  return path;
}
