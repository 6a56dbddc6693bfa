/** A bridge's ports and the MACs learned on them, as `ip -o monitor link neigh` and `bridge -json fdb` tell. */

export type PortFact =
  | { kind: 'port-added'; port: string }
  | { kind: 'port-removed'; port: string }
  /** the bridge learned (or, `gone`, forgot) the MAC behind a port */
  | { kind: 'fdb'; port: string; mac: string; gone?: boolean }
  | { kind: 'lease'; mac: string; ip: string; hostname?: string; gone?: boolean };

/**
 * One line of `ip -o monitor link`: a link that is a port of the bridge (added, or still there), or one
 * that is not (deleted, or released from the bridge; a link never seen as a port is ignored downstream).
 */
export function portFromLinkLine(line: string, bridge: string): PortFact | undefined {
  const m = /^(Deleted )?\d+: ([^:@\s]+)(?:@[^:\s]*)?: </.exec(line);
  if (!m || m[2] === bridge) return undefined;
  const port = m[2]!;
  const member = new RegExp(` master ${bridge.replace(/[.]/g, '\\.')} `).test(line);
  return member && !m[1] ? { kind: 'port-added', port } : { kind: 'port-removed', port };
}

/**
 * One line of `ip monitor neigh` that is a bridge's forwarding entry (`dev PORT lladdr MAC STATE`, no
 * address): a MAC learned (or forgotten) on a port. Permanent entries are the ports' own MACs, not guests;
 * the port table keeps only the ports of its bridge.
 */
export function fdbFromLine(line: string, bridge: string): PortFact | undefined {
  const m = /^(Deleted )?dev (\S+) lladdr ([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b(.*)$/i.exec(line.trim());
  if (!m || m[2] === bridge || /\b(PERMANENT|NOARP)\b/.test(m[4]!)) return undefined;
  return { kind: 'fdb', port: m[2]!, mac: m[3]!.toLowerCase(), ...(m[1] ? { gone: true } : {}) };
}

/** The MACs the bridge learned on its ports (`bridge -json fdb show br BRIDGE`), as port facts. */
export function learnedMacs(
  entries: readonly { mac: string; ifname: string; state?: string; flags?: string[] }[],
  bridge: string,
): PortFact[] {
  return entries
    .filter((e) => e.ifname !== bridge && e.state !== 'permanent' && e.state !== 'static' && !e.flags?.includes('self'))
    .map((e) => ({ kind: 'fdb', port: e.ifname, mac: e.mac.toLowerCase() }));
}
