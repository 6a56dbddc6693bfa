import t from 'tap';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/validate.js';
import { parseDnsmasqLine } from '../../src/dnsmasq/log.js';
import { findLease, parseLeases } from '../../src/dnsmasq/leases.js';
import { renderDhcpHosts, renderDnsmasqConf, renderHosts } from '../../src/dnsmasq/render.js';
import { cannotEnter, closedAncestor } from '../../src/system/dnsmasq-account.js';
import { paths } from '../../src/paths.js';
import { reverseZones4, reverseZones6 } from '../../src/net/addr.js';

const env = { BRMGR_RUN_DIR: '/run/brmgr', BRMGR_STATE_DIR: '/var/lib/misc' };
const account = { user: 'dnsmasq', group: 'nogroup' };
const cfg = (text: string) => parseConfig(text, '/etc/brmgr/br0.conf', 'br0');

t.test('the default config serves only the bridge, hermetically', async (t) => {
  const conf = renderDnsmasqConf(cfg(''), paths('br0', env), account);
  const lines = conf.split('\n');
  for (const l of [
    'interface=br0',
    'except-interface=lo',
    'bind-dynamic',
    'no-hosts',
    'user=dnsmasq',
    'group=nogroup',
    'dhcp-leasefile=/var/lib/misc/dnsmasq.br0.leases',
    'dhcp-range=10.0.1.2,10.0.1.254,255.255.255.0,1h',
    'dhcp-lease-max=253',
    'dhcp-authoritative',
    'no-ping',
    'dhcp-hostsfile=/run/brmgr/br0/dhcp-hosts',
    'addn-hosts=/run/brmgr/br0/hosts',
  ]) {
    t.ok(lines.includes(l), l);
  }
  t.notOk(
    lines.some((l) => l.startsWith('listen-address=0.0.0.0') || l === 'bind-interfaces'),
    'never the wildcard, nor answers to queries from other interfaces',
  );
  t.notOk(lines.includes('no-resolv'), "forwards to the host's resolvers by default");
});

t.test('domain, upstream, static hosts, files, IPv6', async (t) => {
  const c = cfg(`[ipv4]
address = 192.168.50.1/24
range = 192.168.50.100-192.168.50.199
lease_time = 30m
max_leases = 50
[ipv6]
address = fd42:0:1::1/64
dhcp = stateful
[dns]
domain = lab.internal
upstream = 192.0.2.53, 2001:db8::53
[host.web]
mac = 52:54:00:00:00:10
ip = 192.168.50.10
[host.db]
mac = 52:54:00:00:00:09
ip = 192.168.50.9
`);
  const conf = renderDnsmasqConf(c, paths('br0', env), account).split('\n');
  for (const l of [
    'dhcp-range=192.168.50.100,192.168.50.199,255.255.255.0,30m',
    'dhcp-lease-max=50',
    'no-resolv',
    'server=192.0.2.53',
    'server=2001:db8::53',
    'domain=lab.internal',
    'local=/lab.internal/',
    'expand-hosts',
    'dhcp-range=fd42:0:1::1000,fd42:0:1::ffff,64,30m',
    'enable-ra',
  ]) {
    t.ok(conf.includes(l), l);
  }
  t.equal(renderDhcpHosts(c), '52:54:00:00:00:10,192.168.50.10,web\n52:54:00:00:00:09,192.168.50.9,db\n');
  t.equal(renderHosts(c), '192.168.50.9 db\n192.168.50.10 web\n', 'sorted by address');
});

t.test('several ranges: one dhcp-range each, the lease limit their sum', async (t) => {
  const c = cfg('[ipv4]\nrange = 10.0.1.100-10.0.1.149, 10.0.1.20-10.0.1.29\n');
  const conf = renderDnsmasqConf(c, paths('br0', env), account).split('\n');
  t.strictSame(
    conf.filter((l) => l.startsWith('dhcp-range=') || l.startsWith('dhcp-lease-max=')),
    [
      'dhcp-range=10.0.1.100,10.0.1.149,255.255.255.0,1h',
      'dhcp-range=10.0.1.20,10.0.1.29,255.255.255.0,1h',
      'dhcp-lease-max=60',
    ],
  );
});

const optionLines = (conf: string) =>
  conf.split('\n').filter((l) => /^(dhcp-option|dhcp-match|dhcp-boot|enable-tftp|tftp-|ra-param)/.test(l));

t.test('MTU: DHCP option 26, and in router advertisements when they are sent', async (t) => {
  const v4 = renderDnsmasqConf(cfg('[bridge]\nmtu = 1400\n'), paths('br0', env), account);
  t.strictSame(optionLines(v4), ['dhcp-option=option:mtu,1400'], 'no IPv6: option 26 only');
  const ra = renderDnsmasqConf(cfg('[bridge]\nmtu = 1400\n[ipv6]\naddress = fd42::1/64\n'), paths('br0', env), account);
  t.strictSame(optionLines(ra), ['dhcp-option=option:mtu,1400', 'ra-param=br0,mtu:1400,0']);
  const noRa = cfg('[bridge]\nmtu = 1400\n[ipv6]\naddress = fd42::1/64\nra = false\n[ipv4]\ndhcp = false\n');
  t.strictSame(optionLines(renderDnsmasqConf(noRa, paths('br0', env), account)), [], 'no DHCP, no RA: nothing');
  t.strictSame(optionLines(renderDnsmasqConf(cfg(''), paths('br0', env), account)), [], 'no mtu: nothing');
});

t.test('classless static routes (121 and 249) carry the default route via the bridge; NTP', async (t) => {
  for (const mode of ['nat', 'isolated']) {
    const c = cfg(
      `[bridge]\nmode = ${mode}\n[ipv4]\nroutes = 192.168.100.0/24 via 10.0.1.5, 10.8.0.0/13 via 10.0.1.1\nntp = self, 192.0.2.123\n`,
    );
    t.strictSame(
      optionLines(renderDnsmasqConf(c, paths('br0', env), account)),
      [
        'dhcp-option=option:classless-static-route,0.0.0.0/0,10.0.1.1,192.168.100.0/24,10.0.1.5,10.8.0.0/13,10.0.1.1',
        'dhcp-option=249,0.0.0.0/0,10.0.1.1,192.168.100.0/24,10.0.1.5,10.8.0.0/13,10.0.1.1',
        'dhcp-option=option:ntp-server,0.0.0.0,192.0.2.123',
      ],
      `${mode}: the same default route dnsmasq's router option gives`,
    );
  }
});

t.test('network boot: BIOS and UEFI boot files, TFTP on the bridge only', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'brmgr-unit-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const both = cfg(`[pxe]\ntftp_root = ${root}\nboot_file = pxelinux.0\nboot_file_efi = efi/grubx64.efi\n`);
  t.strictSame(optionLines(renderDnsmasqConf(both, paths('br0', env), account)), [
    'dhcp-match=set:efi,option:client-arch,7',
    'dhcp-match=set:efi,option:client-arch,9',
    'dhcp-boot=tag:efi,efi/grubx64.efi,,10.0.1.1',
    'dhcp-boot=tag:!efi,pxelinux.0,,10.0.1.1',
    'enable-tftp=br0',
    `tftp-root=${root}`,
  ]);
  const elsewhere = cfg('[pxe]\nboot_file = pxelinux.0\nnext_server = 10.0.1.5\n');
  t.strictSame(
    optionLines(renderDnsmasqConf(elsewhere, paths('br0', env), account)),
    ['dhcp-boot=pxelinux.0,,10.0.1.5'],
    'another TFTP server: no TFTP here, every client gets the one file',
  );
  const efiOnly = cfg(`[pxe]\ntftp_root = ${root}\nboot_file_efi = ipxe.efi\n`);
  t.notOk(
    optionLines(renderDnsmasqConf(efiOnly, paths('br0', env), account)).some((l) => l.includes('!efi')),
    'UEFI only: BIOS clients get no boot file',
  );
});

t.test('static hosts: lease time and fixed DHCPv6 address in the dhcp-hosts line', async (t) => {
  const c = cfg(`[ipv6]
address = fd42:0:1::1/64
dhcp = stateful
[host.web]
mac = 52:54:00:00:00:10
ip = 10.0.1.10
ip6 = FD42:0:1:0::10
lease_time = 2h
[host.db]
mac = 52:54:00:00:00:09
ip = 10.0.1.9
lease_time = infinite
`);
  t.equal(
    renderDhcpHosts(c),
    '52:54:00:00:00:10,10.0.1.10,[fd42:0:1::10],web,2h\n52:54:00:00:00:09,10.0.1.9,db,infinite\n',
  );
  t.equal(renderHosts(c), '10.0.1.9 db\n10.0.1.10 web\nfd42:0:1::10 web\n', 'the fixed IPv6 address resolves too');
});

t.test('upstream: a port, per-domain forwarders; only plain ones replace the host resolvers', async (t) => {
  const c = cfg(
    '[dns]\nupstream = 192.0.2.53#5353, Corp.Example.=10.8.0.53#54, 2001:DB8::53, in.example=2001:db8::54\n',
  );
  const lines = renderDnsmasqConf(c, paths('br0', env), account)
    .split('\n')
    .filter((l) => l.startsWith('server=') || l === 'no-resolv');
  t.strictSame(lines, [
    'no-resolv',
    'server=192.0.2.53#5353',
    'server=2001:db8::53',
    'server=/corp.example/10.8.0.53#54',
    'server=/in.example/2001:db8::54',
  ]);
  const only = renderDnsmasqConf(cfg('[dns]\nupstream = corp.example=10.8.0.53\n'), paths('br0', env), account);
  t.notMatch(only, /^no-resolv$/m, "a per-domain forwarder alone: the rest still goes to the host's resolvers");
});

t.test("reverse zones of the bridge's subnets are answered locally", async (t) => {
  t.strictSame(reverseZones4('10.0.1.0', 24), ['1.0.10.in-addr.arpa']);
  t.strictSame(reverseZones4('10.9.0.0', 16), ['9.10.in-addr.arpa']);
  t.strictSame(reverseZones4('10.0.0.0', 8), ['10.in-addr.arpa']);
  t.strictSame(reverseZones4('10.0.16.0', 22), [
    '16.0.10.in-addr.arpa',
    '17.0.10.in-addr.arpa',
    '18.0.10.in-addr.arpa',
    '19.0.10.in-addr.arpa',
  ]);
  t.strictSame(reverseZones4('10.0.1.64', 30), [
    '64.1.0.10.in-addr.arpa',
    '65.1.0.10.in-addr.arpa',
    '66.1.0.10.in-addr.arpa',
    '67.1.0.10.in-addr.arpa',
  ]);
  t.equal(reverseZones4('10.0.0.0', 12).length, 16, 'a /12: sixteen /16 zones');
  t.equal(reverseZones4('10.0.1.0', 25).length, 128, 'a /25: its 128 addresses');
  t.strictSame(reverseZones6('fd42:0:1::', 64), ['0.0.0.0.1.0.0.0.0.0.0.0.2.4.d.f.ip6.arpa']);
  t.strictSame(reverseZones6('2001:db8:1:8::', 62), [
    '8.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    '9.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    'a.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    'b.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
  ]);
  t.strictSame(reverseZones6('fd00::', 8), ['d.f.ip6.arpa']);
  const conf = renderDnsmasqConf(cfg('[ipv6]\naddress = fd42:0:1::1/64\n'), paths('br0', env), account);
  t.match(conf, /^local=\/1\.0\.10\.in-addr\.arpa\/$/m);
  t.match(conf, /^local=\/0\.0\.0\.0\.1\.0\.0\.0\.0\.0\.0\.0\.2\.4\.d\.f\.ip6\.arpa\/$/m);
  const off = renderDnsmasqConf(cfg('[dns]\nenable = false\n'), paths('br0', env), account);
  t.notMatch(off, /in-addr\.arpa/, 'no DNS: no zones');
});

t.test('IPv6 router advertisements only, and stateless DHCPv6', async (t) => {
  const ra = renderDnsmasqConf(cfg('[ipv6]\naddress = fd42:0:1::1/64\n'), paths('br0', env), account);
  t.match(ra, /^dhcp-range=fd42:0:1::,ra-only,ra-names,64,1h$/m);
  const sl = renderDnsmasqConf(cfg('[ipv6]\naddress = fd42:0:1::1/64\ndhcp = stateless\n'), paths('br0', env), account);
  t.match(sl, /^dhcp-range=fd42:0:1::,ra-stateless,ra-names,64,1h$/m);
  const none = renderDnsmasqConf(cfg('[ipv6]\naddress = fd42:0:1::1/64\nra = false\n'), paths('br0', env), account);
  t.notMatch(none, /enable-ra|dhcp-range=fd42/);
});

t.test('DNS off, DHCP off', async (t) => {
  const conf = renderDnsmasqConf(cfg('[dns]\nenable = false\n[ipv4]\ndhcp = false\n'), paths('br0', env), account);
  t.match(conf, /^port=0$/m);
  t.notMatch(conf, /dhcp-range/);
});

t.test('dnsmasq log lines become structured events', async (t) => {
  // the steps before an answer are debug; the answer is info
  t.same(parseDnsmasqLine('dnsmasq-dhcp[42]: DHCPDISCOVER(br0) 52:54:00:AA:bb:cc'), {
    level: 'debug',
    msg: 'DHCPDISCOVER(br0) 52:54:00:AA:bb:cc',
    source: 'dhcp',
    event: 'discover',
    mac: '52:54:00:aa:bb:cc',
  });
  t.same(parseDnsmasqLine('dnsmasq-dhcp[42]: DHCPACK(br0) 10.0.1.23 52:54:00:aa:bb:cc web'), {
    level: 'info',
    msg: 'DHCPACK(br0) 10.0.1.23 52:54:00:aa:bb:cc web',
    source: 'dhcp',
    event: 'ack',
    ip: '10.0.1.23',
    mac: '52:54:00:aa:bb:cc',
    hostname: 'web',
  });
  t.match(parseDnsmasqLine('dnsmasq-dhcp[42]: DHCPNAK(br0) 10.0.9.9 52:54:00:aa:bb:cc wrong network'), {
    level: 'warn',
    event: 'nak',
    ip: '10.0.9.9',
    reason: 'wrong network',
  });
  t.match(parseDnsmasqLine('dnsmasq-dhcp[42]: DHCPRELEASE(br0) 10.0.1.23 52:54:00:aa:bb:cc'), {
    event: 'release',
    ip: '10.0.1.23',
  });
  // DHCPv6: the address, the client's DUID, the hostname; a release names the DUID alone
  const duid = '00:01:00:01:32:a7:f6:be:ba:63:43:d5:b1:5e';
  t.same(parseDnsmasqLine(`dnsmasq-dhcp[42]: DHCPREPLY(br0) fd00:b1::d085 ${duid} g6`), {
    level: 'info',
    msg: `DHCPREPLY(br0) fd00:b1::d085 ${duid} g6`,
    source: 'dhcp',
    event: 'reply',
    ip: 'fd00:b1::d085',
    duid,
    hostname: 'g6',
  });
  t.same(parseDnsmasqLine(`dnsmasq-dhcp[42]: DHCPRELEASE(br0) ${duid.toUpperCase()}`), {
    level: 'info',
    msg: `DHCPRELEASE(br0) ${duid.toUpperCase()}`,
    source: 'dhcp',
    event: 'release',
    duid,
  });
  t.match(parseDnsmasqLine('dnsmasq-dhcp[42]: DHCPREPLY(br0) fd00:b1::5 00:02:00:00:ab:11:01 address unavailable'), {
    ip: 'fd00:b1::5',
    duid: '00:02:00:00:ab:11:01',
    hostname: undefined,
    reason: 'address unavailable',
  });
  t.match(parseDnsmasqLine('dnsmasq-dhcp[42]: DHCPREPLY(br0) 10:20:30:40:50:60:70:80 00:03:00:01:52:54:00:aa:bb:cc'), {
    ip: '10:20:30:40:50:60:70:80',
    duid: '00:03:00:01:52:54:00:aa:bb:cc',
  });
  t.match(parseDnsmasqLine('dnsmasq[1]: failed to create listening socket for 10.0.1.1: Address already in use'), {
    level: 'error',
    source: 'dns',
  });
  t.match(parseDnsmasqLine('dnsmasq[1]: warning: no upstream servers configured'), { level: 'warn' });
  t.match(parseDnsmasqLine('dnsmasq: bad command line options: try --help'), { level: 'error' });
  t.match(parseDnsmasqLine('dnsmasq[1]: started, version 2.90 cachesize 150'), {
    level: 'info',
    msg: 'started, version 2.90 cachesize 150',
  });
});

t.test('lease file', async (t) => {
  const leases = parseLeases(`1795392456 52:54:00:00:00:10 10.0.1.42 guest1 01:52:54:00:00:00:10
0 52:54:00:00:00:11 10.0.1.11 * *
duid 00:01:00:01:2c:3e:4f:50:52:54:00:00:00:01
1795392456 1234 fd42:0:1::1234 guest1 00:01:00:01
`);
  t.same(leases, [
    { mac: '52:54:00:00:00:10', ip: '10.0.1.42', hostname: 'guest1', expires: new Date(1795392456000).toISOString() },
    { mac: '52:54:00:00:00:11', ip: '10.0.1.11' },
    {
      ip: 'fd42:0:1::1234',
      hostname: 'guest1',
      expires: new Date(1795392456000).toISOString(),
      duid: '00:01:00:01',
      iaid: '1234',
    },
  ]);
  t.equal(findLease(leases, '52:54:00:00:00:10')?.ip, '10.0.1.42');
  t.equal(findLease(leases, 'GUEST1')?.ip, '10.0.1.42', 'hostname, any case; the IPv4 lease first');
  t.equal(findLease(leases.slice(2), 'guest1')?.ip, 'fd42:0:1::1234', 'a DHCPv6 lease by hostname');
  t.equal(findLease(leases, '52:54:00:00:00:99'), undefined);
});

t.test('closedAncestor: a folder above the run dir that dnsmasq, without root, cannot pass through', async (t) => {
  const nobody = { uid: 65534, gid: 65534 };
  const top = mkdtempSync(join(tmpdir(), 'brmgr-unit-'));
  t.teardown(() => rmSync(top, { recursive: true, force: true }));
  const runDir = join(top, 'run', 'brmgr0');
  mkdirSync(runDir, { recursive: true });
  chmodSync(join(top, 'run'), 0o755);

  chmodSync(top, 0o700);
  t.equal(closedAncestor(runDir, nobody), top, 'a 0700 folder owned by root is closed to nobody');
  chmodSync(top, 0o750);
  chownSync(top, 0, nobody.gid);
  t.equal(closedAncestor(runDir, nobody), undefined, "0750 with dnsmasq's group: open");
  chownSync(top, 0, 0);
  t.equal(closedAncestor(runDir, nobody), top, '0750 with another group: closed');
  chmodSync(top, 0o711);
  t.equal(closedAncestor(runDir, nobody), undefined, 'search permission for others is enough');
});

t.test('cannotEnter: the TFTP root must be reachable and searchable for dnsmasq without root', async (t) => {
  const nobody = { uid: 65534, gid: 65534 };
  const top = mkdtempSync(join(tmpdir(), 'brmgr-unit-'));
  t.teardown(() => rmSync(top, { recursive: true, force: true }));
  const root = join(top, 'tftp');
  mkdirSync(root);
  chmodSync(top, 0o755);
  chmodSync(root, 0o755);
  t.equal(cannotEnter(root, nobody), undefined, 'open');
  chmodSync(root, 0o750);
  t.equal(cannotEnter(root, nobody), `cannot enter ${root} (mode 750)`);
  chmodSync(root, 0o755);
  chmodSync(top, 0o700);
  t.equal(cannotEnter(root, nobody), `cannot pass through ${top}`);
});

t.test('no address available: a warning with the MAC that asked, though DISCOVERs are debug', async (t) => {
  t.match(parseDnsmasqLine('dnsmasq-dhcp[9]: DHCPDISCOVER(brmgr0) 52:54:00:aa:bb:cc no address available'), {
    level: 'warn',
    event: 'discover',
    mac: '52:54:00:aa:bb:cc',
    reason: 'no address available',
  });
  t.equal(parseDnsmasqLine('dnsmasq-dhcp[9]: DHCPDISCOVER(brmgr0) 52:54:00:aa:bb:cc').level, 'debug');
});
