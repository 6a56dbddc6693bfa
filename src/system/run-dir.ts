/**
 * What the shell brmgr left in brmgr's run folder, made right before brmgr uses it (host/shell-run-dir.ts
 * says what is the shell brmgr's): its 0700 folder, and its copy of a bridge's config where brmgr keeps
 * the bridge's run dir.
 */
import { chmodSync, lstatSync, readFileSync, rmSync, statSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import { UsageError } from '../errors.js';
import { isShellConfigCopy, isShellDnsmasq, passableMode } from '../host/shell-run-dir.js';
import type { Logger } from '../log.js';
import type { Paths } from '../paths.js';
import { commandLines } from './process.js';

const octal = (mode: number) => (mode & 0o7777).toString(8);

function stat(path: string, link = false): Stats | undefined {
  try {
    return link ? lstatSync(path) : statSync(path);
  } catch {
    return undefined;
  }
}

/** Lets dnsmasq, once it runs as its own user, pass through a run folder of root's that it cannot (0700). */
export function openRunRoot(p: Paths, log: Logger): void {
  const st = stat(p.runRoot);
  if (!st?.isDirectory() || st.uid !== 0 || process.getuid?.() !== 0) return;
  const mode = passableMode(st.mode);
  if (mode === undefined) return;
  chmodSync(p.runRoot, mode);
  log.info(
    { event: 'run-dir-mode', path: p.runRoot, was: octal(st.mode), mode: octal(mode) },
    `${p.runRoot} was mode ${octal(st.mode)} (the shell brmgr's): made it ${octal(mode)}, so that dnsmasq, ` +
      'once it runs as its own user, reads its hosts files',
  );
}

/**
 * Removes the copy of the bridge's config that the shell brmgr left as the file RUN/BRIDGE, where brmgr
 * keeps the bridge's run dir. Refuses while the shell brmgr's dnsmasq still serves the bridge, and a
 * file that is not its copy.
 */
export function clearShellRunFile(p: Paths, log: Logger): void {
  if (!stat(p.runDir, true)?.isFile()) return;
  const bridge = basename(p.runDir);
  const shell = commandLines().find((c) => isShellDnsmasq(c.argv, bridge));
  if (shell) {
    throw new UsageError(
      `the shell brmgr still serves ${bridge}: its dnsmasq (pid ${shell.pid}) runs, and ${p.runDir} is its copy ` +
        `of the config; stop its service first (systemctl disable --now brmgr@${bridge}; runit: sv down ` +
        `brmgr-${bridge}; OpenRC: rc-service ${bridge} stop; Upstart: stop brmgr MATCH=/etc/brmgr/${bridge}.conf), ` +
        `or kill ${shell.pid}`,
    );
  }
  let text = '';
  try {
    text = readFileSync(p.runDir, 'utf8');
  } catch {
    /* named below */
  }
  if (!isShellConfigCopy(text, bridge)) {
    throw new UsageError(
      `${p.runDir} is a file where brmgr keeps ${bridge}'s run dir, and not the shell brmgr's copy of ` +
        `${bridge}'s config: move it away`,
    );
  }
  rmSync(p.runDir, { force: true });
  log.info(
    { event: 'shell-run-file', path: p.runDir },
    `removed ${p.runDir}, the shell brmgr's copy of ${bridge}'s config (no shell brmgr serves ${bridge}): ` +
      `brmgr keeps ${bridge}'s run dir there`,
  );
}
