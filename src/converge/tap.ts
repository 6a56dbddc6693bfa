import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Logger } from '../log.js';
import { UsageError } from '../errors.js';
import { paths } from '../paths.js';
import { MAX_UID, NUMERIC_UID, checkNames, parseTapViews, planTapAdd, planTapDel, type TapView } from '../plan/tap.js';
import { must, runner, type Run } from '../system/exec.js';
import { acquireLock } from '../system/lock.js';
import { planMacvtapAdd, planMacvtapDel } from '../plan/macvtap.js';
import { ensureTapNode, readMacvtaps, removeTapNode, tapNodeOf, writeMacvtaps } from '../system/macvtap.js';
import { applyIpBatch, observe } from '../system/observe.js';
import { markShaped } from '../system/run-files.js';
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
  /** a macvtap network's device: its MAC (default: the kernel's choice) */
  mac?: string;
  /** add: the tap's own rate limit, bits per second each way */
  rate?: number;
}

/**
 * brmgr tap add: a persistent tap owned by `owner`, a port of brmgr's bridge; on a macvtap network, a
 * macvtap on its uplink whose character device `owner` may open (its path is returned). Idempotent.
 */
export async function tapAdd(
  bridge: string,
  tap: string,
  owner: string | undefined,
  opts: TapOptions,
): Promise<string | undefined> {
  checkNames(bridge, tap);
  const run = opts.run ?? runner();
  const log = opts.log.child({ bridge, tap });
  const uid = owner === undefined ? undefined : await resolveUser(run, owner);
  if (owner !== undefined && uid === undefined) throw new UsageError(`no such user '${owner}'`);
  // a bare number is taken as is (a container's mapped uid has no account here), but said when no account has it
  if (owner !== undefined && NUMERIC_UID.test(owner) && !(await run('getent', ['passwd', owner])).ok)
    log.warn(
      { event: 'owner', uid },
      `no user has uid ${owner} on this host: the tap is owned by that number alone (a user namespace's mapped ` +
        `uid?); give a user name to be sure`,
    );
  const p = paths(bridge, opts.env ?? process.env);
  if (!existsSync(p.runDir))
    throw new UsageError(
      `${bridge} is not up as a brmgr bridge: start it first (brmgr run ${bridge} or brmgr up ${bridge})`,
    );
  const release = await acquireLock(p.lock);
  try {
    const macvtap = readState(p)?.macvtap;
    if (macvtap && opts.rate !== undefined)
      throw new UsageError('--rate is for taps on a bridge: a macvtap network does not shape its guests yet');
    if (macvtap)
      return await macvtapAdd(bridge, tap, macvtap.uplink, { uid, owner, run, log, runDir: p.runDir, mac: opts.mac });
    if (opts.mac) throw new UsageError(`--mac is for macvtap networks; a tap's MAC is its VMM's to choose`);
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
      // `brmgr run` looks at the ports' shaping only where brmgr may have shaped one
      if (opts.rate !== undefined) markShaped(p);
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
    return undefined;
  } finally {
    release();
  }
}

/** A macvtap (mode bridge) on the network's uplink, its character device `uid`'s alone; returns the device's path. */
async function macvtapAdd(
  network: string,
  tap: string,
  uplink: string,
  o: { uid?: number; owner?: string; run: Run; log: Logger; runDir: string; mac?: string },
): Promise<string> {
  const { run, log } = o;
  const plan = planMacvtapAdd(network, uplink, tap, o.mac, await observe(run));
  const revert = new Reverter();
  if (plan.creates) revert.add('macvtap', () => run('ip', ['link', 'del', 'dev', tap]).then(() => undefined));
  try {
    await applyIpBatch(run, plan.create);
    // before it comes up: while no guest holds it open, what it receives is the host's
    for (const [key, value] of Object.entries(plan.sysctls))
      if (readSysctl(key) !== undefined && readSysctl(key) !== value) writeSysctl(key, value);
    await applyIpBatch(run, plan.up);
    const node = tapNodeOf(tap);
    if (!node) throw new Error(`${tap} has no character device in /sys/class/net/${tap}/macvtap`);
    await ensureTapNode(run, node, o.uid ?? 0, 0o600);
    const mac = readFileSync(`/sys/class/net/${tap}/address`, 'utf8').trim();
    writeMacvtaps(o.runDir, { ...readMacvtaps(o.runDir), [tap]: mac });
    revert.success();
    // the path alone on stdout is what a script takes (`dev=$(brmgr tap add …)`)
    log.debug(
      `${plan.creates ? 'created' : 'kept'} macvtap ${tap} (${mac}) on ${uplink}: ${node.path}` +
        `${o.uid !== undefined ? `, owned by ${o.owner}` : ''}`,
    );
    return node.path;
  } catch (err) {
    await revert.fail();
    throw err;
  }
}

/** The macvtap network `tap` belongs to: brmgr made it, or it is on a macvtap network's uplink. */
function macvtapNetwork(tap: string, parent: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const root = paths('x', env).runRoot;
  let networks: string[] = [];
  try {
    networks = readdirSync(root);
  } catch {
    return undefined;
  }
  return networks.find((n) => {
    const p = paths(n, env);
    return tap in readMacvtaps(p.runDir) || (parent !== undefined && readState(p)?.macvtap?.uplink === parent);
  });
}

/** brmgr tap del: deletes a persistent tap (only a tap), or a macvtap network's macvtap. Succeeds when there is none. */
export async function tapDel(tap: string, opts: TapOptions): Promise<void> {
  const run = opts.run ?? runner();
  const log = opts.log.child({ tap });
  const env = opts.env ?? process.env;
  const observed = await observe(run);
  const have = observed.links.find((l) => l.ifname === tap);
  if (have?.kind === 'macvtap') {
    const network = macvtapNetwork(tap, have.macvlan?.parent, env);
    if (!network) throw new UsageError(`${tap} is a macvtap of no brmgr network; brmgr tap del deletes only brmgr's`);
    const p = paths(network, env);
    const release = await acquireLock(p.lock);
    try {
      const node = tapNodeOf(tap);
      await applyIpBatch(run, planMacvtapDel(tap, have));
      // a node brmgr made itself is not the kernel's to remove
      if (node) removeTapNode(node);
      const { [tap]: _gone, ...rest } = readMacvtaps(p.runDir);
      writeMacvtaps(p.runDir, rest);
    } finally {
      release();
    }
    log.info(`deleted macvtap ${tap} of ${network}`);
    return;
  }
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
