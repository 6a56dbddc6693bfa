/**
 * A real DHCP question to a bridge's dnsmasq, as a guest asks it, for `brmgr doctor`: a throwaway port
 * (a veth pair, one end on the bridge, the other in a network namespace made for it) from which a
 * DHCPDISCOVER goes out and the offer is awaited. An offer commits no lease. The port and the namespace
 * are always removed; those a killed doctor left are removed by the next one.
 */
import type { DhcpReply } from '../host/dhcp-packet.js';
import type { Run, RunResult } from './exec.js';
import { namedNetns } from './netns.js';
import { alive } from './process.js';

const NETNS = 'brmgr-doctor-';
/** the bridge's end of the throwaway port; with a pid (7 digits at most) within the 15 bytes of a name */
const PORT = 'brmgrdp';
/** its other end, in the namespace */
const INSIDE = 'probe0';

export interface DhcpProbe {
  /** the throwaway port (gone once the probe is done), and its index, once it was made */
  port: string;
  ifindex?: number;
  /** the DISCOVER's transaction, once one was sent */
  xid?: number;
  /** the offer (or NAK), if one came in time */
  reply?: DhcpReply;
  /** the port could not be made, or the client failed */
  error?: string;
}

/** The namespaces (and, with them, the ports) of doctors that are gone. */
export async function removeStaleProbes(run: Run): Promise<void> {
  for (const ns of namedNetns()) {
    const pid = Number(ns.slice(NETNS.length));
    if (!ns.startsWith(NETNS) || alive(pid)) continue;
    await run('ip', ['link', 'delete', `${PORT}${pid}`]);
    await run('ip', ['netns', 'delete', ns]);
  }
}

const failed = (r: RunResult, what: string) => `${what}: ${(r.stderr || r.stdout).trim() || `exit ${r.exitCode}`}`;

/**
 * Asks the bridge's DHCP server for an offer from `mac`, within `timeoutMs`. `self` runs brmgr's own hidden
 * `__dhcp-discover` (system/dhcp-discover.ts) inside the namespace: `[node, brmgr's entry, '__dhcp-discover']`.
 */
export async function probeDhcp(
  run: Run,
  o: { bridge: string; mac: string; timeoutMs: number; self: readonly string[] },
): Promise<DhcpProbe> {
  await removeStaleProbes(run);
  const ns = `${NETNS}${process.pid}`;
  const port = `${PORT}${process.pid}`;
  try {
    const steps: [string, string[]][] = [
      ['cannot create a network namespace', ['netns', 'add', ns]],
      ['cannot create a veth pair', ['link', 'add', port, 'type', 'veth', 'peer', 'name', INSIDE, 'netns', ns]],
      // no IPv6 link-local address: no neighbour discovery nor router solicitation from a port that lives a second
      ['cannot attach it to the bridge', ['link', 'set', 'dev', port, 'addrgenmode', 'none', 'master', o.bridge, 'up']],
      [
        'cannot set up its other end',
        ['-n', ns, 'link', 'set', 'dev', INSIDE, 'addrgenmode', 'none', 'address', o.mac, 'up'],
      ],
      ['cannot route through it', ['-n', ns, 'route', 'add', 'default', 'dev', INSIDE]],
    ];
    for (const [what, args] of steps) {
      const r = await run('ip', args);
      if (!r.ok) return { port, error: failed(r, what) };
    }
    // port security knows a port by its index (firewall/l2.ts): what it learns of this one is forgotten by it
    const shown = await run('ip', ['-json', 'link', 'show', 'dev', port]);
    const ifindex = shown.ok ? (JSON.parse(shown.stdout) as { ifindex?: number }[])[0]?.ifindex : undefined;
    const made = { port, ...(ifindex === undefined ? {} : { ifindex }) };
    const [node, ...rest] = o.self;
    const r = await run('ip', ['netns', 'exec', ns, node!, ...rest, o.mac, String(o.timeoutMs)]);
    if (!r.ok) return { ...made, error: failed(r, 'the DHCP client failed') };
    try {
      return { ...made, ...(JSON.parse(r.stdout) as Omit<DhcpProbe, 'port' | 'ifindex'>) };
    } catch {
      return { ...made, error: `the DHCP client said: ${r.stdout.slice(0, 200)}` };
    }
  } finally {
    // the pair goes with either end; the namespace after it
    await run('ip', ['link', 'delete', port]);
    await run('ip', ['netns', 'delete', ns]);
  }
}
