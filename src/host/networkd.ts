/** systemd-networkd's view of one link, as `networkctl --json=short status LINK` prints it. */
export interface NetworkdLink {
  /** the link's name and index as networkd knows them (in its own network namespace) */
  name: string;
  index: number;
  /** networkd's setup state: unmanaged, pending, initialized, configuring, configured, failed, linger */
  adminState: string;
  /** the .network file that matched the link, when networkd manages it */
  networkFile?: string;
}

/** The link networkctl describes, or undefined when its output is not that. */
export function parseNetworkdLink(json: string): NetworkdLink | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== 'object') return undefined;
  const o = raw as Record<string, unknown>;
  if (typeof o.Name !== 'string' || typeof o.Index !== 'number' || typeof o.AdministrativeState !== 'string')
    return undefined;
  return {
    name: o.Name,
    index: o.Index,
    adminState: o.AdministrativeState,
    ...(typeof o.NetworkFile === 'string' && o.NetworkFile ? { networkFile: o.NetworkFile } : {}),
  };
}
