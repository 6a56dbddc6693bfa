import t from 'tap';
import { moveUplink, restoreUplink, routeSpec } from '../../src/plan/bridged.js';
import { parseConfig, type ConfigError } from '../../src/config/validate.js';
import type { Observed } from '../../src/host/links.js';

const observed: Observed = {
  links: [],
  addrs: [
    {
      ifname: 'eth0',
      family: 'inet',
      local: '192.168.1.10',
      prefixlen: 24,
      scope: 'global',
      broadcast: '192.168.1.255',
    },
    {
      ifname: 'eth0',
      family: 'inet',
      local: '192.168.1.11',
      prefixlen: 24,
      scope: 'global',
      dynamic: true,
      valid_life_time: 300,
      preferred_life_time: 200,
    },
    { ifname: 'eth0', family: 'inet6', local: '2001:db8::10', prefixlen: 64, scope: 'global' },
    {
      ifname: 'eth0',
      family: 'inet6',
      local: '2001:db8::abcd',
      prefixlen: 64,
      scope: 'global',
      dynamic: true,
      valid_life_time: 86400,
    },
    { ifname: 'eth0', family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
    { ifname: 'eth1', family: 'inet', local: '10.1.1.1', prefixlen: 24, scope: 'global' },
  ],
  routes: [
    {
      dst: 'default',
      gateway: '192.168.1.1',
      dev: 'eth0',
      protocol: 'dhcp',
      scope: 'global',
      metric: 100,
      table: 'main',
      type: 'unicast',
    },
    { dst: '192.168.1.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '192.168.1.10', table: 'main' },
    { dst: '10.9.0.0/16', gateway: '192.168.1.2', dev: 'eth0', protocol: 'boot', scope: 'global', table: '7' },
    { dst: 'default', gateway: 'fe80::1', dev: 'eth0', protocol: 'ra', metric: 1024, table: 'main' },
    { dst: '192.168.1.10', dev: 'eth0', type: 'local', table: 'local', protocol: 'kernel' },
    { dst: 'default', gateway: '10.1.1.254', dev: 'eth1', table: 'main' },
  ],
};

t.test('moveUplink: addresses and routes of the uplink only, in an order that keeps secondaries', async (t) => {
  const m = moveUplink('br0', 'eth0', observed);
  t.strictSame(
    m.moved,
    {
      name: 'eth0',
      addresses: [
        '192.168.1.10/24 broadcast 192.168.1.255',
        '192.168.1.11/24 valid_lft 300 preferred_lft 200',
        '2001:db8::10/64 nodad',
      ],
      routes: ['default via 192.168.1.1 proto dhcp metric 100', '10.9.0.0/16 via 192.168.1.2 table 7'],
    },
    'kernel, local and router-advertised routes and SLAAC addresses are left to the kernel',
  );
  t.strictSame(m.batch, [
    'link set dev eth0 master br0',
    'route del default via 192.168.1.1 proto dhcp metric 100 dev eth0',
    'route del 10.9.0.0/16 via 192.168.1.2 table 7 dev eth0',
    'address del 2001:db8::10/64 dev eth0',
    'address del 192.168.1.11/24 dev eth0',
    'address del 192.168.1.10/24 dev eth0',
    'address add 192.168.1.10/24 broadcast 192.168.1.255 dev br0',
    'address add 192.168.1.11/24 valid_lft 300 preferred_lft 200 dev br0',
    'address add 2001:db8::10/64 nodad dev br0',
    'route add default via 192.168.1.1 proto dhcp metric 100 dev br0',
    'route add 10.9.0.0/16 via 192.168.1.2 table 7 dev br0',
  ]);
  t.strictSame(m.undo, restoreUplink('br0', m.moved), 'the undo is the restore');
  t.strictSame(restoreUplink('br0', m.moved).slice(0, 6), [
    'route del default via 192.168.1.1 proto dhcp metric 100 dev br0',
    'route del 10.9.0.0/16 via 192.168.1.2 table 7 dev br0',
    'address del 2001:db8::10/64 dev br0',
    'address del 192.168.1.11/24 dev br0',
    'address del 192.168.1.10/24 dev br0',
    'link set dev eth0 nomaster',
  ]);
  t.equal(
    routeSpec({ dst: '10.0.0.0/8', dev: 'eth0', scope: 'link', protocol: 'static', flags: ['onlink'] }),
    '10.0.0.0/8 proto static onlink',
  );
});

t.test('moveUplink: an uplink that is down is brought up with the bridge, and down again on post', async (t) => {
  const link = { ifname: 'eth0', mtu: 1500, address: '52:54:00:00:00:01', stp: false, group: 'default' };
  const down = moveUplink('br0', 'eth0', { links: [{ ...link, up: false }], addrs: [], routes: [] });
  t.strictSame(down.batch, ['link set dev eth0 master br0', 'link set dev eth0 up']);
  t.equal(down.moved.wasDown, true, 'recorded in the state');
  t.strictSame(down.undo, ['link set dev eth0 nomaster', 'link set dev eth0 down'], 'post leaves it as it was');
  const up = moveUplink('br0', 'eth0', { links: [{ ...link, up: true }], addrs: [], routes: [] });
  t.strictSame(up.batch, ['link set dev eth0 master br0'], 'an uplink that is up is left so');
  t.strictSame(up.undo, ['link set dev eth0 nomaster']);
  t.notOk('wasDown' in up.moved);
});

t.test('bridged configs: what does not apply is refused with the reason', async (t) => {
  const parse = (text: string) => parseConfig(text, '/etc/brmgr/br0.conf', 'br0');
  const ok = parse('[bridge]\nmode = bridged\nuplink = eth0\n');
  t.equal(ok.ipv4.dhcp, false, 'DHCP is off by default');
  t.equal(ok.dns.enable, false, 'and DNS');
  const messages = (text: string) => {
    try {
      parse(text);
      return [];
    } catch (err) {
      return (err as ConfigError).message.split('\n');
    }
  };
  const why = 'mode = bridged: the bridge takes the uplink’s addresses and the LAN serves the guests';
  t.strictSame(messages('[bridge]\nmode = bridged\n'), [
    '/etc/brmgr/br0.conf:2: [bridge] mode: bridged mode needs an uplink or [vxlan]',
  ]);
  t.strictSame(
    messages(
      '[bridge]\nmode = bridged\nuplink = eth0\n' +
        '[ipv4]\naddress = 10.0.1.1/24\ndhcp = true\n' +
        '[dns]\nenable = yes\n' +
        '[forward.web]\nport = 80\nto = 10.0.1.5:80\n',
    ),
    [
      `/etc/brmgr/br0.conf:5: [ipv4] address: ${why}`,
      `/etc/brmgr/br0.conf:6: [ipv4] dhcp: ${why}; dhcp must stay off`,
      `/etc/brmgr/br0.conf:8: [dns] enable: ${why}; dns must stay off`,
      `/etc/brmgr/br0.conf:9: [forward.web]: ${why}; [forward.web] does not apply`,
    ],
  );
});
