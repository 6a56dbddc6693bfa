import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import { forwardConflicts, portConflicts } from '../../src/plan/conflicts.js';
import { parseListeners, parseProcNet } from '../../src/host/listeners.js';

const SS = `udp UNCONN 0      0      0.0.0.0:53 0.0.0.0:* users:(("dnsmasq",pid=25515,fd=4))
udp UNCONN 0      0         [::]:53    [::]:* users:(("dnsmasq",pid=25515,fd=6))
tcp LISTEN 0      32     127.0.0.53%lo:53 0.0.0.0:* users:(("systemd-resolve",pid=300,fd=14))
udp UNCONN 0      0      0.0.0.0%lxcbr0:67 0.0.0.0:* users:(("dnsmasq",pid=400,fd=3))
udp UNCONN 0      0      10.0.1.1:53 0.0.0.0:* users:(("dnsmasq",pid=900,fd=3))
udp UNCONN 0      0      *:67 *:*
tcp LISTEN 0      128    [fd00::1]:53 [::]:* users:(("named",pid=77,fd=9))
`;

t.test('parseListeners', async (t) => {
  const l = parseListeners(SS);
  t.equal(l.length, 7);
  t.strictSame(l[0], { proto: 'udp', address: '0.0.0.0', port: 53, process: 'dnsmasq', pid: 25515 });
  t.strictSame(l[2], {
    proto: 'tcp',
    address: '127.0.0.53',
    port: 53,
    device: 'lo',
    process: 'systemd-resolve',
    pid: 300,
  });
  t.strictSame(l[5], { proto: 'udp', address: '*', port: 67 });
  t.strictSame(l[6], { proto: 'tcp', address: 'fd00::1', port: 53, process: 'named', pid: 77 });
});

t.test('portConflicts: the wildcard or the bridge address, not another device, not our own dnsmasq', async (t) => {
  const cfg = parseConfig('', '/etc/brmgr/brmgr0.conf', 'brmgr0');
  const found = portConflicts(cfg, parseListeners(SS), [900]);
  t.strictSame(found.slice(0, -1), [
    'port 53/udp for DNS is taken by dnsmasq (pid 25515) on all addresses (0.0.0.0)',
    'port 67/udp for DHCP is taken by another process on all addresses (*)',
  ]);
  t.match(found.at(-1), /install dnsmasq\.d\/brmgr\.conf/, 'and what to do about it');
  t.match(
    portConflicts(cfg, parseListeners(SS), []),
    [
      'port 53/udp for DNS is taken by dnsmasq (pid 25515) on all addresses (0.0.0.0)',
      'port 53/udp for DNS is taken by dnsmasq (pid 900) on 10.0.1.1',
    ],
    'another process on the bridge address',
  );
  t.strictSame(
    portConflicts(
      parseConfig('[dns]\nenable = false\n[ipv4]\ndhcp = false\n', '/x/brmgr0.conf', 'brmgr0'),
      parseListeners(SS),
      [],
    ),
    [],
    'nothing served: no conflict',
  );
  const v6 = parseConfig('[ipv6]\naddress = fd00::1/64\n', '/x/brmgr0.conf', 'brmgr0');
  t.ok(
    portConflicts(v6, parseListeners(SS), [25515, 900]).some((m) => m.includes('named (pid 77) on fd00::1')),
    'the bridge’s IPv6 address',
  );
});

t.test('listening sockets from /proc/net: addresses in the host byte order, listeners only', async (t) => {
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0',
    '   1: 0103000A:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0',
    // an established connection is no listener
    '   2: 0100007F:9C40 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0',
  ].join('\n');
  t.same(parseProcNet(tcp, 'tcp'), [
    { proto: 'tcp', address: '0.0.0.0', port: 53, inode: 1001 },
    { proto: 'tcp', address: '10.0.3.1', port: 53, inode: 1002 },
  ]);
  const udp6 = [
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '  10: 00000000000000000000000000000000:0223 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2001 2 0',
    '  11: 000080FE00000000FF000000010000FE:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2002 2 0',
    '  12: B80D0120000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2003 2 0',
  ].join('\n');
  t.same(parseProcNet(udp6, 'udp'), [
    { proto: 'udp', address: '::', port: 547, inode: 2001 },
    { proto: 'udp', address: 'fe80::ff:fe00:1', port: 53, inode: 2002 },
    { proto: 'udp', address: '2001:db8::1', port: 53, inode: 2003 },
  ]);
  t.same(parseProcNet('', 'udp'), [], 'an unreadable table is no listener');
});

t.test('portConflicts under the unit: its own dnsmasq, whose descriptors it may not read', async (t) => {
  const cfg = parseConfig('', '/etc/brmgr/brmgr0.conf', 'brmgr0');
  // ss -p names no process for sockets whose owner's descriptors cannot be read
  const unseen = parseListeners(`udp UNCONN 0 0 10.0.1.1:53 0.0.0.0:*
tcp LISTEN 0 32 10.0.1.1:53 0.0.0.0:*
udp UNCONN 0 0 0.0.0.0%brmgr0:67 0.0.0.0:*
`);
  t.equal(portConflicts(cfg, unseen, [900]).length, 4, 'not known to be ours: refused as before (and the hint)');
  t.same(portConflicts(cfg, unseen, [900], true), [], 'its own dnsmasq runs: the sockets on the bridge are its own');
  const wildcard = parseListeners('udp UNCONN 0 0 0.0.0.0:53 0.0.0.0:*\n');
  t.equal(portConflicts(cfg, wildcard, [900], true).length, 2, 'a socket on all addresses is still in the way');
});

t.test(
  'forwardConflicts: a forward onto a port the host itself listens on is refused, unless it says shadow',
  async (t) => {
    const text = (shadow: string) =>
      `[ipv4]\naddress = 10.0.1.1/24\n[forward.ssh]\nport = 22\nto = 10.0.1.10:22\n${shadow}[forward.web]\nport = 8000-8010\nto = 10.0.1.10\n`;
    const cfg = parseConfig(text(''), '/etc/brmgr/brmgr0.conf', 'brmgr0');
    const ss = parseListeners(`tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=500,fd=3))
tcp LISTEN 0 128 127.0.0.1:8005 0.0.0.0:* users:(("app",pid=600,fd=3))
tcp LISTEN 0 128 10.0.1.1:8003 0.0.0.0:* users:(("bridge-side",pid=700,fd=3))
udp UNCONN 0 0 0.0.0.0:8001 0.0.0.0:* users:(("other-proto",pid=800,fd=3))
`);
    const found = forwardConflicts(cfg, ss);
    t.equal(found.length, 1, 'only the host sshd on all addresses; loopback, the bridge and another protocol are not');
    t.match(found[0], /\[forward\.ssh\] tcp port 22 is the host's own: sshd \(pid 500\) listens on 0\.0\.0\.0/);
    t.match(found[0], /shadow = true/, 'and says how to mean it');
    const meant = parseConfig(text('shadow = true\n'), '/etc/brmgr/brmgr0.conf', 'brmgr0');
    t.same(forwardConflicts(meant, ss), [], 'shadow = true: allowed');
  },
);
