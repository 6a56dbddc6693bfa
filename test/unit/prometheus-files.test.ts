/**
 * The alerts and the dashboard brmgr ships (prometheus/): promtool accepts the rules and its unit tests
 * pass, and every series they ask for is one the exporter serves.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { metricsOf } from '../../src/metrics/samples.js';

const file = (name: string) => fileURLToPath(new URL(`../../${name}`, import.meta.url));
const RULES = file('prometheus/brmgr.rules.yml');
const DASHBOARD = file('prometheus/grafana-dashboard.json');

/** The metric names the exporter serves for a bridge. */
const traffic = { bytes: 1, packets: 1, drops: 1 };
const served = new Set(
  metricsOf(
    [
      {
        bridge: 'lan',
        up: true,
        dnsmasqUp: true,
        run: { counts: {} as never, started: 1 },
        leases: 1,
        pool: 10,
        ports: [{ port: 'veth0', rx: traffic, tx: traffic }],
        vxlanPeers: 1,
      },
    ],
    { version: '0', conntrack: { count: 1, max: 2 } },
  ).map((m) => m.name),
);
const asked = (text: string) => [...new Set(text.match(/\bbrmgr_[a-z_]+/g) ?? [])];

t.test('promtool checks the rules and runs their tests', async (t) => {
  const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
  if (check.error) {
    t.comment('promtool is not installed here (Debian: prometheus); scripts/deps installs it');
    return;
  }
  t.equal(check.status, 0, `promtool check rules: ${check.stdout}${check.stderr}`);
  const tests = spawnSync('promtool', ['test', 'rules', file('test/prometheus/brmgr.rules.test.yml')], {
    encoding: 'utf8',
  });
  t.equal(tests.status, 0, `promtool test rules: ${tests.stdout}${tests.stderr}`);
});

t.test('the rules and the dashboard ask only for series the exporter serves', async (t) => {
  t.ok(
    served.has('brmgr_up') && served.has('brmgr_dhcp_pool_size'),
    `the exporter's metrics: ${[...served].join(' ')}`,
  );
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((x) => x.expr)).join('\n');
  for (const [what, text] of [
    ['the rules', readFileSync(RULES, 'utf8')],
    ['the dashboard', exprs],
  ] as const) {
    const unknown = asked(text).filter((name) => !served.has(name));
    t.strictSame(unknown, [], `${what}: ${asked(text).length} metrics, none unknown`);
  }
});

t.test("port security's drops: counted by the reason in each rule's comment, per table", async (t) => {
  const { countedByComment } = await import('../../src/host/nftables.js');
  const rule = (table: string, comment: string | undefined, packets?: number) => ({
    rule: {
      family: 'bridge',
      table,
      chain: 'forward',
      ...(comment ? { comment } : {}),
      expr: [...(packets === undefined ? [] : [{ counter: { packets, bytes: 0 } }]), { drop: null }],
    },
  });
  const counted = countedByComment(
    [
      rule('brmgr-lan', 'port security: redirect', 3),
      rule('brmgr-lan', 'port security: redirect', 4),
      rule('brmgr-lan', 'port security: dhcp-server', 0),
      rule('brmgr-lan', 'another table of its own', 9),
      rule('brmgr-lan', undefined, 9),
      rule('brmgr-dmz', 'port security: dns-rate', 100),
      rule('brmgr-dmz', 'port security: no counter'),
    ],
    'port security: ',
  );
  t.strictSame(Object.fromEntries(counted), {
    'brmgr-lan': { redirect: 7, 'dhcp-server': 0 },
    'brmgr-dmz': { 'dns-rate': 100 },
  });
});
