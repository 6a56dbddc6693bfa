import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import { portConflicts } from '../../src/plan/conflicts.js';
import { parseListeners } from '../../src/host/listeners.js';

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
