import { checkName } from '../config/validate.js';
import { UsageError } from '../errors.js';
import { tapRate, tapRateAlias } from './shaping.js';

/** A link as `ip -d -json link show` reports it, with what a tap needs. */
export interface TapView {
  ifname: string;
  /** info_kind: "tun", "veth", "bridge", ... */
  kind?: string;
  /** for kind tun: "tap" or "tun" */
  tunType?: string;
  persist?: boolean;
  /** the owning user as ip prints it: a name, or a number when it has none */
  user?: string | number;
  master?: string;
  up: boolean;
  mtu?: number;
  /** its alias: a tap's own rate limit is kept there (plan/shaping.ts) */
  alias?: string;
}

interface RawLink {
  ifname: string;
  mtu?: number;
  flags?: string[];
  master?: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string; info_data?: { type?: string; persist?: boolean; user?: string | number } };
}

export function parseTapViews(json: string): TapView[] {
  return (JSON.parse(json || '[]') as RawLink[]).map((l) => {
    const d = l.linkinfo?.info_kind === 'tun' ? l.linkinfo.info_data : undefined;
    return {
      ifname: l.ifname,
      ...(l.linkinfo?.info_kind ? { kind: l.linkinfo.info_kind } : {}),
      ...(d?.type ? { tunType: d.type } : {}),
      ...(d ? { persist: !!d.persist } : {}),
      ...(d?.user !== undefined ? { user: d.user } : {}),
      ...(l.master ? { master: l.master } : {}),
      up: (l.flags ?? []).includes('UP'),
      ...(l.mtu !== undefined ? { mtu: l.mtu } : {}),
      ...(l.ifalias ? { alias: l.ifalias } : {}),
    };
  });
}

const describe = (l: TapView) =>
  l.kind === 'tun' ? `a ${l.tunType ?? 'tun'} device` : l.kind ? `a ${l.kind}` : 'a plain device';

/** A user given as a number is taken as is (microVM jailers use uids without a passwd entry). */
export const NUMERIC_UID = /^(0|[1-9]\d{0,9})$/;
export const MAX_UID = 0xfffffffe;

export function checkNames(bridge: string, tap: string): void {
  checkName(bridge);
  checkName(tap, 'TAP');
  if (tap === bridge) throw new UsageError(`the tap needs a name of its own, not the bridge's (${bridge})`);
}

export interface TapAdd {
  /** `ip -batch` lines that make the tap, down; empty when it exists */
  create: string[];
  /**
   * kernel settings of the tap, written before it comes up: its host side takes no router advertisement and
   * no address (IPv6 off on the link: a port needs none, and a tap left detached by `brmgr-post --force`
   * must not let its VM configure the host)
   */
  sysctls: Record<string, string>;
  /** `ip -batch` lines that give it its own rate limit (`--rate`), or take it away; empty when it has it */
  rate: string[];
  /** `ip -batch` lines that make it a port of the bridge, up; empty when it is already as asked */
  attach: string[];
  /** the tap is created here (delete it again if a later step fails) */
  creates: boolean;
}

const closed = (tap: string) => ({ [`net/ipv6/conf/${tap}/disable_ipv6`]: '1' });

/**
 * What `brmgr tap add` must do. `ownerOfExisting` is the existing tap's owner
 * as a uid (undefined: none). The bridge must be up as brmgr's.
 */
export function planTapAdd(
  bridge: string,
  tap: string,
  owner: number | undefined,
  links: TapView[],
  bridgeUp: boolean,
  ownerOfExisting?: number,
  /** its own rate limit, bits per second each way */
  rate?: number,
): TapAdd {
  checkNames(bridge, tap);
  const br = links.find((l) => l.ifname === bridge);
  if (!bridgeUp)
    throw new UsageError(
      `${bridge} is not up as a brmgr bridge: start it first (brmgr run ${bridge} or brmgr up ${bridge})`,
    );
  if (!br) throw new UsageError(`${bridge} does not exist, though brmgr recorded it as up: run brmgr up ${bridge}`);
  if (br.kind !== 'bridge') throw new UsageError(`${bridge} is not a bridge (it is ${describe(br)})`);
  const attach = `link set dev ${tap} master ${bridge} up`;
  const have = links.find((l) => l.ifname === tap);
  if (!have) {
    // a bridge with a smaller MTU (stretched over VXLAN, or set so) gives its new taps the same
    const mtu = br.mtu !== undefined && br.mtu !== 1500 ? [`link set dev ${tap} mtu ${br.mtu}`] : [];
    return {
      create: [`tuntap add dev ${tap} mode tap${owner !== undefined ? ` user ${owner}` : ''}`, ...mtu],
      sysctls: closed(tap),
      rate: rate !== undefined ? [`link set dev ${tap} alias ${tapRateAlias(rate)}`] : [],
      attach: [attach],
      creates: true,
    };
  }
  if (have.kind !== 'tun' || have.tunType !== 'tap')
    throw new UsageError(`${tap} exists and is not a tap (it is ${describe(have)})`);
  if (!have.persist)
    throw new UsageError(`${tap} is a tap a running program created (not persistent); choose another name`);
  if (ownerOfExisting !== owner) {
    const name = (u: number | undefined) => (u === undefined ? 'none' : String(u));
    throw new UsageError(
      `tap ${tap} exists with owner ${name(ownerOfExisting)}, not ${name(owner)}: brmgr tap del ${tap} first`,
    );
  }
  if (have.master && have.master !== bridge)
    throw new UsageError(`tap ${tap} is a port of ${have.master}, not ${bridge}: brmgr tap del ${tap} first`);
  // another rate, or none: a user's own alias (not a rate) stays when none is asked
  const own = tapRate(have.alias);
  const rateLines = own === rate ? [] : [`link set dev ${tap} alias ${rate !== undefined ? tapRateAlias(rate) : '""'}`];
  if (have.master === bridge && have.up)
    return { create: [], sysctls: closed(tap), rate: rateLines, attach: [], creates: false };
  return { create: [], sysctls: closed(tap), rate: rateLines, attach: [attach], creates: false };
}

/** What `brmgr tap del` must do: delete a persistent tap, and nothing else. Empty when there is no such link. */
export function planTapDel(tap: string, links: TapView[]): string[] {
  checkName(tap, 'TAP');
  const have = links.find((l) => l.ifname === tap);
  if (!have) return [];
  if (have.kind !== 'tun' || have.tunType !== 'tap')
    throw new UsageError(`${tap} is not a tap (it is ${describe(have)}); brmgr tap del deletes only taps`);
  if (!have.persist)
    throw new UsageError(
      `${tap} is a tap a running program created (not persistent); brmgr tap del deletes only persistent taps`,
    );
  return [`link del dev ${tap}`];
}
