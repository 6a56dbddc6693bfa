/** The shell brmgr's leftovers told apart from anyone's rules, and the kernel settings `brmgr run` keeps. */
import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import type { Observed } from '../../src/host/links.js';
import { shellLeftovers } from '../../src/plan/shell-brmgr.js';
import { sysctlDrift } from '../../src/plan/sysctl.js';
import { initialState, step } from '../../src/supervisor/core.js';

const cfg = (text = '') => parseConfig(text, '/etc/brmgr/brmgr0.conf', 'brmgr0');
const bridge = (addrs: string[] = ['10.0.1.1/24']): Observed => ({
  links: [{ ifname: 'brmgr0', kind: 'bridge', mtu: 1500, address: '', up: true, stp: false, group: 'default' }],
  addrs: addrs.map((a) => ({
    ifname: 'brmgr0',
    family: 'inet' as const,
    local: a.split('/')[0]!,
    prefixlen: Number(a.split('/')[1]),
    scope: 'global',
  })),
  routes: [],
});
const SHELL = `*nat
-A POSTROUTING -s 10.0.1.0/24 ! -d 10.0.1.0/24 -j MASQUERADE
COMMIT
*filter
-A INPUT -i brmgr0 -p udp -m udp --dport 67 -j ACCEPT
-A FORWARD -o brmgr0 -j ACCEPT
-A FORWARD -i brmgr0 -j ACCEPT
-A FORWARD -i docker0 -j ACCEPT
COMMIT
`;

t.test('the bridge, the rules and ip_forward, each with its commands', async (t) => {
  const found = shellLeftovers(cfg(), {
    observed: bridge(),
    brmgrState: false,
    saved: [{ tool: 'iptables-legacy', text: SHELL }],
    ipForward: '1',
  });
  t.same(
    found.map((l) => l.what),
    ['bridge', 'rules', 'ip_forward'],
  );
  t.same(found[1]!.commands, [
    'iptables-legacy -t nat -D POSTROUTING -s 10.0.1.0/24 ! -d 10.0.1.0/24 -j MASQUERADE',
    'iptables-legacy -t filter -D INPUT -i brmgr0 -p udp -m udp --dport 67 -j ACCEPT',
    'iptables-legacy -t filter -D FORWARD -o brmgr0 -j ACCEPT',
    'iptables-legacy -t filter -D FORWARD -i brmgr0 -j ACCEPT',
  ]);
});

t.test('what is not the shell brmgr’s', async (t) => {
  const lone = '*filter\n-A FORWARD -i brmgr0 -j ACCEPT\nCOMMIT\n';
  const facts = { observed: bridge(), brmgrState: true, ipForward: '1' };
  t.same(shellLeftovers(cfg(), { ...facts, saved: [{ tool: 'iptables', text: lone }] }), [], 'a lone FORWARD accept');
  t.same(
    shellLeftovers(cfg(), {
      ...facts,
      brmgrState: false,
      saved: [],
      ipForwardLedger: { original: '0', bridges: ['brmgr0'] },
    }).map((l) => l.what),
    ['bridge'],
    'ip_forward that brmgr set',
  );
  t.same(
    shellLeftovers(cfg('[bridge]\nmode = bridged\nuplink = eth0\n'), { ...facts, brmgrState: false, saved: [] }),
    [],
    'a bridged network’s bridge',
  );
  t.same(
    shellLeftovers(cfg(), { ...facts, brmgrState: false, observed: bridge(['192.168.5.1/24']), saved: [] }),
    [],
    'a bridge on another subnet',
  );
});

t.test('run: a tick looks at the sysctls; one changed is put back by a converge, said once', async (t) => {
  const serving = { ...initialState('brmgr0'), phase: 'serving' as const };
  t.same(step(serving, { kind: 'tick' }, 0).actions, [{ kind: 'check-sysctls' }]);
  t.same(step(serving, { kind: 'sysctls-checked', drift: [] }, 0).actions, []);
  const drift = sysctlDrift(
    [
      ['net/ipv4/ip_forward', '1'],
      ['net/ipv6/conf/brmgr0/disable_ipv6', '1'],
    ],
    (k) => (k === 'net/ipv4/ip_forward' ? '0' : undefined),
  );
  t.same(drift, ['net.ipv4.ip_forward = 0, not 1'], 'a setting that is gone is no drift');
  const { actions } = step(serving, { kind: 'sysctls-checked', drift }, 0);
  t.match(actions, [
    { kind: 'log', level: 'warn', event: 'sysctl' },
    { kind: 'converge', relink: false },
  ]);
  t.same(step({ ...serving, phase: 'starting' }, { kind: 'tick' }, 0).actions, [], 'nothing while starting');
});
