import t from 'tap';
import { parseTrace, traceRuleset, withoutCounters } from '../../src/doctor/trace.js';

// as `nft monitor trace` prints a ping that iptables-nft accepts and another table drops
const lines = [
  'trace id 7666b028 inet brmgr-trace-br0 pre packet: iif "br0" ether saddr 52:54:00:00:00:01 ether daddr 2a:32:09:f7:df:0a ip saddr 10.0.1.50 ip daddr 192.0.2.2 ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id 19966 ',
  'trace id 7666b028 inet brmgr-trace-br0 pre rule ether saddr 52:54:00:00:00:01 meta nftrace set 1 (verdict continue)',
  'trace id 7666b028 inet brmgr-trace-br0 pre policy accept ',
  'trace id 7666b028 ip filter FORWARD packet: iif "br0" oif "up0" ip saddr 10.0.1.50 ip daddr 192.0.2.2 icmp type echo-request',
  'trace id 7666b028 ip filter FORWARD rule iifname "br0" counter packets 0 bytes 0 accept (verdict accept)',
  'trace id 7666b028 inet foreign guard packet: iif "br0" oif "up0" ip saddr 10.0.1.50 ip daddr 192.0.2.2',
  'trace id 7666b028 inet foreign guard rule ip daddr 192.0.2.2 counter packets 3 bytes 252 drop (verdict drop)',
  'trace id 11111111 inet brmgr-trace-br0 pre packet: iif "br0" ip saddr 10.0.1.50 ip daddr 192.0.2.2 icmp type echo-request',
  'trace id 11111111 inet foreign guard rule ip daddr 192.0.2.2 counter packets 4 bytes 336 drop (verdict drop)',
  'trace id 22222222 inet brmgr-trace-br0 pre packet: iif "br0" ip saddr 10.0.1.50 ip daddr 10.0.1.1 udp dport 53',
  'trace id 22222222 inet hostfw inbound policy drop ',
  'some other line',
];

t.test('parseTrace: per packet the chain that dropped it, counted, with the rule text without counters', async (t) => {
  const r = parseTrace(lines);
  t.equal(r.packets, 3, 'three packets traced');
  t.same(r.drops, [
    {
      family: 'inet',
      table: 'foreign',
      chain: 'guard',
      rule: 'ip daddr 192.0.2.2 counter drop',
      packet: 'iif "br0" ip saddr 10.0.1.50 ip daddr 192.0.2.2 icmp type echo-request',
      count: 2,
    },
    {
      family: 'inet',
      table: 'hostfw',
      chain: 'inbound',
      packet: 'iif "br0" ip saddr 10.0.1.50 ip daddr 10.0.1.1 udp dport 53',
      count: 1,
    },
  ]);
  t.same(parseTrace(lines.slice(0, 5)).drops, [], 'accepted packets: no drop');
});

t.test('withoutCounters: what nft list and nft monitor trace share', async (t) => {
  t.equal(withoutCounters('ip daddr 1.2.3.4  counter packets 12 bytes 1008 drop'), 'ip daddr 1.2.3.4 counter drop');
});

t.test("traceRuleset: marks only the guest's packets, in inet and bridge tables of its own", async (t) => {
  const text = traceRuleset('br0', { mac: '52:54:00:00:00:01', ip: '10.0.1.50' });
  t.match(text, /table inet brmgr-trace-br0 \{/);
  t.match(text, /table bridge brmgr-trace-br0 \{/);
  t.match(text, /ether saddr 52:54:00:00:00:01 meta nftrace set 1/);
  t.match(text, /ip daddr 10\.0\.1\.50 meta nftrace set 1/);
  t.notMatch(traceRuleset('br0', { ip: '10.0.1.50' }), /table bridge/, 'no bridge table without a MAC');
  t.match(traceRuleset('br0', { ip: 'fd00::5' }), /ip6 daddr fd00::5/);
});
