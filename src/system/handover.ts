/**
 * What `brmgr run` needs when it runs as its own user (the systemd unit's User=) and only root can give
 * it: the folders and files brmgr keeps in root's folders, handed to that user before each start
 * (`brmgr grant`, the unit's privileged ExecStartPre). Everything else it does with its capabilities.
 */
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Paths } from '../paths.js';
import type { Account } from './dnsmasq-account.js';
import { xtablesLockPath } from './xtables.js';

/** The folders and files of `p` handed to `account`; the paths it changed, for the log. */
export function handOver(
  p: Paths,
  account: Pick<Account, 'uid' | 'gid'>,
  opts: { autoSubnet: boolean; legacy: boolean },
): string[] {
  const changed: string[] = [];
  const own = (path: string) => {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st || st.isSymbolicLink() || (st.uid === account.uid && st.gid === account.gid)) return;
    lchownSync(path, account.uid, account.gid);
    changed.push(path);
  };
  // the run root: the host-wide lock and ledgers are made and replaced there
  if (!existsSync(p.runRoot)) {
    mkdirSync(p.runRoot, { recursive: true, mode: 0o755 });
    chmodSync(p.runRoot, 0o755);
  }
  own(p.runRoot);
  for (const name of readdirSync(p.runRoot)) if (name.startsWith('.')) own(join(p.runRoot, name));
  // the bridge's run dir as a root-run brmgr-pre may have left it
  if (lstatSync(p.runDir, { throwIfNoEntry: false })?.isDirectory()) {
    own(p.runDir);
    for (const name of readdirSync(p.runDir)) own(join(p.runDir, name));
  }
  // dnsmasq opens the lease file, and pre writes the auto subnet, where only root creates files
  mkdirSync(dirname(p.leases), { recursive: true });
  giveFile(p.leases, account, 0o644, changed, true);
  if (opts.autoSubnet || existsSync(p.autoSubnet)) giveFile(p.autoSubnet, account, 0o644, changed, true);
  // iptables-legacy takes its lock before any change: readable by the account's group (a read-only
  // descriptor is enough for its flock), made as iptables makes it when missing
  if (opts.legacy) giveFile(xtablesLockPath(), account, 0o640, changed, false);
  return changed;
}

/**
 * Creates `file` when missing (never through a symbolic link) and gives it `mode` and the account's
 * group, and to the account itself when `user` (else its owner stays).
 */
function giveFile(file: string, account: Pick<Account, 'uid' | 'gid'>, mode: number, changed: string[], user: boolean) {
  const fd = openSync(file, constants.O_RDONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    const st = fstatSync(fd);
    const uid = user ? account.uid : st.uid;
    if (st.uid === uid && st.gid === account.gid && (st.mode & 0o777) === mode) return;
    fchownSync(fd, uid, account.gid);
    fchmodSync(fd, mode);
    changed.push(file);
  } finally {
    closeSync(fd);
  }
}
