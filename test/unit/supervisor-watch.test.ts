import t from 'tap';
import { firewallRecord, hasRules } from '../../src/firewall/index.js';
import { bridgeLost, generationReads, monitorChange } from '../../src/supervisor/watch.js';

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

t.test(
  "generationReads: another bridge's changes and set elements are not read; Docker's and ufw's only brmgr's own rules",
  async (t) => {
    // EVENT lines as xtables-monitor --event printed them for brmgr-pre and post of bx1, and other tools
    const bx1 = [
      'nft: NEW table: table brmgr-bx1 bridge flags 0 use 32 handle 9',
      '# nft: bridge brmgr-bx1 prerouting use 17 type filter hook prerouting prio -200 policy accept packets 0 bytes 0 flags 1',
      '',
      '',
      'nft: DEL table: table brmgr-strict-bx1 inet flags 0 use 0 handle 12',
      '# nft: inet brmgr-bx1 forward use 2 type filter hook forward prio 0 policy accept packets 0 bytes 0 flags 1',
    ];
    const bx1Iptables = [
      '-4 -t filter -N BRMGR-bx1-FWD',
      '-4 -t filter -A BRMGR-bx1-FWD -i bx1 -j ACCEPT',
      '-4 -t filter -A INPUT -i bx1 -j BRMGR-bx1-IN',
      '-4 -t filter -D FORWARD -j BRMGR-bx1-FWD',
      '-4 -t mangle -X BRMGR-bx1-CSUM',
    ];
    const docker = [
      'nft: NEW table: table filter ip flags 0 use 4 handle 1',
      '# nft: ip filter FORWARD use 1 type filter hook forward prio 0 policy drop packets 0 bytes 0 flags 1',
      '-4 -t filter -N DOCKER-USER',
      '-4 -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
      '-6 -t filter -A FORWARD -j DOCKER-USER',
    ];
    t.equal(generationReads(bx1, 'bx0'), undefined, "another bridge's tables, its rules' empty lines with them");
    t.equal(generationReads(bx1Iptables, 'bx0'), undefined, "another bridge's iptables chains and jumps");
    t.equal(generationReads(bx1, 'bx1'), 'rules', 'its own tables');
    t.equal(generationReads(bx1Iptables, 'bx1'), 'rules', 'its own chains');
    t.equal(generationReads(['# nft: inet brmgr-strict-bx1 guest use 8'], 'bx1'), 'rules', 'its strict table');
    t.equal(generationReads([], 'bx0'), undefined, 'set elements only (no EVENT line): no chain changed');
    t.equal(generationReads(docker, 'bx0'), 'rules', "iptables' filter and nat (Docker, ufw): brmgr's shim there");
    t.equal(generationReads([...docker, ...bx1], 'bx0'), 'rules', 'and beside another bridge');
    t.equal(generationReads(['', ''], 'bx0'), 'all', 'rules of a table not named: every table');
    t.equal(generationReads([...docker, ''], 'bx0'), 'all', 'iptables beside rules of a table not named');
    t.equal(generationReads(['-4 -t mangle -A FORWARD -j DROP'], 'bx0'), 'all', "iptables' mangle may refuse");
    t.equal(
      generationReads(['# nft: inet filter input use 3 type filter hook input prio 0'], 'bx0'),
      'all',
      'a table of its own',
    );
    t.equal(generationReads([...bx1, '-4 -t raw -X PREROUTING'], 'bx0'), 'all', 'another tool beside another bridge');
    t.equal(
      generationReads(['nft: DEL table: table brmgr-bx0 inet flags 0 use 0 handle 2', ...bx1], 'bx0'),
      'rules',
      'its own table deleted beside another',
    );
    t.equal(generationReads(['something else entirely'], 'bx0'), 'all', 'a line not understood: every table');
  },
);
