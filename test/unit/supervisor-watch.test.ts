import t from 'tap';
import { monitorChange } from '../../src/supervisor/watch.js';

t.test('the ruleset monitor follows the firewall brmgr has, on every start and reload', async (t) => {
  t.equal(monitorChange(false, 'nftables'), 'start', 'turned on: nftables');
  t.equal(monitorChange(false, 'iptables'), 'start', 'turned on: iptables (iptables-nft rules are nftables too)');
  t.equal(monitorChange(true, 'none'), 'stop', 'turned off');
  t.equal(monitorChange(true, undefined), 'stop', 'no state: nothing of brmgr to restore');
  t.equal(monitorChange(true, 'nftables'), 'keep', 'still on: the running monitor is kept');
  t.equal(monitorChange(true, 'iptables'), 'keep', 'another backend: the running monitor is kept');
  t.equal(monitorChange(false, 'none'), 'keep', 'still off');
  t.equal(monitorChange(false, undefined), 'keep', 'no state, no monitor');
});
