import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface Account {
  user: string;
  uid: number;
  group: string;
  gid: number;
}

function table(file: string): string[][] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.split(':'));
  } catch {
    return [];
  }
}

/**
 * The unprivileged account dnsmasq drops to after start: Debian's `dnsmasq`
 * user when it exists, else `nobody`. Its group gets read access to the run
 * dir, because dnsmasq re-reads its hosts files on SIGHUP without root.
 */
export function dnsmasqAccount(): Account {
  const passwd = table('/etc/passwd');
  const entry = passwd.find((p) => p[0] === 'dnsmasq') ?? passwd.find((p) => p[0] === 'nobody');
  const uid = Number(entry?.[2] ?? 65534);
  const gid = Number(entry?.[3] ?? 65534);
  const group = table('/etc/group').find((g) => Number(g[2]) === gid)?.[0] ?? 'nogroup';
  return { user: entry?.[0] ?? 'nobody', uid, group, gid };
}

/**
 * The first folder above `dir` that the account may not pass through, if any:
 * then dnsmasq, without root, cannot read the hosts files in `dir`.
 */
export function closedAncestor(dir: string, account: Pick<Account, 'uid' | 'gid'>): string | undefined {
  for (let d = dirname(resolve(dir)); ; d = dirname(d)) {
    const { uid, gid, mode } = statSync(d);
    const search = uid === account.uid ? mode & 0o100 : gid === account.gid ? mode & 0o010 : mode & 0o001;
    if (!search) return d;
    if (d === dirname(d)) return undefined;
  }
}

/** Why the account cannot open files in `dir`, if it cannot: a folder on the way, or `dir` itself, is closed to it. */
export function cannotEnter(dir: string, account: Pick<Account, 'uid' | 'gid'>): string | undefined {
  const closed = closedAncestor(dir, account);
  if (closed) return `cannot pass through ${closed}`;
  const { uid, gid, mode } = statSync(dir);
  const search = uid === account.uid ? mode & 0o100 : gid === account.gid ? mode & 0o010 : mode & 0o001;
  return search ? undefined : `cannot enter ${dir} (mode ${(mode & 0o777).toString(8)})`;
}
