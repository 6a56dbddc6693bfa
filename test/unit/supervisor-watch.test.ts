import t from 'tap';
import { firewallRecord, hasRules } from '../../src/firewall/index.js';
import { bridgeLost, monitorChange } from '../../src/supervisor/watch.js';

/** Whether a state recording that backend (none: no state) has rules of brmgr's. */
const rules = (backend?: string) =>
  hasRules(firewallRecord(backend ? { firewall: { backend, iptables: [] } } : undefined));

t.test('the ruleset monitor follows the firewall brmgr has, on every start and reload', async (t) => {
  t.equal(monitorChange(false, rules('nftables')), 'start', 'turned on: nftables');
  t.equal(
    monitorChange(false, rules('iptables')),
    'start',
    'turned on: iptables (iptables-nft rules are nftables too)',
  );
  t.equal(monitorChange(true, rules('none')), 'stop', 'turned off');
  t.equal(monitorChange(true, rules()), 'stop', 'no state: nothing of brmgr to restore');
  t.equal(monitorChange(true, rules('nftables')), 'keep', 'still on: the running monitor is kept');
  t.equal(monitorChange(true, rules('iptables')), 'keep', 'another backend: the running monitor is kept');
  t.equal(monitorChange(false, rules('none')), 'keep', 'still off');
  t.equal(monitorChange(false, rules()), 'keep', 'no state, no monitor');
});

t.test('bridgeLost: which ip monitor lines mean the bridge lost something', async (t) => {
  const br = 'brmgr0';
  t.ok(
    bridgeLost('Deleted 5: brmgr0    inet 10.0.1.1/24 scope global brmgr0\\       valid_lft forever', br),
    'an address',
  );
  t.ok(bridgeLost('Deleted 5: brmgr0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP', br), 'the link');
  t.ok(bridgeLost('5: brmgr0: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN', br), 'the link down');
  t.notOk(bridgeLost('5: brmgr0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP', br), 'the link up');
  t.notOk(bridgeLost('5: brmgr0    inet 10.0.1.1/24 scope global brmgr0', br), 'an address added');
  t.notOk(bridgeLost('Deleted 6: brmgr01    inet 10.0.2.1/24 scope global brmgr01', br), 'another bridge');
  t.notOk(bridgeLost('7: veth0@if2: <BROADCAST,MULTICAST> mtu 1500 master brmgr0 state DOWN', br), 'a port of it');
});
