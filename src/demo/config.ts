/**
 * The default config as installed to /etc/brmgr/brmgr0.conf (etc/brmgr/brmgr0.conf;
 * a unit test keeps the two equal), so the demo runs what a new install runs.
 */
export const DEFAULT_CONFIG = `; brmgr0: a NAT bridge for containers and VMs.
; Every key is optional; the values below are the defaults. See README.md.

[bridge]
;name = brmgr0        ; default: the file's name (brmgr0.conf), so a copy as lan2.conf is lan2
mode = nat            ; nat | routed | isolated
;uplink = eth0        ; only forward and masquerade out of this interface
;mtu = 1500
;mac =                ; default: stable, derived from the name and /etc/machine-id
stp = false
firewall = auto       ; auto | nftables | iptables | none

[ipv4]
address = 10.0.1.1/24
dhcp = true
;range = 10.0.1.2-10.0.1.254
lease_time = 1h
;max_leases = 253

[ipv6]
;address = fd42:0:1::1/64
;ra = true
;dhcp = off           ; off | stateless | stateful
;nat = false

[dns]
enable = true
;domain = brmgr.internal
;upstream = 192.0.2.53, 2001:db8::53
;hosts_file = /etc/brmgr/brmgr0.hosts

[dnsmasq]
;conf_file = /etc/brmgr/brmgr0.dnsmasq.conf
;hosts_file = /etc/brmgr/brmgr0.dhcp-hosts

; A static lease: the guest with this MAC always gets this address, and its name resolves.
;[host.web]
;mac = 52:54:00:00:00:10
;ip = 10.0.1.10

; A port forward from the host into a guest.
;[forward.http]
;proto = tcp
;port = 8080
;to = web:80
`;

/**
 * The demo's config: the default, with DNS upstream pointed at the demo's own
 * outside namespace, so that no query ever leaves the demo's namespaces.
 */
export function demoConfig(upstream: string): string {
  const line = ';upstream = 192.0.2.53, 2001:db8::53';
  if (!DEFAULT_CONFIG.includes(line)) throw new Error('the default config has no upstream example line');
  return DEFAULT_CONFIG.replace(line, `upstream = ${upstream}`);
}
