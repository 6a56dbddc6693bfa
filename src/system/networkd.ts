/** systemd-networkd's view of a link, through networkctl (one module per external tool). */
import { existsSync, readFileSync } from 'node:fs';
import { isInterfaceName } from '../config/names.js';
import { type NetworkdLink, parseNetworkdLink } from '../host/networkd.js';
import type { Run } from './exec.js';

/**
 * What networkd makes of `ifname`, or undefined when networkd has not seen it (not running, never
 * ran, another network namespace's networkd) or networkctl cannot say. `ifname` is an interface name.
 */
export async function networkdLink(run: Run, ifname: string): Promise<NetworkdLink | undefined> {
  if (!isInterfaceName(ifname)) return undefined;
  let index: number;
  try {
    index = Number(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8').trim());
  } catch {
    return undefined;
  }
  // networkd keeps a file per link it has seen; without one, networkctl is not asked (nor networkd
  // started by D-Bus activation to answer)
  if (!existsSync(`/run/systemd/netif/links/${index}`)) return undefined;
  const r = await run('networkctl', ['--json=short', '--no-pager', 'status', '--', ifname]);
  if (!r.ok) return undefined;
  const link = parseNetworkdLink(r.stdout);
  // networkctl finds the name here and asks networkd by index: a networkd in another network namespace
  // answers about another link
  return link?.name === ifname && link.index === index ? link : undefined;
}
