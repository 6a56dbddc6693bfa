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

/** The account named `name` (a user name or uid) from /etc/passwd, its group from /etc/group. */
export function account(name: string | number): Account | undefined {
  const entry = table('/etc/passwd').find((p) => (typeof name === 'number' ? Number(p[2]) === name : p[0] === name));
  if (!entry || entry.length < 4) return undefined;
  const gid = Number(entry[3]);
  return {
    user: entry[0]!,
    uid: Number(entry[2]),
    group: table('/etc/group').find((g) => Number(g[2]) === gid)?.[0] ?? String(gid),
    gid,
  };
}

/**
 * The unprivileged account dnsmasq serves as. Under root it drops to Debian's `dnsmasq` user when it
 * exists, else `nobody`; its group gets read access to the run dir, because dnsmasq re-reads its hosts
 * files on SIGHUP without root. Started by brmgr running as its own user (the unit's User=), it stays
 * that user: only root changes users.
 */
export function dnsmasqAccount(): Account {
  const self = process.getuid?.() ?? 0;
  if (self !== 0)
    return (
      account(self) ?? {
        user: String(self),
        uid: self,
        group: String(process.getgid?.()),
        gid: process.getgid?.() ?? self,
      }
    );
  return account('dnsmasq') ?? account('nobody') ?? { user: 'nobody', uid: 65534, group: 'nogroup', gid: 65534 };
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
