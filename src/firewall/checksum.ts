/**
 * DHCP replies to guests leave dnsmasq with their UDP checksum not yet filled
 * in (the bridge offloads it to its ports). A port that cannot offload (a real
 * NIC, a tap opened without offload: QEMU's e1000, iPXE) fills it in software;
 * one that can (veth, virtio) hands it over unfilled, which clients reading raw
 * packets without the kernel's "checksum not ready" hint reject. iptables'
 * CHECKSUM target fills it in at once, right for every port. nftables has no
 * such statement: its `udp checksum set 0` breaks the software fill (the port
 * sums over the zeroed field and the client drops the offer), so both backends
 * use the CHECKSUM target, in iptables' mangle table, wherever iptables is there.
 * In OUTPUT, not POSTROUTING: the replies are the host's own, and a hook on the
 * forward path would cost every forwarded packet of every guest.
 */
import { EMPTY, type IptablesPlan } from './backend.js';
import type { Family, FirewallIntent } from './policy.js';

export function checksumPlan(intent: FirewallIntent, family: Family): IptablesPlan {
  if (family !== 4 || !intent.dhcpChecksum) return EMPTY;
  const chain = `BRMGR-${intent.bridge}-CSUM`;
  return {
    chains: { mangle: { [chain]: [`-o ${intent.bridge} -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill`] } },
    jumps: [{ table: 'mangle', chain: 'OUTPUT', rule: `-j ${chain}` }],
  };
}
