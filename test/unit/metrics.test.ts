/**
 * What brmgr exporter says, from what a brmgr run wrote and what the host shows: the metrics, their
 * text, the counters the supervisor keeps and how often it writes them.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { parse, parseListen } from '../../src/cli/commands/exporter.js';
import { parseLinkStats } from '../../src/host/link-stats.js';
import { type BridgeFacts, metricsOf } from '../../src/metrics/samples.js';
import { exposition } from '../../src/metrics/text.js';
import { Counts, repairCause, Throttle } from '../../src/supervisor/counters.js';
import { parseDnsmasqLine } from '../../src/dnsmasq/log.js';

const traffic = (bytes: number, packets: number, dropped: number) => ({ bytes, packets, dropped });

const served: BridgeFacts = {
  bridge: 'br0',
  up: true,
  dnsmasqUp: true,
  run: {
    counts: {
      dnsmasqRestarts: { exited: 2 },
      firewallRepairs: { table_gone: 1 },
      reloads: { applied: 3, refused: 1 },
      configErrors: 1,
      dhcp: { ack: 5, release: 1 },
    },
    started: 1_700_000_000_000,
  },
  leases: 3,
  pool: 51,
  ports: [
    { port: 'veth-web', mac: '52:54:00:00:00:10', guest: 'web', rx: traffic(1000, 10, 1), tx: traffic(2000, 20, 0) },
    { port: 'vx-br0', rx: traffic(0, 0, 0), tx: traffic(0, 0, 0) },
  ],
  vxlanPeers: 2,
};
const stopped: BridgeFacts = { bridge: 'br1', up: false, dnsmasqUp: false, leases: 0, pool: 10, ports: [] };
const host = { version: '1.2.3', conntrack: { count: 42, max: 65536 } };

/** name{labels} → value, from the text format */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

t.test('a served bridge and a stopped one, as the text format says them', async (t) => {
  const text = await exposition(metricsOf([served, stopped], host));
  const s = samples(text);
  t.equal(s.get('brmgr_build_info{version="1.2.3"}'), 1);
  t.equal(s.get('brmgr_up{bridge="br0"}'), 1);
  t.equal(s.get('brmgr_up{bridge="br1"}'), 0, 'a configured bridge whose brmgr run is down says so');
  t.equal(s.get('brmgr_dnsmasq_up{bridge="br0"}'), 1);
  t.equal(s.get('brmgr_dhcp_leases{bridge="br0"}'), 3);
  t.equal(s.get('brmgr_dhcp_pool_size{bridge="br0"}'), 51);
  t.equal(s.get('brmgr_dhcp_pool_size{bridge="br1"}'), 10);
  t.equal(s.get('brmgr_start_time_seconds{bridge="br0"}'), 1_700_000_000);
  t.equal(s.get('brmgr_dnsmasq_restarts_total{bridge="br0",cause="exited"}'), 2);
  t.equal(s.get('brmgr_dnsmasq_restarts_total{bridge="br0",cause="unresponsive"}'), 0, 'known causes start at 0');
  t.equal(s.get('brmgr_firewall_repairs_total{bridge="br0",cause="table_gone"}'), 1);
  t.equal(s.get('brmgr_reloads_total{bridge="br0",outcome="applied"}'), 3);
  t.equal(s.get('brmgr_reloads_total{bridge="br0",outcome="failed"}'), 0);
  t.equal(s.get('brmgr_config_errors_total{bridge="br0"}'), 1);
  t.equal(s.get('brmgr_dhcp_messages_total{bridge="br0",type="ack"}'), 5);
  t.equal(s.get('brmgr_dhcp_messages_total{bridge="br0",type="nak"}'), 0);
  t.equal(s.get('brmgr_vxlan_peers{bridge="br0"}'), 2);
  const web = 'bridge="br0",port="veth-web",mac="52:54:00:00:00:10",guest="web"';
  t.equal(s.get(`brmgr_port_receive_bytes_total{${web}}`), 1000, "the guest's bytes sent");
  t.equal(s.get(`brmgr_port_transmit_packets_total{${web}}`), 20);
  t.equal(s.get(`brmgr_port_receive_drops_total{${web}}`), 1);
  t.equal(s.get('brmgr_port_receive_bytes_total{bridge="br0",port="vx-br0",mac="",guest=""}'), 0);
  t.equal(s.get('brmgr_conntrack_entries'), 42);
  t.equal(s.get('brmgr_conntrack_entries_limit'), 65536);
  t.notOk(
    [...s.keys()].some((k) => k.includes('bridge="br1"') && k.includes('_total')),
    'no counters for a bridge whose brmgr run is down: they would be stale',
  );
  t.match(text, /# TYPE brmgr_dnsmasq_restarts_total counter/);
  t.match(text, /# TYPE brmgr_dhcp_leases gauge/);
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (promtool.error) t.comment('promtool not installed here: the e2e test checks the real output with it');
  else t.equal(promtool.status, 0, `promtool check metrics: ${promtool.stdout}${promtool.stderr}`);
});

t.test("label values are escaped: a guest's name is the guest's to choose", async (t) => {
  const odd = { ...served, ports: [{ ...served.ports[0]!, guest: 'a"b\\c\nd' }] };
  const text = await exposition(metricsOf([odd], host));
  t.match(text, 'guest="a\\"b\\\\c\\nd"');
});

t.test('no bridge at all: the build info and conntrack only', async (t) => {
  const names = metricsOf([], { version: '1' }).map((m) => m.name);
  t.same(names, ['brmgr_build_info']);
});

t.test("the supervisor's counts: DHCP messages from dnsmasq's log, repair causes", async (t) => {
  const counts = new Counts();
  let changes = 0;
  counts.onChange(() => changes++);
  for (const line of [
    'dnsmasq-dhcp[9]: DHCPDISCOVER(br0) 52:54:00:00:00:10',
    'dnsmasq-dhcp[9]: DHCPOFFER(br0) 10.0.1.100 52:54:00:00:00:10',
    'dnsmasq-dhcp[9]: DHCPACK(br0) 10.0.1.100 52:54:00:00:00:10 web',
    'dnsmasq-dhcp[9]: DHCPNAK(br0) 10.0.1.7 52:54:00:00:00:11 wrong network',
    'dnsmasq-dhcp[9]: DHCPDECLINE(br0) 10.0.1.101 52:54:00:00:00:12',
    'dnsmasq-dhcp[9]: DHCPRELEASE(br0) 10.0.1.100 52:54:00:00:00:10',
    'dnsmasq[9]: query[A] web.lan from 10.0.1.100',
  ])
    counts.dnsmasqLine(parseDnsmasqLine(line));
  t.same(counts.now.dhcp, { ack: 1, nak: 1, decline: 1, release: 1 });
  t.equal(changes, 4, 'a change told for each message counted, none for the others');
  t.equal(repairCause('nftables table inet brmgr-br0 is gone'), 'table_gone');
  t.equal(repairCause('iptables (IPv4) is gone'), 'table_gone');
  t.equal(
    repairCause(
      "iptables (IPv4): the filter table could refuse the guests now (filter FORWARD has policy DROP), and brmgr's accepts are not there",
    ),
    'filter_table_appeared',
  );
  t.equal(repairCause('nftables table inet brmgr-br0: chain forward: 2 rules missing'), 'rules_changed');
  t.equal(repairCause('taken-down'), 'taken_down');
});

t.test('the status file is written once for a burst of changes, and at most once per gap', async (t) => {
  let writes = 0;
  const throttle = new Throttle(() => writes++, 300);
  for (let i = 0; i < 1000; i++) throttle.changed();
  await new Promise((r) => setTimeout(r, 50));
  t.equal(writes, 1, 'a burst is one write, soon after it');
  throttle.changed();
  await new Promise((r) => setTimeout(r, 50));
  t.equal(writes, 1, 'the next waits for the gap');
  throttle.now();
  t.equal(writes, 2, 'now() writes at once, with what was pending');
  throttle.stop();
  throttle.changed();
  throttle.now();
  await new Promise((r) => setTimeout(r, 350));
  t.equal(writes, 2, 'nothing once stopped: the status file is removed then');
});

t.test('ip -json -s link: the counters of each link', async (t) => {
  const json = JSON.stringify([
    { ifname: 'br0', address: '02:00:00:00:00:01', stats64: { rx: { bytes: 1, packets: 2, dropped: 0 } } },
    {
      ifname: 'veth0',
      master: 'br0',
      stats64: { rx: { bytes: 10, packets: 1, dropped: 3 }, tx: { bytes: 20, packets: 2, dropped: 4 } },
    },
    { noname: true },
  ]);
  t.same(parseLinkStats(json), [
    { ifname: 'br0', address: '02:00:00:00:00:01', rx: traffic(1, 2, 0), tx: traffic(0, 0, 0) },
    { ifname: 'veth0', master: 'br0', rx: traffic(10, 1, 3), tx: traffic(20, 2, 4) },
  ]);
  t.same(parseLinkStats('not json'), []);
});

t.test('--listen: ADDR:PORT, an IPv6 address in brackets; the default and its variable', async (t) => {
  t.same(parseListen('127.0.0.1:9469'), { host: '127.0.0.1', port: 9469 });
  t.same(parseListen('[::1]:9000'), { host: '::1', port: 9000 });
  t.same(parseListen('localhost:80'), { host: 'localhost', port: 80 });
  for (const bad of ['127.0.0.1', '::1:9000', '1.2.3.4:0', '1.2.3.4:70000', ':9469'])
    t.throws(() => parseListen(bad), /is not ADDR:PORT/, bad);
  t.same(parse([], {}), { host: '127.0.0.1', port: 9469 });
  t.same(parse([], { BRMGR_EXPORTER_LISTEN: '0.0.0.0:9100' }), { host: '0.0.0.0', port: 9100 });
  t.same(parse(['--listen', '10.0.0.1:1'], { BRMGR_EXPORTER_LISTEN: '0.0.0.0:9100' }), { host: '10.0.0.1', port: 1 });
  t.throws(() => parse(['extra']), /unexpected argument/);
});
