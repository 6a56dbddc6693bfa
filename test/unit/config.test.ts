/**
 * The config parser and validator on good input: defaults, every key of every
 * section, the value syntax (booleans, quotes, comments) and the original
 * brmgr's flat shell-style keys.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanIni } from '../../src/config/ini.js';
import type { BridgeConfig } from '../../src/config/types.js';
import { parseConfig } from '../../src/config/validate.js';
import { loadConfig } from '../../src/config/load.js';

const FILE = '/etc/brmgr/brmgr0.conf';
const parse = (text: string): BridgeConfig => parseConfig(text, FILE, 'brmgr0');
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

/** What an empty file means: the NAT bridge of the spec. */
const DEFAULTS: BridgeConfig = {
  file: FILE,
  name: 'brmgr0',
  mode: 'nat',
  stp: false,
  firewall: 'auto',
  portSecurity: 'basic',
  isolatePorts: false,
  guestConns: 2048,
  portMacs: 32,
  ipv4: {
    address: '10.0.1.1',
    prefix: 24,
    network: '10.0.1.0',
    dhcp: true,
    ranges: [{ from: '10.0.1.2', to: '10.0.1.254' }],
    leaseTime: '1h',
    maxLeases: 253,
  },
  dns: { enable: true, upstream: [], resolved: false },
  dnsmasq: {},
  hosts: [],
  forwards: [],
};

/** The SPEC's config block, comments and all, minus the example [host.*] and [forward.*]. */
const SPEC_DEFAULTS = `[bridge]
name = brmgr0        ; must match the file name
mode = nat           ; nat | routed | isolated | bridged
uplink =             ; nat/routed: only forward/masquerade out of this interface
                     ; bridged: this interface is enslaved into the bridge
mtu =                ; default: kernel's
mac =                ; default: a stable MAC derived from the name and host,
                     ; so the bridge MAC never flaps as ports come and go
stp = false
firewall = auto      ; auto | nftables | iptables | none
port_security = basic ; off | basic | strict
isolate_ports = false

[ipv4]
address = 10.0.1.1/24          ; the bridge's address and prefix
dhcp = true
range = 10.0.1.2-10.0.1.254    ; default: the whole subnet but the bridge's address;
                               ; several ranges: comma list
lease_time = 1h
max_leases =                   ; default: the range's size
routes =             ; classless static routes for guests (DHCP option 121):
                     ; comma list of CIDR via GATEWAY; the default route stays
ntp =                ; NTP servers for guests (option 42): comma list of IPv4,
                     ; or \`self\` for the bridge address

[ipv6]
address =            ; e.g. fd42:0:1::1/64; empty: no IPv6
ra = true            ; router advertisements (SLAAC)
dhcp = off           ; off | stateless | stateful
nat = false

[dns]
enable = true
domain =             ; guests resolve as NAME.DOMAIN; answered locally, never forwarded
upstream =           ; comma list; default: the host's resolvers
hosts_file =         ; extra name → address records

[dnsmasq]
conf_file =          ; extra dnsmasq config, included as is
hosts_file =         ; dhcp-hostsfile; changes apply without a restart

[pxe]                ; network boot for guests
tftp_root =          ; dnsmasq's TFTP server on the bridge only, serving this folder
boot_file =          ; BIOS clients' boot file (option 67)
boot_file_efi =      ; UEFI clients' boot file (client arch 7/9)
next_server =        ; default: the bridge address when tftp_root is set
`;

t.test('an empty file is the default NAT bridge', async (t) => {
  t.strictSame(parse(''), DEFAULTS);
  t.strictSame(parse('\n\n   \n'), DEFAULTS, 'blank lines only');
  t.strictSame(parse('; a comment\n# another\n   ; indented\n'), DEFAULTS, 'comments only');
});

t.test('[bridge] port_security and isolate_ports', async (t) => {
  for (const level of ['off', 'basic', 'strict'] as const)
    t.equal(parse(`[bridge]\nport_security = ${level}\n`).portSecurity, level, level);
  t.equal(parse('[bridge]\nisolate_ports = true\n').isolatePorts, true);
  t.throws(() => parse('[bridge]\nport_security = paranoid\n'), 'an unknown level is an error');
  t.throws(() => parse('[bridge]\nisolate_ports = maybe\n'), 'isolate_ports is a boolean');
});

t.test("the SPEC's documented defaults, written out, are the defaults", async (t) => {
  t.strictSame(parse(SPEC_DEFAULTS), DEFAULTS);
  t.strictSame(parse(SPEC_DEFAULTS.replaceAll('\n', '\r\n')), DEFAULTS, 'with CRLF line ends');
});

t.test("the original brmgr's default config parses unchanged to the same bridge", async (t) => {
  const original = readFileSync(fixture('brmgr0.original.conf'), 'utf8');
  t.match(original, /^bridge="brmgr0"$/m, 'the fixture is the original flat file');
  t.strictSame(parse(original), DEFAULTS);
  t.strictSame(parse(original), parse(SPEC_DEFAULTS), 'flat and sectioned forms agree');
});

t.test('the original flat keys with values map onto the sectioned ones', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'brmgr-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'extra.conf');
  const hosts = join(dir, 'dhcp-hosts');
  writeFileSync(conf, '');
  writeFileSync(hosts, '');
  const flat = parse(`# brmgr configuration file
bridge="brmgr0"
bridge_mac="52:54:00:AA:BB:CC"
addr="192.168.7.1"
netmask="255.255.255.0"
network="192.168.7.0/24"
addr6="fd42:7::1"
netmask6="64"
network6="fd42:7::/64"
dhcp_range="192.168.7.50,192.168.7.150"
dhcp_max="100"
dhcp_conffile="${conf}"
dhcp_hostsfile="${hosts}"
domain="lab.example"
`);
  const sectioned = parse(`[bridge]
name = brmgr0
mac = 52:54:00:aa:bb:cc
[ipv4]
address = 192.168.7.1/24
range = 192.168.7.50-192.168.7.150
max_leases = 100
[ipv6]
address = fd42:7::1/64
[dns]
domain = lab.example
[dnsmasq]
conf_file = ${conf}
hosts_file = ${hosts}
`);
  t.strictSame(flat, sectioned);
  t.strictSame(flat.ipv4, {
    address: '192.168.7.1',
    prefix: 24,
    network: '192.168.7.0',
    dhcp: true,
    ranges: [{ from: '192.168.7.50', to: '192.168.7.150' }],
    leaseTime: '1h',
    maxLeases: 100,
  });
  t.equal(flat.mac, '52:54:00:aa:bb:cc', 'MAC in lower case');
  t.strictSame(flat.ipv6, { address: 'fd42:7::1', prefix: 64, network: 'fd42:7::', ra: true, dhcp: 'off', nat: false });
  t.strictSame(flat.dnsmasq, { confFile: conf, hostsFile: hosts });
});

t.test('flat netmask forms: dotted, a prefix length, or taken from network', async (t) => {
  t.equal(parse('addr=10.0.1.1\nnetmask=255.255.0.0\n').ipv4.prefix, 16);
  t.equal(parse('addr=10.0.1.1\nnetmask=16\n').ipv4.prefix, 16);
  t.equal(parse('addr=10.0.1.1\nnetwork=10.0.0.0/16\n').ipv4.prefix, 16);
  t.equal(parse('addr=10.0.1.1\n').ipv4.prefix, 24, 'no netmask: /24');
  t.equal(parse('addr=10.0.1.1\nnetmask=255.255.0.0\n').ipv4.ranges[0]?.to, '10.0.255.254');
  t.equal(parse('addr6=fd42:7::1\nnetwork6=fd42:7::/64\n').ipv6?.prefix, 64);
  t.equal(parse('addr6=fd42:7::1\n').ipv6?.prefix, 64, 'no netmask6: /64');
});

t.test('flat keys and sections mix', async (t) => {
  const c = parse(`bridge="brmgr0"
addr="10.9.0.1"
netmask="255.255.255.0"
domain="lab"

[bridge]
mode = routed
[ipv4]
lease_time = 12h
[host.web]
mac = 52:54:00:00:00:10
ip = 10.9.0.10
`);
  t.equal(c.mode, 'routed');
  t.equal(c.ipv4.address, '10.9.0.1');
  t.equal(c.ipv4.leaseTime, '12h');
  t.equal(c.dns.domain, 'lab');
  t.strictSame(c.hosts, [{ name: 'web', mac: '52:54:00:00:00:10', ip: '10.9.0.10' }]);
  t.equal(
    parse('bridge=brmgr0\n[bridge]\nmode = isolated\n').mode,
    'isolated',
    'a flat `bridge=` does not swallow [bridge]',
  );
  t.equal(parse('bridge=\n[bridge]\nname = brmgr0\n').name, 'brmgr0', 'an empty flat key is unset, not a conflict');
});

t.test('every key of every section', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'brmgr-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [dnsHosts, conf, dhcpHosts] = ['hosts', 'extra.conf', 'dhcp-hosts'].map((f) => join(dir, f)) as [
    string,
    string,
    string,
  ];
  for (const f of [dnsHosts, conf, dhcpHosts]) writeFileSync(f, '');
  const c = parse(`[bridge]
name = brmgr0
mode = routed
uplink = eth0.100
mtu = 9000
mac = 02:00:00:00:00:01
stp = true
firewall = iptables
port_security = off
isolate_ports = true

[ipv4]
address = 192.168.50.1/24
dhcp = false
range = 192.168.50.100-192.168.50.199
lease_time = 30m
max_leases = 50

[ipv6]
address = 2001:db8:50::1/64
ra = false
dhcp = stateless
nat = true

[dns]
enable = false
domain = Lab.Example.
upstream = 192.0.2.53, 2001:db8::53
hosts_file = ${dnsHosts}

[dnsmasq]
conf_file = ${conf}
hosts_file = ${dhcpHosts}

[host.Web]
mac = 52:54:00:00:00:10
ip = 192.168.50.10

[forward.http]
proto = tcp
port = 8080
to = web:80

[forward.dns]
proto = udp
port = 5300-5301
to = 192.168.50.11:5300-5301
`);
  t.strictSame(c, {
    file: FILE,
    name: 'brmgr0',
    mode: 'routed',
    uplink: 'eth0.100',
    mtu: 9000,
    mac: '02:00:00:00:00:01',
    stp: true,
    firewall: 'iptables',
    portSecurity: 'off',
    isolatePorts: true,
    guestConns: 2048,
    portMacs: 32,
    ipv4: {
      address: '192.168.50.1',
      prefix: 24,
      network: '192.168.50.0',
      dhcp: false,
      ranges: [{ from: '192.168.50.100', to: '192.168.50.199' }],
      leaseTime: '30m',
      maxLeases: 50,
    },
    ipv6: { address: '2001:db8:50::1', prefix: 64, network: '2001:db8:50::', ra: false, dhcp: 'stateless', nat: true },
    dns: {
      enable: false,
      domain: 'lab.example',
      upstream: [{ ip: '192.0.2.53' }, { ip: '2001:db8::53' }],
      hostsFile: dnsHosts,
      resolved: false,
    },
    dnsmasq: { confFile: conf, hostsFile: dhcpHosts },
    hosts: [{ name: 'web', mac: '52:54:00:00:00:10', ip: '192.168.50.10' }],
    forwards: [
      {
        name: 'http',
        proto: 'tcp',
        ports: { from: 8080, to: 8080 },
        toIp: '192.168.50.10',
        toPorts: { from: 80, to: 80 },
      },
      {
        name: 'dns',
        proto: 'udp',
        ports: { from: 5300, to: 5301 },
        toIp: '192.168.50.11',
        toPorts: { from: 5300, to: 5301 },
      },
    ],
  });
});

t.test('booleans', async (t) => {
  for (const word of ['true', 'yes', 'on', '1', 'TRUE', 'Yes', 'On']) {
    const c = parse(`[bridge]\nstp = ${word}\n[dns]\nenable = ${word}\n[ipv4]\ndhcp = ${word}\n`);
    t.strictSame([c.stp, c.dns.enable, c.ipv4.dhcp], [true, true, true], word);
  }
  for (const word of ['false', 'no', 'off', '0', 'FALSE', 'No', 'OFF']) {
    const c = parse(`[bridge]\nstp = ${word}\n[dns]\nenable = ${word}\n[ipv4]\ndhcp = ${word}\n`);
    t.strictSame([c.stp, c.dns.enable, c.ipv4.dhcp], [false, false, false], word);
  }
  const v6 = parse('[ipv6]\naddress = fd42::1/64\nra = off\nnat = yes\n').ipv6!;
  t.strictSame([v6.ra, v6.nat], [false, true], '[ipv6] ra and nat');
  t.equal(parse('[bridge]\nstp =\n').stp, false, 'empty: the default');
});

t.test('enums are case-insensitive and normalized', async (t) => {
  t.equal(parse('[bridge]\nmode = Routed\n').mode, 'routed');
  t.equal(parse('[bridge]\nfirewall = NFTABLES\n').firewall, 'nftables');
  t.equal(parse('[bridge]\nfirewall = none\n').firewall, 'none');
  t.equal(parse('[ipv6]\naddress = fd42::1/64\ndhcp = Stateful\n').ipv6?.dhcp, 'stateful');
  t.equal(parse('[forward.a]\nproto = UDP\nport = 53\nto = 10.0.1.5\n').forwards[0]?.proto, 'udp');
});

t.test('quoted values', async (t) => {
  t.equal(parse('[bridge]\nname = "brmgr0"\n').name, 'brmgr0', 'double quotes');
  t.equal(parse("[bridge]\nmode = 'routed'\n").mode, 'routed', 'single quotes');
  t.equal(parse('[bridge]\nmode = "routed"   ; comment after the quote\n').mode, 'routed', 'quoted, then a comment');
  t.equal(
    parse("[bridge]\nmode = 'routed'# glued comment after the quote\n").mode,
    'routed',
    'quoted, then a glued comment',
  );
  t.equal(parse('[dns]\ndomain = "lab.example"\n').dns.domain, 'lab.example');
  t.equal(parse('[dns]\ndomain = "\\u006cab"\n').dns.domain, 'lab', 'JSON escapes in double quotes');
  t.equal(parse('[bridge]\nuplink = "eth0"\n').uplink, 'eth0');
  t.strictSame(
    parse('[dns]\nupstream = "192.0.2.1, 192.0.2.2"\n').dns.upstream,
    [{ ip: '192.0.2.1' }, { ip: '192.0.2.2' }],
    'a quoted comma list',
  );
  t.strictSame(parse('[bridge]\nmtu = ""\n'), DEFAULTS, 'quoted empty is unset');
});

t.test('inline comments', async (t) => {
  const c = parse(`[bridge] ; the bridge
mode = routed ; after a space
mtu = 1500	# after a tab
stp = yes       # after many spaces
[ipv4]          # a comment after a section header
address = 10.2.0.1/16 ; comment ; with ; more
`);
  t.equal(c.mode, 'routed');
  t.equal(c.mtu, 1500);
  t.equal(c.stp, true);
  t.equal(c.ipv4.address, '10.2.0.1');
  t.equal(c.ipv4.prefix, 16);
  t.strictSame(parse('[bridge]\nmtu = ; nothing but a comment\n'), DEFAULTS, 'a key with only a comment is unset');
});

t.test('surrounding whitespace is ignored', async (t) => {
  const c = parse('  [bridge]  \n   mode   =   isolated   \n\tstp\t=\ttrue\t\n');
  t.equal(c.mode, 'isolated');
  t.equal(c.stp, true);
  t.strictSame(parse('[dns]\nupstream = 192.0.2.1 ,192.0.2.2,  2001:db8::1 ,\n').dns.upstream, [
    { ip: '192.0.2.1' },
    { ip: '192.0.2.2' },
    { ip: '2001:db8::1' },
  ]);
});

t.test('IPv4 details', async (t) => {
  t.strictSame(
    parse('[ipv4]\naddress = 10.0.1.254/24\n').ipv4.ranges,
    [{ from: '10.0.1.1', to: '10.0.1.253' }],
    'bridge at the top: range below it',
  );
  t.strictSame(
    parse('[ipv4]\naddress = 10.0.1.100/24\n').ipv4.ranges,
    [{ from: '10.0.1.101', to: '10.0.1.254' }],
    'the larger side',
  );
  t.strictSame(parse('[ipv4]\naddress = 10.0.1.1/30\n').ipv4.ranges, [{ from: '10.0.1.2', to: '10.0.1.2' }], 'a /30');
  t.equal(parse('[ipv4]\naddress = 10.0.1.1/30\n').ipv4.maxLeases, 1);
  t.equal(parse('[ipv4]\nrange = 10.0.1.100-10.0.1.149\n').ipv4.maxLeases, 50, 'max_leases defaults to the range size');
  const two = parse('[ipv4]\nrange = 10.0.1.100-10.0.1.149, 10.0.1.20-10.0.1.29\n').ipv4;
  t.strictSame(
    two.ranges,
    [
      { from: '10.0.1.100', to: '10.0.1.149' },
      { from: '10.0.1.20', to: '10.0.1.29' },
    ],
    'several ranges, in config order',
  );
  t.equal(two.maxLeases, 60, 'max_leases defaults to the sum of the ranges');
  t.equal(parse('[ipv4]\nrange = 10.0.1.2-10.0.1.9,10.0.1.10-10.0.1.19\n').ipv4.maxLeases, 18, 'adjacent ranges');
  t.equal(parse('[ipv4]\naddress = 172.16.0.1/12\n').ipv4.network, '172.16.0.0');
  t.equal(parse('[ipv4]\nlease_time = 1H\n').ipv4.leaseTime, '1h', 'units in lower case');
  t.equal(parse('[ipv4]\nlease_time = 120\n').ipv4.leaseTime, '120', 'plain seconds');
  t.equal(parse('[ipv4]\nlease_time = 2m\n').ipv4.leaseTime, '2m', "dnsmasq's minimum");
  t.equal(parse('[ipv4]\nlease_time = 1w\n').ipv4.leaseTime, '1w');
  t.equal(parse('[ipv4]\nlease_time = Infinite\n').ipv4.leaseTime, 'infinite');
});

t.test('IPv6 details', async (t) => {
  t.strictSame(
    parse('[ipv6]\naddress = FD42:0:1:0:0:0:0:1/64\n').ipv6,
    {
      address: 'fd42:0:1::1',
      prefix: 64,
      network: 'fd42:0:1::',
      ra: true,
      dhcp: 'off',
      nat: false,
    },
    'canonical form',
  );
  t.equal(parse('[ipv6]\naddress = 2001:db8::1/56\nra = false\n').ipv6?.network, '2001:db8::', 'not /64 without RA');
  t.equal(parse('[ipv6]\naddress =\n').ipv6, undefined, 'empty: no IPv6');
  t.equal(parse('[ipv6]\nra = true\n').ipv6, undefined, 'no address: no IPv6, other keys ignored');
});

t.test('modes and their defaults', async (t) => {
  for (const mode of ['nat', 'routed', 'isolated'] as const) {
    const c = parse(`[bridge]\nmode = ${mode}\n`);
    t.equal(c.mode, mode);
    t.equal(c.ipv4.dhcp, true, `${mode}: DHCP on`);
  }
  const bridged = parse('[bridge]\nmode = bridged\nuplink = eth0\n');
  t.equal(bridged.ipv4.dhcp, false, 'bridged: DHCP off by default (the LAN has its own)');
  t.throws(
    () => parse('[bridge]\nmode = bridged\nuplink = eth0\n[ipv4]\ndhcp = on\n'),
    /dhcp must stay off/,
    'and it cannot be turned on',
  );
});

t.test('static hosts and forwards', async (t) => {
  const c = parse(`[dns]
domain = lab
[host.Web-1]
mac = 52:54:00:AB:00:10
ip = 10.0.1.10
[host.db]
ip = 10.0.1.11
mac = 52:54:00:ab:00:11
[forward.web]
port = 8080
to = WEB-1:80
[forward.range]
proto = udp
port = 27015-27020
to = 10.0.1.20:27015-27020
[forward.same-port]
port = 443
to = db
`);
  t.strictSame(c.hosts, [
    { name: 'web-1', mac: '52:54:00:ab:00:10', ip: '10.0.1.10' },
    { name: 'db', mac: '52:54:00:ab:00:11', ip: '10.0.1.11' },
  ]);
  t.strictSame(c.forwards, [
    { name: 'web', proto: 'tcp', ports: { from: 8080, to: 8080 }, toIp: '10.0.1.10', toPorts: { from: 80, to: 80 } },
    {
      name: 'range',
      proto: 'udp',
      ports: { from: 27015, to: 27020 },
      toIp: '10.0.1.20',
      toPorts: { from: 27015, to: 27020 },
    },
    {
      name: 'same-port',
      proto: 'tcp',
      ports: { from: 443, to: 443 },
      toIp: '10.0.1.11',
      toPorts: { from: 443, to: 443 },
    },
  ]);
  const both = parse('[forward.a]\nproto = udp\nport = 53\nto = 10.0.1.10\n[forward.b]\nport = 53\nto = 10.0.1.11\n');
  t.equal(both.forwards.length, 2, 'the same port over tcp and udp is no clash');
  t.equal(
    parse('[forward.a]\nport = 1\nto = 10.0.1.10:65535\n').forwards[0]?.toPorts.to,
    65535,
    'the ends of the port range',
  );
});

t.test('scanIni keeps line numbers, sections and junk', async (t) => {
  const s = scanIni('flat = 1\n\n[a]\n; c\nk = v = w\n[b.c] ; note\njunk here\n=nokey\n');
  t.strictSame(s.sections, [
    { name: 'a', line: 3 },
    { name: 'b.c', line: 6 },
  ]);
  t.strictSame(s.entries, [
    { section: '', key: 'flat', value: '1', line: 1 },
    { section: 'a', key: 'k', value: 'v = w', line: 5 },
  ]);
  t.strictSame(s.junk, [
    { line: 7, text: 'junk here' },
    { line: 8, text: '=nokey' },
  ]);
  t.equal(scanIni('k = 1.1.1.1;x\n').entries[0]?.value, '1.1.1.1;x', 'a glued ; is part of the value, not a comment');
  t.equal(scanIni('k = a#b\n').entries[0]?.value, 'a#b', 'a glued # likewise');
  t.equal(
    scanIni('k = "a\\nb"\n').entries[0]?.value,
    'a\nb',
    'JSON escapes are decoded (and then rejected by the validator)',
  );
});

t.test('loadConfig reads BRMGR_CONF_DIR/BRIDGE.conf', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'brmgr-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'br-test.conf'), '[ipv4]\naddress = 10.77.0.1/24\n');
  const c = loadConfig('br-test', { BRMGR_CONF_DIR: dir });
  t.equal(c.name, 'br-test');
  t.equal(c.file, join(dir, 'br-test.conf'));
  t.equal(c.ipv4.address, '10.77.0.1');
});

t.test('routes, NTP, static hosts with lease time and DHCPv6 address, network boot', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'brmgr-unit-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const c = parse(`[ipv4]
routes = 192.168.100.0/24 via 10.0.1.5,10.8.0.0/13   via  10.0.1.1
ntp = SELF, 192.0.2.123
[ipv6]
address = fd42:0:1::1/64
dhcp = stateful
[dns]
upstream = 192.0.2.53#5353, corp.example=10.8.0.53
[host.web]
mac = 52:54:00:00:00:10
ip = 10.0.1.10
ip6 = fd42:0:1:0:0:0:0:10
lease_time = 2H
[pxe]
tftp_root = ${root}
boot_file = pxelinux.0
`);
  t.strictSame(c.ipv4.routes, [
    { network: '192.168.100.0', prefix: 24, via: '10.0.1.5' },
    { network: '10.8.0.0', prefix: 13, via: '10.0.1.1' },
  ]);
  t.strictSame(c.ipv4.ntp, ['self', '192.0.2.123']);
  t.strictSame(c.dns.upstream, [
    { ip: '192.0.2.53', port: 5353 },
    { ip: '10.8.0.53', domain: 'corp.example' },
  ]);
  t.strictSame(c.hosts, [
    { name: 'web', mac: '52:54:00:00:00:10', ip: '10.0.1.10', ip6: 'fd42:0:1::10', leaseTime: '2h' },
  ]);
  t.strictSame(c.pxe, { tftpRoot: root, bootFile: 'pxelinux.0', nextServer: '10.0.1.1' }, 'next_server: the bridge');
  t.strictSame(
    parse('[pxe]\nboot_file = pxelinux.0\nnext_server = 192.0.2.69\n').pxe,
    { bootFile: 'pxelinux.0', nextServer: '192.0.2.69' },
    'another TFTP server',
  );
  t.equal(parse('').pxe, undefined, 'no [pxe]: nothing');
});
