import { readFileSync } from 'node:fs';

export interface Account {
  user: string;
  group: string;
  gid: number;
}

function table(file: string): string[][] {
  try {
    return readFileSync(file, 'utf8').split('\n').map((l) => l.split(':'));
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
  const gid = Number(entry?.[3] ?? 65534);
  const group = table('/etc/group').find((g) => Number(g[2]) === gid)?.[0] ?? 'nogroup';
  return { user: entry?.[0] ?? 'nobody', group, gid };
}
