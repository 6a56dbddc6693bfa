import t from 'tap';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/validate.js';
import { parseDnsmasqLine } from '../../src/dnsmasq/log.js';
import { findLease, parseLeases } from '../../src/dnsmasq/leases.js';
import { renderDhcpHosts, renderDnsmasqConf, renderHosts } from '../../src/dnsmasq/render.js';
import { closedAncestor } from '../../src/dnsmasq/user.js';
import { paths } from '../../src/paths.js';

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
  t.same(parseDnsmasqLine('dnsmasq-dhcp[42]: DHCPDISCOVER(br0) 52:54:00:AA:bb:cc'), {
    level: 'info',
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
    { ip: 'fd42:0:1::1234', hostname: 'guest1', expires: new Date(1795392456000).toISOString(), duid: '00:01:00:01' },
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
