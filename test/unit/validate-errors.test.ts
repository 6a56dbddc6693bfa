/**
 * Bad configs, each with the exact error lines users see:
 * `FILE:LINE: [section] key: message`, every problem once, in file order.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, formatProblem, parseConfig } from '../../src/config/validate.js';

const F = '/etc/brmgr/brmgr0.conf';

interface Case {
  name: string;
  text: string;
  errors: string[];
}

const cases: Case[] = [
  // addresses
  {
    name: 'not an address',
    text: '[ipv4]\naddress = 10.0.1.300/24\n',
    errors: [`${F}:2: [ipv4] address: '10.0.1.300/24' is not an IPv4 address with a prefix (like 10.0.1.1/24)`],
  },
  {
    name: 'address without a prefix',
    text: '[ipv4]\naddress = 10.0.1.1\n',
    errors: [`${F}:2: [ipv4] address: '10.0.1.1' is not an IPv4 address with a prefix (like 10.0.1.1/24)`],
  },
  {
    name: 'the network address (host bits all zero)',
    text: '[ipv4]\naddress = 10.0.1.0/24\n',
    errors: [`${F}:2: [ipv4] address: 10.0.1.0 is the network address of /24; give a host address`],
  },
  {
    name: 'the broadcast address (host bits all one)',
    text: '[ipv4]\naddress = 10.0.1.255/24\n',
    errors: [`${F}:2: [ipv4] address: 10.0.1.255 is the broadcast address of /24; give a host address`],
  },
  {
    name: 'prefix too long',
    text: '[ipv4]\naddress = 10.0.1.1/31\n',
    errors: [`${F}:2: [ipv4] address: prefix /31 is out of range /8-/30`],
  },
  {
    name: 'prefix too short',
    text: '[ipv4]\naddress = 10.0.1.1/7\n',
    errors: [`${F}:2: [ipv4] address: prefix /7 is out of range /8-/30`],
  },
  {
    name: 'prefix past 32',
    text: '[ipv4]\naddress = 10.0.1.1/33\n',
    errors: [`${F}:2: [ipv4] address: prefix /33 is out of range /8-/30`],
  },
  {
    name: 'loopback address',
    text: '[ipv4]\naddress = 127.0.0.1/8\n',
    errors: [`${F}:2: [ipv4] address: 127.0.0.1 is not a unicast address (0/8, 127/8 and 224/3 are reserved)`],
  },
  {
    name: 'multicast address, flat form',
    text: 'addr = 224.0.0.5\n',
    errors: [`${F}:1: addr: 224.0.0.5 is not a unicast address (0/8, 127/8 and 224/3 are reserved)`],
  },
  {
    name: "'auto' address with a range",
    text: '[ipv4]\naddress = auto\nrange = 10.0.1.2-10.0.1.9\n',
    errors: [
      `${F}:3: [ipv4] range: with address = auto the subnet is chosen by brmgr: give a fixed address to set a range`,
    ],
  },
  {
    name: "'auto' address and a forward to a guest address",
    text: '[ipv4]\naddress = auto\n[forward.web]\nport = 80\nto = 10.0.1.5:80\n',
    errors: [
      `${F}:5: [forward.web] to: with address = auto the subnet is chosen by brmgr: ` +
        'give a fixed address to forward to a guest address',
    ],
  },
  {
    name: 'flat addr with a prefix',
    text: 'addr="10.0.1.1/24"\n',
    errors: [`${F}:1: addr: '10.0.1.1/24' is not an IPv4 address`],
  },
  {
    name: 'flat netmask that is not a mask',
    text: 'addr="10.0.1.1"\nnetmask="255.0.255.0"\n',
    errors: [`${F}:2: netmask: '255.0.255.0' is not a netmask between /8 and /30`],
  },
  {
    name: 'flat network that disagrees with addr/netmask',
    text: 'addr="10.0.1.1"\nnetmask="255.255.0.0"\nnetwork="10.0.1.0/24"\n',
    errors: [`${F}:3: network: '10.0.1.0/24' does not match addr/netmask (10.0.0.0/16)`],
  },
  {
    name: 'flat netmask without addr',
    text: 'netmask="255.255.0.0"\n',
    errors: [`${F}:1: netmask: set without addr`],
  },
  {
    name: 'flat netmask6 without addr6',
    text: 'netmask6="64"\n',
    errors: [`${F}:1: netmask6: set without addr6`],
  },
  // DHCP range
  {
    name: 'range outside the subnet',
    text: '[ipv4]\nrange = 10.0.2.2-10.0.2.254\n',
    errors: [
      `${F}:2: [ipv4] range: range 10.0.2.2-10.0.2.254 is not inside 10.0.1.0/24 (network and broadcast excluded)`,
    ],
  },
  {
    name: 'range starting at the network address',
    text: '[ipv4]\nrange = 10.0.1.0-10.0.1.100\n',
    errors: [
      `${F}:2: [ipv4] range: range 10.0.1.0-10.0.1.100 is not inside 10.0.1.0/24 (network and broadcast excluded)`,
    ],
  },
  {
    name: 'range backwards',
    text: '[ipv4]\nrange = 10.0.1.200-10.0.1.100\n',
    errors: [`${F}:2: [ipv4] range: range 10.0.1.200-10.0.1.100 runs backwards`],
  },
  {
    name: "range containing the bridge's address",
    text: '[ipv4]\naddress = 10.0.1.50/24\nrange = 10.0.1.2-10.0.1.254\n',
    errors: [`${F}:3: [ipv4] range: range 10.0.1.2-10.0.1.254 includes the bridge's own address 10.0.1.50`],
  },
  {
    name: 'ranges that overlap',
    text: '[ipv4]\nrange = 10.0.1.100-10.0.1.150, 10.0.1.150-10.0.1.160\n',
    errors: [`${F}:2: [ipv4] range: range 10.0.1.150-10.0.1.160 overlaps range 10.0.1.100-10.0.1.150`],
  },
  {
    name: 'second range outside the subnet, first fine',
    text: '[ipv4]\nrange = 10.0.1.100-10.0.1.150, 10.0.2.2-10.0.2.9\n',
    errors: [
      `${F}:2: [ipv4] range: range 10.0.2.2-10.0.2.9 is not inside 10.0.1.0/24 (network and broadcast excluded)`,
    ],
  },
  {
    name: 'second range containing the bridge address',
    text: '[ipv4]\nrange = 10.0.1.100-10.0.1.150, 10.0.1.1-10.0.1.9\n',
    errors: [`${F}:2: [ipv4] range: range 10.0.1.1-10.0.1.9 includes the bridge's own address 10.0.1.1`],
  },
  {
    name: 'range that is one address',
    text: '[ipv4]\nrange = 10.0.1.10\n',
    errors: [`${F}:2: [ipv4] range: '10.0.1.10' is not an address range (like 10.0.1.2-10.0.1.254)`],
  },
  {
    name: "the original's comma form in the sectioned key",
    text: '[ipv4]\nrange = 10.0.1.2,10.0.1.254\n',
    errors: [`${F}:2: [ipv4] range: '10.0.1.2,10.0.1.254' is not an address range (like 10.0.1.2-10.0.1.254)`],
  },
  {
    name: 'max_leases zero',
    text: '[ipv4]\nmax_leases = 0\n',
    errors: [`${F}:2: [ipv4] max_leases: 0 is out of range 1-1000000`],
  },
  {
    name: 'dhcp_max negative',
    text: 'dhcp_max = "-1"\n',
    errors: [`${F}:1: dhcp_max: '-1' is not a whole number`],
  },
  // link
  {
    name: 'bad MAC',
    text: '[bridge]\nmac = 52:54:00:zz:00:01\n',
    errors: [`${F}:2: [bridge] mac: '52:54:00:zz:00:01' is not a MAC address (like 52:54:00:12:34:56)`],
  },
  {
    name: 'MAC with dashes',
    text: 'bridge_mac="52-54-00-12-34-56"\n',
    errors: [`${F}:1: bridge_mac: '52-54-00-12-34-56' is not a MAC address (like 52:54:00:12:34:56)`],
  },
  {
    name: 'multicast MAC',
    text: '[bridge]\nmac = 01:00:5E:00:00:01\n',
    errors: [`${F}:2: [bridge] mac: 01:00:5e:00:00:01 is a multicast MAC address`],
  },
  {
    name: 'all-zero MAC',
    text: '[bridge]\nmac = 00:00:00:00:00:00\n',
    errors: [`${F}:2: [bridge] mac: the all-zero MAC address is not usable`],
  },
  {
    name: 'MTU too small',
    text: '[bridge]\nmtu = 67\n',
    errors: [`${F}:2: [bridge] mtu: 67 is out of range 68-65535`],
  },
  {
    name: 'MTU too large',
    text: '[bridge]\nmtu = 65536\n',
    errors: [`${F}:2: [bridge] mtu: 65536 is out of range 68-65535`],
  },
  {
    name: 'MTU not a number',
    text: '[bridge]\nmtu = 1500.0\n',
    errors: [`${F}:2: [bridge] mtu: '1500.0' is not a whole number`],
  },
  {
    name: 'MTU below 1280 with IPv6',
    text: '[bridge]\nmtu = 1200\n[ipv6]\naddress = fd42:0:1::1/64\n',
    errors: [`${F}:2: [bridge] mtu: 1200 is below IPv6's minimum MTU of 1280`],
  },
  {
    name: 'uplink name of 16 characters',
    text: '[bridge]\nuplink = abcdefghijklmnop\n',
    errors: [
      `${F}:2: [bridge] uplink: 'abcdefghijklmnop' is not a valid interface name (1-15 letters, digits, '_', '.', '-')`,
    ],
  },
  {
    name: 'uplink that looks like an option',
    text: '[bridge]\nuplink = -eth0\n',
    errors: [`${F}:2: [bridge] uplink: '-eth0' is not a valid interface name (1-15 letters, digits, '_', '.', '-')`],
  },
  {
    name: 'uplink with a colon (an alias, not an interface)',
    text: '[bridge]\nuplink = eth0:1\n',
    errors: [`${F}:2: [bridge] uplink: 'eth0:1' is not a valid interface name (1-15 letters, digits, '_', '.', '-')`],
  },
  {
    name: 'uplink is the bridge',
    text: '[bridge]\nuplink = brmgr0\n',
    errors: [`${F}:2: [bridge] uplink: the uplink cannot be the bridge itself`],
  },
  {
    name: 'bridged without uplink',
    text: '[bridge]\nmode = bridged\n',
    errors: [`${F}:2: [bridge] mode: bridged mode needs an uplink or [vxlan]`],
  },
  // lease times
  {
    name: 'lease time with a bad unit',
    text: '[ipv4]\nlease_time = 1y\n',
    errors: [`${F}:2: [ipv4] lease_time: '1y' is not a lease time (like 1h, 30m, 3600 or infinite)`],
  },
  {
    name: 'lease time under 2m',
    text: '[ipv4]\nlease_time = 1m\n',
    errors: [`${F}:2: [ipv4] lease_time: 1m is shorter than dnsmasq's minimum of 2m`],
  },
  {
    name: 'lease time of 119 seconds',
    text: '[ipv4]\nlease_time = 119\n',
    errors: [`${F}:2: [ipv4] lease_time: 119 is shorter than dnsmasq's minimum of 2m`],
  },
  // booleans and enums
  {
    name: 'boolean maybe',
    text: '[ipv4]\ndhcp = maybe\n',
    errors: [`${F}:2: [ipv4] dhcp: 'maybe' is not a boolean (true or false)`],
  },
  {
    name: 'boolean 2',
    text: '[bridge]\nstp = 2\n',
    errors: [`${F}:2: [bridge] stp: '2' is not a boolean (true or false)`],
  },
  {
    name: 'unknown mode',
    text: '[bridge]\nmode = natt\n',
    errors: [`${F}:2: [bridge] mode: 'natt' is not one of nat, routed, isolated, bridged, macvtap`],
  },
  {
    name: 'unknown firewall',
    text: '[bridge]\nfirewall = pf\n',
    errors: [`${F}:2: [bridge] firewall: 'pf' is not one of auto, nftables, iptables, none`],
  },
  {
    name: 'ipv6 dhcp as a boolean',
    text: '[ipv6]\naddress = fd42::1/64\ndhcp = yes\n',
    errors: [`${F}:3: [ipv6] dhcp: 'yes' is not one of off, stateless, stateful`],
  },
  {
    name: 'unknown proto',
    text: '[forward.web]\nproto = sctp\nport = 80\nto = 10.0.1.10:80\n',
    errors: [`${F}:2: [forward.web] proto: 'sctp' is not one of tcp, udp`],
  },
  // IPv6
  {
    name: 'ipv6 prefix not /64 with ra = true (the default)',
    text: '[ipv6]\naddress = fd42:0:1::1/56\n',
    errors: [`${F}:2: [ipv6] address: router advertisements (ra = true) need a /64 for SLAAC, not /56`],
  },
  {
    name: 'ipv6 prefix not /64 with ra = true, flat form',
    text: 'addr6="fd42:7::1"\nnetmask6="56"\n',
    errors: [`${F}:1: addr6: router advertisements (ra = true) need a /64 for SLAAC, not /56`],
  },
  {
    name: 'ipv6 subnet-router anycast address',
    text: '[ipv6]\naddress = fd42:0:1::/64\n',
    errors: [`${F}:2: [ipv6] address: fd42:0:1:: is the subnet-router anycast address of /64; give a host address`],
  },
  {
    name: 'ipv6 link-local',
    text: '[ipv6]\naddress = fe80::1/64\n',
    errors: [`${F}:2: [ipv6] address: fe80::1 is not a unicast global or ULA address`],
  },
  {
    name: 'ipv6 link-local outside fe80::/16',
    text: '[ipv6]\naddress = febf::1/64\n',
    errors: [`${F}:2: [ipv6] address: febf::1 is not a unicast global or ULA address`],
  },
  {
    name: 'ipv6 loopback',
    text: '[ipv6]\naddress = ::1/64\n',
    errors: [`${F}:2: [ipv6] address: ::1 is not a unicast global or ULA address`],
  },
  {
    name: 'ipv6 with embedded IPv4 (used to crash in ip-cidr)',
    text: '[ipv6]\naddress = ::ffff:10.0.0.1/64\n',
    errors: [`${F}:2: [ipv6] address: '::ffff:10.0.0.1/64' is not an IPv6 address with a prefix (like fd42:0:1::1/64)`],
  },
  {
    name: 'IPv4 in [ipv6]',
    text: '[ipv6]\naddress = 10.0.1.1/64\n',
    errors: [`${F}:2: [ipv6] address: '10.0.1.1/64' is not an IPv6 address with a prefix (like fd42:0:1::1/64)`],
  },
  // static hosts
  {
    name: 'static host outside the subnet',
    text: '[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.2.10\n',
    errors: [`${F}:3: [host.web] ip: 10.0.2.10 is not a host address of 10.0.1.0/24`],
  },
  {
    name: "static host on the bridge's address",
    text: '[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.1\n',
    errors: [`${F}:3: [host.web] ip: 10.0.1.1 is the bridge's own address`],
  },
  {
    name: 'static host duplicate ip',
    text: '[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n[host.db]\nmac = 52:54:00:00:00:11\nip = 10.0.1.10\n',
    errors: [`${F}:6: [host.db] ip: 10.0.1.10 is already given to [host.web]`],
  },
  {
    name: 'static host duplicate mac (any case)',
    text: '[host.web]\nmac = 52:54:00:00:00:aa\nip = 10.0.1.10\n[host.db]\nmac = 52:54:00:00:00:AA\nip = 10.0.1.11\n',
    errors: [`${F}:5: [host.db] mac: 52:54:00:00:00:aa is already given to [host.web]`],
  },
  {
    name: 'static host missing mac',
    text: '[host.web]\nip = 10.0.1.10\n',
    errors: [`${F}:1: [host.web] mac: missing; a static host needs a mac`],
  },
  {
    name: 'static host missing both',
    text: '[bridge]\n[host.web]\n',
    errors: [
      `${F}:2: [host.web] mac: missing; a static host needs a mac`,
      `${F}:2: [host.web] ip: missing; a static host needs an ip`,
    ],
  },
  {
    name: 'static host with a bad name',
    text: '[host.web_1]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n',
    errors: [`${F}:1: [host.web_1] name: 'web_1' is not a valid host name (letters, digits, '-')`],
  },
  {
    name: 'static host named like a dnsmasq keyword',
    text: '[host.ignore]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n',
    errors: [
      `${F}:1: [host.ignore] name: 'ignore' would be read by dnsmasq as a lease time or keyword ` +
        "('ignore', 'infinite'), not a name; choose another",
    ],
  },
  {
    name: 'static host named like a dnsmasq keyword (any case)',
    text: '[host.Infinite]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n',
    errors: [
      `${F}:1: [host.Infinite] name: 'Infinite' would be read by dnsmasq as a lease time or keyword ` +
        "('ignore', 'infinite'), not a name; choose another",
    ],
  },
  {
    name: 'static host named like a dnsmasq lease time',
    text: '[host.5m]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n',
    errors: [
      `${F}:1: [host.5m] name: '5m' would be read by dnsmasq as a lease time or keyword ` +
        "('ignore', 'infinite'), not a name; choose another",
    ],
  },
  {
    name: 'static host named like a dnsmasq lease time (digits only)',
    text: '[host.42]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n',
    errors: [
      `${F}:1: [host.42] name: '42' would be read by dnsmasq as a lease time or keyword ` +
        "('ignore', 'infinite'), not a name; choose another",
    ],
  },
  {
    name: 'static host names differing only in case',
    text: '[host.Web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n[host.web]\nmac = 52:54:00:00:00:11\nip = 10.0.1.11\n',
    errors: [`${F}:4: [host.web] name: same name as [host.Web] on line 1 (names are not case-sensitive)`],
  },
  // port forwards
  {
    name: 'forward port 0',
    text: '[forward.web]\nport = 0\nto = 10.0.1.10:80\n',
    errors: [`${F}:2: [forward.web] port: port 0 is out of range 1-65535`],
  },
  {
    name: 'forward port 65536',
    text: '[forward.web]\nport = 65536\nto = 10.0.1.10:80\n',
    errors: [`${F}:2: [forward.web] port: port 65536 is out of range 1-65535`],
  },
  {
    name: 'forward guest port 0',
    text: '[forward.web]\nport = 8080\nto = 10.0.1.10:0\n',
    errors: [`${F}:3: [forward.web] to: port 0 is out of range 1-65535`],
  },
  {
    name: 'forward range backwards',
    text: '[forward.web]\nport = 8010-8000\nto = 10.0.1.10\n',
    errors: [`${F}:2: [forward.web] port: port range 8010-8000 runs backwards`],
  },
  {
    name: 'forward port that is not a number',
    text: '[forward.web]\nport = http\nto = 10.0.1.10\n',
    errors: [`${F}:2: [forward.web] port: 'http' is not a port or port range (like 8080 or 8000-8010)`],
  },
  {
    name: 'forward to an unknown host',
    text: '[forward.web]\nport = 8080\nto = nosuch:80\n',
    errors: [`${F}:3: [forward.web] to: 'nosuch' is neither an IPv4 address nor a [host.*] name`],
  },
  {
    name: 'forward to an address outside the subnet',
    text: '[forward.web]\nport = 8080\nto = 10.0.2.10:80\n',
    errors: [`${F}:3: [forward.web] to: 10.0.2.10 is not a guest address of 10.0.1.0/24`],
  },
  {
    name: "forward to the bridge's own address",
    text: '[forward.web]\nport = 8080\nto = 10.0.1.1:80\n',
    errors: [`${F}:3: [forward.web] to: 10.0.1.1 is not a guest address of 10.0.1.0/24`],
  },
  {
    name: 'forward ranges of different sizes',
    text: '[forward.web]\nport = 8000-8010\nto = 10.0.1.10:80-85\n',
    errors: [`${F}:3: [forward.web] to: port range 80-85 is not the same size as port 8000-8010`],
  },
  {
    name: 'forward range shifted to other ports (the kernel would not shift it)',
    text: '[forward.web]\nport = 8000-8010\nto = 10.0.1.10:9000-9010\n',
    errors: [
      `${F}:3: [forward.web] to: port range 9000-9010 must be the same ports as 8000-8010; ` +
        'a range cannot be shifted to other port numbers',
    ],
  },
  {
    name: 'forward port already forwarded (overlapping ranges)',
    text: '[forward.a]\nport = 8080\nto = 10.0.1.10:80\n[forward.b]\nport = 8000-8100\nto = 10.0.1.11\n',
    errors: [`${F}:5: [forward.b] port: tcp port 8000-8100 is already forwarded by [forward.a]`],
  },
  {
    name: 'forward with a trailing colon',
    text: '[forward.web]\nport = 8080\nto = 10.0.1.10:\n',
    errors: [`${F}:3: [forward.web] to: '10.0.1.10:' is not IP:PORT, [IPV6]:PORT or HOSTNAME:PORT`],
  },
  {
    name: 'forward to an IPv6 address on a bridge without IPv6',
    text: '[forward.web]\nport = 8080\nto = [fd42::10]:80\n',
    errors: [`${F}:3: [forward.web] to: an IPv6 forward needs IPv6 on the bridge ([ipv6] address)`],
  },
  {
    name: 'forward missing port and to',
    text: '[forward.web]\nproto = tcp\n',
    errors: [
      `${F}:1: [forward.web] port: missing; give the host port (like 8080)`,
      `${F}:1: [forward.web] to: missing; give IP:PORT, [IPV6]:PORT or HOSTNAME:PORT of a [host.*]`,
    ],
  },
  {
    name: 'forward with a bad name',
    text: '[forward.my_web]\nport = 8080\nto = 10.0.1.10:80\n',
    errors: [`${F}:1: [forward.my_web] name: 'my_web' is not a valid forward name (letters, digits, '-')`],
  },
  // DNS
  {
    name: 'domain with an underscore',
    text: '[dns]\ndomain = lab_internal\n',
    errors: [`${F}:2: [dns] domain: 'lab_internal' is not a domain name`],
  },
  {
    name: 'domain with an empty label',
    text: '[dns]\ndomain = lab..internal\n',
    errors: [`${F}:2: [dns] domain: 'lab..internal' is not a domain name`],
  },
  {
    name: 'domain label of 64 characters',
    text: `domain = ${'a'.repeat(64)}.example\n`,
    errors: [`${F}:1: domain: '${'a'.repeat(64)}.example' is not a domain name`],
  },
  {
    name: 'upstream that is not an IP',
    text: '[dns]\nupstream = 192.0.2.1, dns.google\n',
    errors: [
      `${F}:2: [dns] upstream: 'dns.google' is not IP[#PORT] or DOMAIN=IP[#PORT] (like 192.0.2.53, 192.0.2.53#5353 or corp.example=10.8.0.53)`,
    ],
  },
  {
    name: 'DHCPv6 on a prefix shorter than /64',
    text: '[ipv6]\naddress = fd42:0:1::1/62\nra = false\ndhcp = stateful\n',
    errors: [`${F}:2: [ipv6] address: DHCPv6 (dhcp = stateful) needs a prefix of /64 or longer, not /62`],
  },
  // upstream forms
  {
    name: 'upstream port out of range',
    text: '[dns]\nupstream = 192.0.2.53#0, 192.0.2.54#65536\n',
    errors: [
      `${F}:2: [dns] upstream: '192.0.2.53#0': port 0 is out of range 1-65535`,
      `${F}:2: [dns] upstream: '192.0.2.54#65536': port 65536 is out of range 1-65535`,
    ],
  },
  {
    name: 'upstream with two ports, a name as server, a zone id, a path',
    text: '[dns]\nupstream = 192.0.2.53#53#54, x=dns.google, fe80::1%eth0, /x/192.0.2.1\n',
    errors: [
      `${F}:2: [dns] upstream: '192.0.2.53#53#54' is not IP[#PORT] or DOMAIN=IP[#PORT] (like 192.0.2.53, 192.0.2.53#5353 or corp.example=10.8.0.53)`,
      `${F}:2: [dns] upstream: 'x=dns.google' is not IP[#PORT] or DOMAIN=IP[#PORT] (like 192.0.2.53, 192.0.2.53#5353 or corp.example=10.8.0.53)`,
      `${F}:2: [dns] upstream: 'fe80::1%eth0' is not IP[#PORT] or DOMAIN=IP[#PORT] (like 192.0.2.53, 192.0.2.53#5353 or corp.example=10.8.0.53)`,
      `${F}:2: [dns] upstream: '/x/192.0.2.1' is not IP[#PORT] or DOMAIN=IP[#PORT] (like 192.0.2.53, 192.0.2.53#5353 or corp.example=10.8.0.53)`,
    ],
  },
  {
    name: 'per-domain upstream with a bad domain',
    text: '[dns]\nupstream = -corp.example=10.8.0.53, corp..example=10.8.0.53, a/b=10.8.0.53, =10.8.0.53\n',
    errors: [
      `${F}:2: [dns] upstream: '-corp.example=10.8.0.53': '-corp.example' is not a domain name`,
      `${F}:2: [dns] upstream: 'corp..example=10.8.0.53': 'corp..example' is not a domain name`,
      `${F}:2: [dns] upstream: 'a/b=10.8.0.53': 'a/b' is not a domain name`,
      `${F}:2: [dns] upstream: '=10.8.0.53': '' is not a domain name`,
    ],
  },
  {
    name: "per-domain upstream for the guests' own domain",
    text: '[dns]\ndomain = lab.test\nupstream = lab.test=10.8.0.53, x.lab.test=10.8.0.53\n',
    errors: [
      `${F}:3: [dns] upstream: 'lab.test=10.8.0.53': lab.test is the guests' domain, answered here and never forwarded`,
      `${F}:3: [dns] upstream: 'x.lab.test=10.8.0.53': x.lab.test is the guests' domain, answered here and never forwarded`,
    ],
  },
  // routes and NTP
  {
    name: 'routes that are not CIDR via GATEWAY',
    text: '[ipv4]\nroutes = 192.168.100.0/24 10.0.1.5, 192.168.100.0/24 via 10.0.1.5 --x, 192.168.100.0/33 via 10.0.1.5\n',
    errors: [
      `${F}:2: [ipv4] routes: '192.168.100.0/24 10.0.1.5' is not a route (like 192.168.100.0/24 via 10.0.1.5)`,
      `${F}:2: [ipv4] routes: '192.168.100.0/24 via 10.0.1.5 --x' is not a route (like 192.168.100.0/24 via 10.0.1.5)`,
      `${F}:2: [ipv4] routes: '192.168.100.0/33 via 10.0.1.5' is not a route (like 192.168.100.0/24 via 10.0.1.5)`,
    ],
  },
  {
    name: 'routes with a gateway outside the subnet, host bits, the default, twice, inside the subnet',
    text:
      '[ipv4]\nroutes = 192.168.100.0/24 via 10.0.2.5, 192.168.100.1/24 via 10.0.1.5, 0.0.0.0/0 via 10.0.1.5, ' +
      '10.9.0.0/16 via 10.0.1.5, 10.9.0.0/16 via 10.0.1.6, 10.0.1.128/25 via 10.0.1.5, 10.1.0.0/16 via 10.0.1.255\n',
    errors: [
      `${F}:2: [ipv4] routes: 192.168.100.0/24 via 10.0.2.5: the gateway 10.0.2.5 is not a host address of 10.0.1.0/24`,
      `${F}:2: [ipv4] routes: 192.168.100.1/24 via 10.0.1.5: 192.168.100.1/24 has host bits set; the network is 192.168.100.0/24`,
      `${F}:2: [ipv4] routes: 0.0.0.0/0 via 10.0.1.5: the default route stays via the bridge (10.0.1.1); give other destinations`,
      `${F}:2: [ipv4] routes: 10.9.0.0/16 via 10.0.1.6: 10.9.0.0/16 is routed twice`,
      `${F}:2: [ipv4] routes: 10.0.1.128/25 via 10.0.1.5: 10.0.1.128/25 is inside the bridge's subnet, which guests reach directly`,
      `${F}:2: [ipv4] routes: 10.1.0.0/16 via 10.0.1.255: the gateway 10.0.1.255 is not a host address of 10.0.1.0/24`,
    ],
  },
  {
    name: 'too many routes for one DHCP option',
    text: `[ipv4]\nroutes = ${Array.from({ length: 28 }, (_, i) => `10.${100 + i}.1.1/32 via 10.0.1.5`).join(', ')}\n`,
    errors: [`${F}:2: [ipv4] routes: 28 routes do not fit in one DHCP option (255 bytes); give fewer`],
  },
  {
    name: 'routes and NTP without DHCP',
    text: '[ipv4]\ndhcp = false\nroutes = 10.9.0.0/16 via 10.0.1.5\nntp = self\n',
    errors: [
      `${F}:3: [ipv4] routes: told to guests by DHCP: needs dhcp = true`,
      `${F}:4: [ipv4] ntp: told to guests by DHCP: needs dhcp = true`,
    ],
  },
  {
    name: 'routes with address = auto',
    text: '[ipv4]\naddress = auto\nroutes = 10.9.0.0/16 via 10.0.1.5\n',
    errors: [
      `${F}:3: [ipv4] routes: with address = auto the subnet is chosen by brmgr: give a fixed address to set routes`,
    ],
  },
  {
    name: 'NTP that is not an address or self',
    text: '[ipv4]\nntp = pool.ntp.org, 127.0.0.1, 192.0.2.123, 192.0.2.123, self;x\n',
    errors: [
      `${F}:2: [ipv4] ntp: 'pool.ntp.org' is not an IPv4 address or self`,
      `${F}:2: [ipv4] ntp: 127.0.0.1 is not a unicast address (0/8, 127/8 and 224/3 are reserved)`,
      `${F}:2: [ipv4] ntp: 192.0.2.123 is given twice`,
      `${F}:2: [ipv4] ntp: 'self;x' is not an IPv4 address or self`,
    ],
  },
  // a static host's lease time and DHCPv6 address
  {
    name: 'host lease_time too short or not a time',
    text: '[host.a]\nmac = 52:54:00:00:00:01\nip = 10.0.1.10\nlease_time = 1m\n[host.b]\nmac = 52:54:00:00:00:02\nip = 10.0.1.11\nlease_time = 1h,x\n',
    errors: [
      `${F}:4: [host.a] lease_time: 1m is shorter than dnsmasq's minimum of 2m`,
      `${F}:8: [host.b] lease_time: '1h,x' is not a lease time (like 1h, 30m, 3600 or infinite)`,
    ],
  },
  {
    name: 'host ip6 without stateful DHCPv6',
    text: '[ipv6]\naddress = fd42:0:1::1/64\n[host.a]\nmac = 52:54:00:00:00:01\nip = 10.0.1.10\nip6 = fd42:0:1::10\n',
    errors: [`${F}:6: [host.a] ip6: a fixed DHCPv6 address needs [ipv6] dhcp = stateful (and an [ipv6] address)`],
  },
  {
    name: 'host ip6 outside the subnet, the bridge, twice, not IPv6',
    text:
      '[ipv6]\naddress = fd42:0:1::1/64\ndhcp = stateful\n' +
      '[host.a]\nmac = 52:54:00:00:00:01\nip = 10.0.1.10\nip6 = fd42:0:2::10\n' +
      '[host.b]\nmac = 52:54:00:00:00:02\nip = 10.0.1.11\nip6 = fd42:0:1:0::1\n' +
      '[host.c]\nmac = 52:54:00:00:00:03\nip = 10.0.1.12\nip6 = fd42:0:1::12\n' +
      '[host.d]\nmac = 52:54:00:00:00:04\nip = 10.0.1.13\nip6 = fd42:0:1:0:0::12\n' +
      '[host.e]\nmac = 52:54:00:00:00:05\nip = 10.0.1.14\nip6 = 10.0.1.14\n',
    errors: [
      `${F}:7: [host.a] ip6: fd42:0:2::10 is not a host address of fd42:0:1::/64`,
      `${F}:11: [host.b] ip6: fd42:0:1::1 is the bridge's own address`,
      `${F}:19: [host.d] ip6: fd42:0:1::12 is already given to [host.c]`,
      `${F}:23: [host.e] ip6: '10.0.1.14' is not an IPv6 address`,
    ],
  },
  // network boot
  {
    name: 'pxe tftp_root relative, or with a comma',
    text: '[pxe]\ntftp_root = srv/tftp,br0\n',
    errors: [
      `${F}:2: [pxe] tftp_root: 'srv/tftp,br0' is not an absolute path of plain characters (letters, digits, . _ @ + / -)`,
    ],
  },
  {
    name: 'pxe boot files with a comma, a leading dash, .. or a space',
    text: '[pxe]\nboot_file = pxelinux.0,evil\nboot_file_efi = -x\n',
    errors: [
      `${F}:2: [pxe] boot_file: 'pxelinux.0,evil' is not a boot file name (letters, digits, . _ @ + / -; no '..'; at most 127)`,
      `${F}:3: [pxe] boot_file_efi: '-x' is not a boot file name (letters, digits, . _ @ + / -; no '..'; at most 127)`,
    ],
  },
  {
    name: 'pxe boot file climbing out of the root',
    text: '[pxe]\nboot_file = ../etc/shadow\n',
    errors: [
      `${F}:2: [pxe] boot_file: '../etc/shadow' is not a boot file name (letters, digits, . _ @ + / -; no '..'; at most 127)`,
    ],
  },
  {
    name: 'pxe next_server not an address, and alone',
    text: '[pxe]\nnext_server = tftp.example\n',
    errors: [
      `${F}:2: [pxe] next_server: 'tftp.example' is not an IPv4 address`,
      `${F}:2: [pxe] next_server: set without boot_file or boot_file_efi`,
    ],
  },
  {
    name: 'pxe boot file without DHCP',
    text: '[ipv4]\ndhcp = false\n[pxe]\nboot_file = pxelinux.0\n',
    errors: [`${F}:4: [pxe] boot_file: network boot is told to guests by DHCP: needs [ipv4] dhcp = true`],
  },
  {
    name: 'pxe in bridged mode',
    text: '[bridge]\nmode = bridged\nuplink = eth0\n[pxe]\ntftp_root = /tmp\n',
    errors: [
      `${F}:4: [pxe]: mode = bridged: the bridge takes the uplink’s addresses and the LAN serves the guests; [pxe] does not apply`,
    ],
  },
  // paths
  {
    name: 'hosts_file relative',
    text: '[dns]\nhosts_file = etc/hosts\n',
    errors: [
      `${F}:2: [dns] hosts_file: 'etc/hosts' is not an absolute path of plain characters ` +
        '(letters, digits, . _ @ + / -)',
    ],
  },
  {
    name: 'hosts_file with a space',
    text: '[dns]\nhosts_file = "/etc/my hosts"\n',
    errors: [
      `${F}:2: [dns] hosts_file: '/etc/my hosts' is not an absolute path of plain characters ` +
        '(letters, digits, . _ @ + / -)',
    ],
  },
  {
    name: 'dhcp_hostsfile relative, flat form',
    text: 'dhcp_hostsfile="hosts.txt"\n',
    errors: [
      `${F}:1: dhcp_hostsfile: 'hosts.txt' is not an absolute path of plain characters (letters, digits, . _ @ + / -)`,
    ],
  },
  // structure
  {
    name: 'unknown key with a suggestion',
    text: '[ipv4]\nleas_time = 2h\n',
    errors: [`${F}:2: [ipv4] leas_time: unknown key; did you mean 'lease_time'?`],
  },
  {
    name: 'unknown key without a suggestion',
    text: '[dns]\nforwarders = 192.0.2.1\n',
    errors: [`${F}:2: [dns] forwarders: unknown key`],
  },
  {
    name: 'unknown flat key with a suggestion',
    text: 'dhcp_rang="10.0.1.2,10.0.1.254"\n',
    errors: [`${F}:1: dhcp_rang: unknown key; did you mean 'dhcp_range'?`],
  },
  {
    name: 'sectioned key written flat',
    text: 'mode = routed\n',
    errors: [`${F}:1: mode: unknown key (keys belong in a [section])`],
  },
  {
    name: 'unknown section with a suggestion',
    text: '[ipv4s]\naddress = 10.0.1.1/24\n',
    errors: [`${F}:1: [ipv4s] (section): unknown section; did you mean [ipv4]?`],
  },
  {
    name: 'unknown per-name section with a suggestion',
    text: '[hosts.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n',
    errors: [`${F}:1: [hosts.web] (section): unknown section; did you mean [host.web]?`],
  },
  {
    name: 'per-name section without a name',
    text: '[forward]\nport = 80\n',
    errors: [`${F}:1: [forward] (section): unknown section; did you mean [forward.NAME]?`],
  },
  {
    name: 'unknown section without a suggestion',
    text: '[interfaces]\nfoo = bar\n',
    errors: [`${F}:1: [interfaces] (section): unknown section`],
  },
  {
    name: 'duplicate key',
    text: '[ipv4]\naddress = 10.0.1.1/24\naddress = 10.0.2.1/24\n',
    errors: [`${F}:3: [ipv4] address: set twice (first on line 2)`],
  },
  {
    name: 'duplicate section',
    text: '[ipv4]\naddress = 10.0.1.1/24\n[ipv4]\ndhcp = false\n',
    errors: [`${F}:3: [ipv4] (section): appears twice (first on line 1)`],
  },
  {
    name: 'junk line',
    text: '[bridge]\nthis is not ini\n',
    errors: [`${F}:2: this is not ini: not a [section] or key = value line`],
  },
  {
    name: 'unclosed section header',
    text: '[bridge\nmode = nat\n',
    errors: [
      `${F}:1: [bridge: not a [section] or key = value line`,
      `${F}:2: mode: unknown key (keys belong in a [section])`,
    ],
  },
  {
    name: 'name not matching the file',
    text: '[bridge]\nname = brmgr1\n',
    errors: [`${F}:2: [bridge] name: 'brmgr1' does not match the file name (brmgr0.conf configures brmgr0)`],
  },
  {
    name: 'flat bridge name not matching the file',
    text: 'bridge="brmgr1"\n',
    errors: [`${F}:1: bridge: 'brmgr1' does not match the file name (brmgr0.conf configures brmgr0)`],
  },
  {
    name: 'flat key set both flat and sectioned',
    text: 'addr="10.0.1.1"\nnetmask="255.255.255.0"\n[ipv4]\naddress = 10.0.1.1/24\n',
    errors: [
      `${F}:1: addr: also set as [ipv4] address on line 4; keep one`,
      `${F}:2: netmask: also set as [ipv4] address on line 4; keep one`,
    ],
  },
  {
    name: 'bridge_mac and [bridge] mac',
    text: 'bridge_mac = 52:54:00:12:34:56\n[bridge]\nmac = 52:54:00:12:34:57\n',
    errors: [`${F}:1: bridge_mac: also set as [bridge] mac on line 3; keep one`],
  },
  // injection attempts
  {
    name: 'newline smuggled through a quoted value',
    text: '[dns]\ndomain = "lab\\ndhcp-script=/bin/sh"\n',
    errors: [`${F}:2: [dns] domain: value holds a control character (newline, tab, …)`],
  },
  {
    name: 'newline smuggled into a path',
    text: '[dnsmasq]\nconf_file = "/etc/passwd\\nconf-file=/tmp/x"\n',
    errors: [`${F}:2: [dnsmasq] conf_file: value holds a control character (newline, tab, …)`],
  },
  {
    name: 'tab smuggled into upstream',
    text: '[dns]\nupstream = "192.0.2.1\\t--server=/x/1.2.3.4"\n',
    errors: [`${F}:2: [dns] upstream: value holds a control character (newline, tab, …)`],
  },
  {
    name: 'an option as a domain',
    text: '[dns]\ndomain = --dhcp-script=/bin/sh\n',
    errors: [`${F}:2: [dns] domain: '--dhcp-script=/bin/sh' is not a domain name`],
  },
  {
    name: 'an option as a path',
    text: '[dnsmasq]\nconf_file = --dhcp-script=/bin/sh\n',
    errors: [
      `${F}:2: [dnsmasq] conf_file: '--dhcp-script=/bin/sh' is not an absolute path of plain characters ` +
        '(letters, digits, . _ @ + / -)',
    ],
  },
  {
    name: 'an option as an uplink',
    text: '[bridge]\nuplink = --help\n',
    errors: [`${F}:2: [bridge] uplink: '--help' is not a valid interface name (1-15 letters, digits, '_', '.', '-')`],
  },
  {
    name: 'a ; glued to an upstream (not a comment)',
    text: '[dns]\nupstream = 1.1.1.1;rm -rf /\n',
    errors: [
      `${F}:2: [dns] upstream: '1.1.1.1;rm -rf /' is not IP[#PORT] or DOMAIN=IP[#PORT] (like 192.0.2.53, 192.0.2.53#5353 or corp.example=10.8.0.53)`,
    ],
  },
  {
    name: 'a space and an option in upstream',
    text: '[dns]\nupstream = 1.1.1.1 --dhcp-script=/bin/sh\n',
    errors: [
      `${F}:2: [dns] upstream: '1.1.1.1 --dhcp-script=/bin/sh' is not IP[#PORT] or DOMAIN=IP[#PORT] (like 192.0.2.53, 192.0.2.53#5353 or corp.example=10.8.0.53)`,
    ],
  },
  {
    name: 'a quoted ; in upstream',
    text: '[dns]\nupstream = "8.8.8.8;reboot"\n',
    errors: [
      `${F}:2: [dns] upstream: '8.8.8.8;reboot' is not IP[#PORT] or DOMAIN=IP[#PORT] (like 192.0.2.53, 192.0.2.53#5353 or corp.example=10.8.0.53)`,
    ],
  },
  {
    name: 'a glued ; in a number',
    text: '[bridge]\nmtu = 1500;9000\n',
    errors: [`${F}:2: [bridge] mtu: '1500;9000' is not a whole number`],
  },
  {
    name: 'a space in a host name target',
    text: '[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10 10.0.1.11\n',
    errors: [`${F}:3: [host.web] ip: '10.0.1.10 10.0.1.11' is not an IPv4 address`],
  },
  {
    name: 'a Unicode line separator smuggled through a quoted value',
    text: '[bridge]\nname = "brmgr0\\u2028x"\n',
    errors: [`${F}:2: [bridge] name: value holds a control character (newline, tab, …)`],
  },
  {
    name: 'a C1 control (NEL) smuggled through a quoted value',
    text: '[dns]\ndomain = "lab\\u0085x"\n',
    errors: [`${F}:2: [dns] domain: value holds a control character (newline, tab, …)`],
  },
  // several at once
  {
    name: 'every problem is reported, in file order',
    text: '[bridge]\nmode = natt\nmtu = 0\n[ipv4]\naddress = 10.0.1.1/24\nlease_time = 1m\n[dns]\ndomain = -bad-\n',
    errors: [
      `${F}:2: [bridge] mode: 'natt' is not one of nat, routed, isolated, bridged, macvtap`,
      `${F}:3: [bridge] mtu: 0 is out of range 68-65535`,
      `${F}:6: [ipv4] lease_time: 1m is shorter than dnsmasq's minimum of 2m`,
      `${F}:8: [dns] domain: '-bad-' is not a domain name`,
    ],
  },
  // flat keys, zone indexes, lease times that wrap around
  {
    name: 'flat network with a prefix wider than /8',
    text: 'addr = "10.0.1.1"\nnetwork = "10.0.0.0/7"\n',
    errors: [`${F}:2: network: '10.0.0.0/7': prefix /7 is out of range /8-/30`],
  },
  {
    name: 'flat network 0.0.0.0/0',
    text: 'addr = "10.0.1.1"\nnetwork = "0.0.0.0/0"\n',
    errors: [`${F}:2: network: '0.0.0.0/0': prefix /0 is out of range /8-/30`],
  },
  {
    name: 'flat network beside [ipv4] address',
    text: 'network = "10.0.1.0/24"\n[ipv4]\naddress = 10.0.1.1/24\n',
    errors: [`${F}:1: network: also set as [ipv4] address on line 3; keep one`],
  },
  {
    name: 'an IPv6 address with a zone index',
    text: '[ipv6]\naddress = fd42:0:1::1%up0/64\n',
    errors: [`${F}:2: [ipv6] address: 'fd42:0:1::1%up0/64': a zone index (%…) has no place in the bridge's address`],
  },
  {
    name: 'a lease time dnsmasq would wrap around',
    text: '[ipv4]\nlease_time = 99999999999999w\n',
    errors: [`${F}:2: [ipv4] lease_time: 99999999999999w is longer than 2147483647 s (about 68 years); use infinite`],
  },
  {
    name: 'upstream that no DNS server could have',
    text: '[dns]\nupstream = 0.0.0.0, 224.0.0.251, ff02::fb, ::\n',
    errors: [
      `${F}:2: [dns] upstream: '0.0.0.0': 0.0.0.0 is not a unicast address a DNS server could have`,
      `${F}:2: [dns] upstream: '224.0.0.251': 224.0.0.251 is not a unicast address a DNS server could have`,
      `${F}:2: [dns] upstream: 'ff02::fb': ff02::fb is not a unicast address a DNS server could have`,
      `${F}:2: [dns] upstream: '::': :: is not a unicast address a DNS server could have`,
    ],
  },
];

t.test('bad configs give exact error lines', async (t) => {
  t.ok(cases.length >= 35, `${cases.length} cases`);
  const names = new Set(cases.map((c) => c.name));
  t.equal(names.size, cases.length, 'case names are unique');
  for (const c of cases) {
    let err: unknown;
    try {
      const cfg = parseConfig(c.text, F, 'brmgr0');
      t.fail(`${c.name}: accepted`, { cfg });
      continue;
    } catch (e) {
      err = e;
    }
    if (!(err instanceof ConfigError)) {
      t.fail(`${c.name}: threw ${String(err)}, not a ConfigError`);
      continue;
    }
    t.strictSame(err.problems.map(formatProblem), c.errors, c.name);
  }
});

t.test('a ConfigError carries its problems as fields and as one line each', async (t) => {
  const err = t.throws(() => parseConfig('[bridge]\nmode = x\nstp = y\n', F, 'brmgr0')) as ConfigError;
  t.type(err, ConfigError);
  t.equal(err.name, 'ConfigError');
  t.has(err.problems[0], {
    file: F,
    line: 2,
    section: 'bridge',
    key: 'mode',
    message: "'x' is not one of nat, routed, isolated, bridged, macvtap",
  });
  t.equal(err.message, err.problems.map(formatProblem).join('\n'));
  t.equal(err.message.split('\n').length, 2);
  for (const line of err.message.split('\n')) t.match(line, /^\/etc\/brmgr\/brmgr0\.conf:\d+: \[bridge\] \w+: .+$/);
});

t.test('no message spans lines, even for hostile input', async (t) => {
  const hostile = [
    '[dns]\ndomain = "a\\nb"\n',
    '[ipv4]\nrange = "10.0.1.2\\r\\n10.0.1.9"\n',
    '"a\\nb" = 1\n',
    '[bridge]\nname = "x\\u2028y"\n',
  ];
  for (const text of hostile) {
    const err = t.throws(() => parseConfig(text, F, 'brmgr0')) as ConfigError;
    for (const p of err.problems) t.notMatch(formatProblem(p), /[\r\n]/, JSON.stringify(text));
  }
});

t.test('loadConfig rejects a bad bridge name before touching any file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'brmgr-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const confDir = join(dir, 'conf');
  mkdirSync(confDir);
  // valid configs sit exactly where the bad names would lead: none may be read
  writeFileSync(join(dir, 'etc.conf'), '');
  for (const bad of ['a b', 'abcdefghijklmnop', '-x', 'br:0']) writeFileSync(join(confDir, `${bad}.conf`), '');
  writeFileSync(join(confDir, 'abcdefghijklmno.conf'), '');
  t.equal(
    loadConfig('abcdefghijklmno', { BRMGR_CONF_DIR: confDir }).name,
    'abcdefghijklmno',
    'control: 15 characters are fine',
  );
  for (const bad of ['../etc', 'a b', 'abcdefghijklmnop', '', '.', '..', '-x', 'br/0', 'br:0']) {
    const err = t.throws(() => loadConfig(bad, { BRMGR_CONF_DIR: confDir }), JSON.stringify(bad)) as ConfigError;
    t.type(err, ConfigError);
    t.strictSame(
      err.problems.map(formatProblem),
      [`(command line):0: BRIDGE: '${bad}' is not a valid bridge name (1-15 letters, digits, '_', '.', '-')`],
      JSON.stringify(bad),
    );
  }
});

t.test(
  'loadConfig: a missing file is a ConfigError naming the file, what to put in it, and the bridges there are',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'brmgr-unit-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const err = t.throws(() => loadConfig('brmgr9', { BRMGR_CONF_DIR: dir })) as ConfigError;
    const create =
      'no such file; create it (an empty file is a NAT bridge on 10.0.1.1/24; "address = auto" under [ipv4] picks a free subnet)';
    t.strictSame(err.problems.map(formatProblem), [
      `${join(dir, 'brmgr9.conf')}:0: file: ${create} (no bridge is configured here)`,
    ]);
    writeFileSync(join(dir, 'lan.conf'), '');
    writeFileSync(join(dir, 'brmgr0.conf'), '');
    const again = t.throws(() => loadConfig('brmgr9', { BRMGR_CONF_DIR: dir })) as ConfigError;
    t.strictSame(again.problems.map(formatProblem), [
      `${join(dir, 'brmgr9.conf')}:0: file: ${create} (bridges configured here: brmgr0, lan)`,
    ]);
  },
);
