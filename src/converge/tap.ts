import { existsSync } from 'node:fs';
import type { Logger } from '../log.js';
import { UsageError } from '../errors.js';
import { paths } from '../paths.js';
import { MAX_UID, NUMERIC_UID, checkNames, parseTapViews, planTapAdd, planTapDel, type TapView } from '../plan/tap.js';
import { must, runner, type Run } from '../system/exec.js';
import { acquireLock } from '../system/lock.js';
import { applyIpBatch } from '../system/observe.js';
import { readState } from '../system/state.js';
import { readSysctl, writeSysctl } from '../system/sysctl.js';
import { formatRate } from '../config/values.js';
import { Reverter } from './reverter.js';
import { shapePort } from './shaping.js';

/** A user name or number as a uid; undefined when there is no such user. */
export async function resolveUser(run: Run, user: string | number): Promise<number | undefined> {
  if (typeof user === 'number') return user;
  if (NUMERIC_UID.test(user)) return Number(user) <= MAX_UID ? Number(user) : undefined;
  const r = await run('getent', ['passwd', user]);
  if (r.missing) throw new Error('getent: command not found (package libc-bin)');
  if (!r.ok) return undefined;
  const uid = Number(r.stdout.split(':')[2]);
  return Number.isInteger(uid) ? uid : undefined;
}

async function links(run: Run): Promise<TapView[]> {
  return parseTapViews(must(await run('ip', ['-d', '-json', 'link', 'show']), 'ip').stdout);
}

export interface TapOptions {
  env?: NodeJS.ProcessEnv;
  run?: Run;
  log: Logger;
  /** add: the tap's own rate limit, bits per second each way */
  rate?: number;
}

/** brmgr tap add: a persistent tap owned by `owner`, a port of brmgr's bridge. Idempotent. */
export async function tapAdd(bridge: string, tap: string, owner: string | undefined, opts: TapOptions): Promise<void> {
  checkNames(bridge, tap);
  const run = opts.run ?? runner();
  const log = opts.log.child({ bridge, tap });
  const uid = owner === undefined ? undefined : await resolveUser(run, owner);
  if (owner !== undefined && uid === undefined) throw new UsageError(`no such user '${owner}'`);
  const p = paths(bridge, opts.env ?? process.env);
  if (!existsSync(p.runDir))
    throw new UsageError(
      `${bridge} is not up as a brmgr bridge: start it first (brmgr run ${bridge} or brmgr up ${bridge})`,
    );
  const release = await acquireLock(p.lock);
  try {
    const seen = await links(run);
    const existing = seen.find((l) => l.ifname === tap);
    const ownerOfExisting = existing?.user !== undefined ? await resolveUser(run, existing.user) : undefined;
    const plan = planTapAdd(bridge, tap, uid, seen, readState(p)?.up === true, ownerOfExisting, opts.rate);
    const revert = new Reverter();
    // the tap, then the ifb that shaped it
    if (plan.creates)
      revert.add('tap', async () => {
        await run('ip', ['link', 'del', 'dev', tap]);
        await shapePort(run, bridge, tap, undefined);
      });
    try {
      await applyIpBatch(run, plan.create);
      // before it comes up (a kernel without IPv6 has no such settings)
      for (const [key, value] of Object.entries(plan.sysctls))
        if (readSysctl(key) !== undefined && readSysctl(key) !== value) writeSysctl(key, value);
      await applyIpBatch(run, plan.rate);
      // shaped before it joins the bridge: a guest never sends through it unlimited, and `brmgr run` finds
      // it as it leaves it (the same plan, nothing to race for); a tap already in place keeps what `brmgr
      // run` gave it (its guest's [host.*] rates) unless its own rate changes
      if (plan.create.length || plan.rate.length || plan.attach.length) await shapePort(run, bridge, tap, undefined);
      await applyIpBatch(run, plan.attach);
    } catch (err) {
      await revert.fail();
      throw err;
    }
    revert.success();
    const rate = opts.rate !== undefined ? `, ${formatRate(opts.rate)} each way` : '';
    if (!plan.create.length && !plan.attach.length && !plan.rate.length) {
      log.info(`${tap} is already a tap on ${bridge}${uid !== undefined ? ` owned by ${owner}` : ''}${rate}`);
      return;
    }
    log.info(
      `${plan.creates ? 'created' : 'attached'} tap ${tap} on ${bridge}` +
        `${uid !== undefined ? `, owned by ${owner}` : ''}${rate}`,
    );
  } finally {
    release();
  }
}

/** brmgr tap del: deletes a persistent tap (only a tap). Succeeds when there is none. */
export async function tapDel(tap: string, opts: TapOptions): Promise<void> {
  const run = opts.run ?? runner();
  const log = opts.log.child({ tap });
  const batch = planTapDel(tap, await links(run));
  if (!batch.length) {
    log.info(`there is no ${tap}; nothing to delete`);
    return;
  }
  await applyIpBatch(run, batch);
  // the ifb that shaped what its guest sent (the tap's own qdiscs went with it)
  await shapePort(run, '', tap, undefined);
  log.info(`deleted tap ${tap}`);
}
