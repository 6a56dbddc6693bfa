/**
 * Rate limits applied to the host (plan/shaping.ts decides them): one port at a time, as `brmgr run` sees
 * ports come, learn their guest and go, as `brmgr tap add --rate` makes a tap, and all of a bridge's at
 * once when post takes brmgr's shaping away.
 */
import type { BridgeConfig } from '../config/types.js';
import {
  emptyPlan,
  ifbName,
  ifbPort,
  isGuestPort,
  planShaping,
  portRates,
  type Rates,
  type ShapingPlan,
  tapRate,
} from '../plan/shaping.js';
import type { Run } from '../system/exec.js';
import { applyCommands, ifbLinks, ingressFilters, linkAlias, qdiscsOf } from '../system/tc.js';

export interface Shaped {
  /** the rates the port has now */
  rates: Rates;
  /** what was changed (empty: it was already so) */
  plan: ShapingPlan;
}

/**
 * Gives `port` of `bridge` the rates `cfg` sets for it and its guest (`mac`). Without `cfg` (post, or a port
 * that left the bridge) a port keeps only its own rate (a tap's `--rate`), everything else of brmgr's goes.
 */
export async function shapePort(
  run: Run,
  bridge: string,
  port: string,
  cfg: BridgeConfig | undefined,
  mac?: string,
): Promise<Shaped> {
  const [qdiscs, filters, ifb, alias] = await Promise.all([
    qdiscsOf(run, port),
    ingressFilters(run, port),
    qdiscsOf(run, ifbName(port)),
    linkAlias(run, port),
  ]);
  const present = qdiscs !== undefined && alias !== null;
  const guestPort = !cfg || isGuestPort(cfg, port);
  const rates = present && guestPort ? portRates(cfg, mac, tapRate(alias ?? undefined)) : {};
  const plan = planShaping(bridge, port, rates, { present, qdiscs: qdiscs ?? [], filters, ...(ifb ? { ifb } : {}) });
  if (!emptyPlan(plan)) {
    await applyCommands(run, 'ip', plan.links);
    await applyCommands(run, 'tc', plan.tc);
    await applyCommands(run, 'ip', plan.unlink);
  }
  return { rates, plan };
}

/**
 * Post: brmgr's shaping off `ports` (the bridge's guest ports), and every ifb it made for a port of this
 * bridge that is gone or elsewhere now. A tap keeps its own rate, as `brmgr tap add` gave it.
 */
export async function unshapeBridge(run: Run, bridge: string, ports: readonly string[]): Promise<void> {
  for (const port of ports) await shapePort(run, bridge, port, undefined);
  await sweepIfbs(run, bridge, ports);
}

/** The ifbs brmgr made for ports of `bridge` other than `ports`: their ports left while nobody watched. */
export async function sweepIfbs(run: Run, bridge: string, ports: readonly string[]): Promise<string[]> {
  const swept: string[] = [];
  for (const link of await ifbLinks(run)) {
    const port = ifbPort(bridge, link.alias);
    if (port === undefined || ports.includes(port) || link.ifname !== ifbName(port)) continue;
    const { plan } = await shapePort(run, bridge, port, undefined);
    if (plan.unlink.length) swept.push(port);
  }
  return swept;
}
