import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import { hostFirewallWarnings } from '../../src/firewall/hostfirewall.js';
import type { NftObject } from '../../src/host/nftables.js';

const cfg = (text = '') => parseConfig(text, '/etc/brmgr/brmgr0.conf', 'brmgr0');
const chain = (table: string, name: string, hook: string, policy: string, family = 'inet'): NftObject => ({
  chain: { family, table, name, hook, policy },
});
const rule = (table: string, chainName: string, expr: Record<string, unknown>[], family = 'inet'): NftObject => ({
  rule: { family, table, chain: chainName, expr },
});
const iifname = (name: unknown) => ({ match: { op: '==', left: { meta: { key: 'iifname' } }, right: name } });
const accept = { accept: null };

t.test('a chain with policy drop on input or forward is named, with the fix', async (t) => {
  const ruleset = [
    chain('hostfw', 'input', 'input', 'drop'),
    chain('hostfw', 'fwd', 'forward', 'drop'),
    rule('hostfw', 'input', [iifname('lo'), accept]),
  ];
  const w = hostFirewallWarnings(cfg(), ruleset, true);
  t.equal(w.length, 2);
  t.match(
    w[0],
    new RegExp(
      '^nftables chain inet hostfw input \\(hook input\\) has policy drop and makes no exception for brmgr0: ' +
        "it refuses the guests' DHCP and DNS to dnsmasq",
    ),
  );
  t.match(w[0], /accept iifname "brmgr0" there \(firewalld: firewall-cmd --zone=trusted --add-interface=brmgr0\)/);
  t.match(
    w[1],
    /hook forward.*the guests' traffic to and from the outside.*accept iifname "brmgr0" and oifname "brmgr0"/,
  );
});

t.test('a chain that ends in a reject (firewalld style) counts as dropping', async (t) => {
  const ruleset = [
    chain('firewalld', 'filter_INPUT', 'input', 'accept'),
    rule('firewalld', 'filter_INPUT', [
      { match: { op: 'in', left: { ct: { key: 'state' } }, right: 'established' } },
      accept,
    ]),
    rule('firewalld', 'filter_INPUT', [{ counter: null }, { reject: { type: 'icmpx', expr: 'admin-prohibited' } }]),
  ];
  t.match(hostFirewallWarnings(cfg(), ruleset, true), [/filter_INPUT \(hook input\) ends in a drop or reject/]);

  // firewall-cmd --zone=trusted --add-interface=brmgr0: the exception sits in the zone dispatch chain
  const trusted = [
    ...ruleset,
    chain('firewalld', 'filter_INPUT_ZONES', '', ''),
    rule('firewalld', 'filter_INPUT_ZONES', [iifname('brmgr0'), { goto: { target: 'filter_IN_trusted' } }]),
  ];
  t.same(hostFirewallWarnings(cfg(), trusted, true), [], 'the bridge in the trusted zone: no warning');
});

t.test('no warning where the chain accepts the bridge, accepts everything, or is not in the way', async (t) => {
  t.same(
    hostFirewallWarnings(
      cfg(),
      [chain('hostfw', 'input', 'input', 'drop'), rule('hostfw', 'input', [iifname('brmgr0'), accept])],
      true,
    ),
    [],
    'an exception for the bridge',
  );
  t.same(
    hostFirewallWarnings(
      cfg(),
      [
        chain('hostfw', 'input', 'input', 'drop'),
        rule('hostfw', 'input', [iifname({ set: ['lo', 'brmgr0'] }), accept]),
      ],
      true,
    ),
    [],
    'the bridge in a set',
  );
  t.same(
    hostFirewallWarnings(
      cfg(),
      [chain('hostfw', 'input', 'input', 'drop'), rule('hostfw', 'input', [iifname('brmgr*'), accept])],
      true,
    ),
    [],
    'a wildcard covering the bridge',
  );
  t.equal(
    hostFirewallWarnings(
      cfg(),
      [chain('hostfw', 'input', 'input', 'drop'), rule('hostfw', 'input', [iifname('virbr*'), accept])],
      true,
    ).length,
    1,
    'a wildcard for others',
  );
  const notBridge = { match: { op: '!=', left: { meta: { key: 'iifname' } }, right: 'brmgr0' } };
  t.equal(
    hostFirewallWarnings(
      cfg(),
      [chain('hostfw', 'input', 'input', 'drop'), rule('hostfw', 'input', [notBridge, accept])],
      true,
    ).length,
    1,
    'iifname != the bridge is no exception',
  );
  t.same(
    hostFirewallWarnings(
      cfg(),
      [chain('hostfw', 'input', 'input', 'accept'), rule('hostfw', 'input', [iifname('eth0'), { drop: null }])],
      true,
    ),
    [],
    'a drop that is not final',
  );
  t.same(
    hostFirewallWarnings(cfg(), [chain('filter', 'INPUT', 'input', 'drop', 'ip')], true),
    [],
    "iptables' own ip filter table (brmgr adds its rules there)",
  );
  t.same(hostFirewallWarnings(cfg(), [chain('brmgr-brmgr0', 'input', 'input', 'drop')], true), [], "brmgr's own table");
  t.same(hostFirewallWarnings(cfg(), [chain('hostfw', 'out', 'output', 'drop')], true), [], 'an output chain');
  t.same(
    hostFirewallWarnings(cfg(), [chain('hostfw', 'input', 'input', 'drop')], false),
    [],
    'input, when dnsmasq serves nothing',
  );
  t.same(
    hostFirewallWarnings(cfg('[bridge]\nmode = isolated\n'), [chain('hostfw', 'fwd', 'forward', 'drop')], true),
    [],
    'forward, for an isolated bridge',
  );
});
