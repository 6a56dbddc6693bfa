import type { Run } from '../system/exec.js';

const q = (name: string) => JSON.stringify(name);

/**
 * Which bridge a frame is on: bridge-family hooks see every bridge of the namespace, so each hooked chain of
 * brmgr's tables begins by returning what is not on this bridge. With nft's bridge meta (nft_meta_bridge) by
 * the bridge's name; without it, by a set of the bridge's ports that pre fills and `brmgr run` keeps.
 */
export interface BridgeScope {
  /** the kernel matches `meta ibrname` */
  bridgeMeta: boolean;
  /** the bridge's ports now (the set's elements where the kernel has no bridge meta) */
  ports: readonly string[];
}
/** The set of the bridge's ports, in each bridge-family table of brmgr's, where the kernel has no bridge meta. */
export const BRIDGE_PORTS = 'bridge-ports';

/**
 * The first rule of each hooked chain: frames on another bridge are not this bridge's. By ports, a forwarded
 * frame is this bridge's when either port is known: what a port plugged in while `brmgr run` was stopped
 * sends toward the VXLAN port or the uplink is still guarded. In a chain jumped to, `accept` leaves: it ends
 * the hooked chain's walk (the policy's verdict), and the next table's chains still see the frame.
 */
export const scopeGuard = (
  bridge: string,
  scope: BridgeScope,
  { forward = false, leave = 'return' }: { forward?: boolean; leave?: 'return' | 'accept' } = {},
) =>
  scope.bridgeMeta
    ? `meta ibrname != ${q(bridge)} ${leave}`
    : `iifname != @${BRIDGE_PORTS} ${forward ? `oifname != @${BRIDGE_PORTS} ` : ''}${leave}`;

/** The port set's declaration, where the guard needs it. */
export const scopeSet = (scope: BridgeScope): string[] =>
  scope.bridgeMeta ? [] : [`\tset ${BRIDGE_PORTS} {\n\t\ttypeof iifname\n\t\tsize 65535\n\t}`];

/** The port set brought to the bridge's ports now (after the table that declares it); nothing with bridge meta. */
export function scopeFill(table: string, scope: BridgeScope): string {
  if (scope.bridgeMeta) return '';
  const ports = [...new Set(scope.ports)].sort();
  return (
    `flush set bridge ${table} ${BRIDGE_PORTS}\n` +
    (ports.length ? `add element bridge ${table} ${BRIDGE_PORTS} { ${ports.map(q).join(', ')} }\n` : '')
  );
}

/** A rule that only a kernel with nft's bridge meta accepts, checked (`nft -c`), never applied. */
const META_PROBE =
  'table bridge brmgr-probe {\n\tchain prerouting {\n\t\ttype filter hook prerouting priority filter;\n' +
  '\t\tmeta ibrname "brmgr-probe" return\n\t}\n}\n';

/** Whether the kernel has nft's bridge meta (nft_meta_bridge); false also without nft. */
export async function probeBridgeMeta(run: Run): Promise<boolean> {
  return (await run('nft', ['-c', '-f', '-'], META_PROBE)).ok;
}
