/**
 * A test hook: with BRMGR_FAULT=kill:N (or fail:N), the Nth fault point of this process kills it with
 * SIGKILL (or throws), so that tests can stop pre and post after each recorded step in turn, not at
 * random. Without the variable a fault point does nothing.
 */
let reached = 0;

export function faultPoint(where: string, env: NodeJS.ProcessEnv = process.env): void {
  const m = /^(kill|fail):(\d+)$/.exec(env.BRMGR_FAULT ?? '');
  if (!m) return;
  reached++;
  if (reached !== Number(m[2])) return;
  if (m[1] === 'kill') process.kill(process.pid, 'SIGKILL');
  throw new Error(`injected fault ${reached} (${where})`);
}
