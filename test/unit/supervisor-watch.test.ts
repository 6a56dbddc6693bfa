import t from 'tap';
import type { Backend, State } from '../../src/system/state.js';
import { monitorChange } from '../../src/supervisor/watch.js';

const state = (backend: Backend): State => ({
  version: 1,
  bridge: 'br0',
  up: true,
  createdLink: true,
  addresses: [],
  sysctls: {},
  firewall: { backend, iptables: [] },
});

t.test('the ruleset monitor follows the firewall brmgr has, on every start and reload', async (t) => {
  t.equal(monitorChange(false, state('nftables')), 'start', 'turned on: nftables');
  t.equal(monitorChange(false, state('iptables')), 'start', 'turned on: iptables (iptables-nft rules are nftables too)');
  t.equal(monitorChange(true, state('none')), 'stop', 'turned off');
  t.equal(monitorChange(true, undefined), 'stop', 'no state: nothing of brmgr to restore');
  t.equal(monitorChange(true, state('nftables')), 'keep', 'still on: the running monitor is kept');
  t.equal(monitorChange(true, state('iptables')), 'keep', 'another backend: the running monitor is kept');
  t.equal(monitorChange(false, state('none')), 'keep', 'still off');
  t.equal(monitorChange(false, undefined), 'keep', 'no state, no monitor');
});
