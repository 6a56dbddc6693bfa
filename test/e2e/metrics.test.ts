/**
 * brmgr exporter and brmgr metrics beside a real `brmgr run` and a guest, in the lab's namespaces: the
 * exporter listens on the host namespace's own loopback and is scraped from there. The lease a guest
 * takes, the pool, the guest's port counters, a dnsmasq killed and restarted, the DHCP messages, the
 * supervisor stopped; promtool checks the text.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, waitFor } from '../helpers/netns.js';
import { dnsmasqReady, serving, skipReason, udhcpc } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const CONFIG =
  '[bridge]\nfirewall = nftables\n' +
  '[ipv4]\naddress = 10.0.1.1/24\nrange = 10.0.1.100-10.0.1.149\n' +
  '[dns]\n; never forward out of the test namespaces\nupstream = 10.0.1.1\n';
const LISTEN = '127.0.0.1:9469';
const PATH = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';

/** The sample of `name{labels}` in the text format, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** promtool's verdict on a metrics text: '' when it accepts it. */
async function promtool(ns: string, text: string): Promise<string> {
  const r = await exec(ns, 'promtool', ['check', 'metrics'], { input: text });
  if (r.exitCode === 0) return '';
  return `exit ${r.exitCode}: ${r.stdout}${r.stderr}`;
}

for (const _ of why ? [] : [1]) {
  t.test('the exporter in the host namespace: leases, pool, port counters, restarts, stop', async (t) => {
    const { top, proc, log } = await serving(t, CONFIG);
    const { host, bridge } = top;
    const exporter = top.brmgr.start('brmgr.js', 'exporter', '--listen', LISTEN);
    const exporterLog: string[] = [];
    exporter.stdout!.on('data', (c: Buffer) => exporterLog.push(c.toString()));

    /** GET a path of the exporter from inside the host namespace, with Node's fetch */
    const get = async (path: string) => {
      const script =
        `fetch('http://${LISTEN}${path}').then(async (r) => process.stdout.write(` +
        `JSON.stringify({ status: r.status, type: r.headers.get('content-type'), body: await r.text() })))`;
      const r = await exec(host, process.execPath, ['-e', script], { env: { PATH }, cleanEnv: true });
      if (r.exitCode !== 0) return undefined;
      return JSON.parse(r.stdout) as { status: number; type: string; body: string };
    };
    const scrape = async () => {
      const r = await get('/metrics');
      return r?.status === 200 ? r.body : undefined;
    };
    const first = await waitFor('the exporter answering', scrape, 15_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${exporterLog.join('')}`);
    });
    const b = `bridge="${bridge}"`;
    t.equal(sample(first, `brmgr_up{${b}}`), 1, 'brmgr run is up');
    t.equal(sample(first, `brmgr_dnsmasq_up{${b}}`), 1, 'dnsmasq is up');
    t.equal(sample(first, `brmgr_dhcp_leases{${b}}`), 0, 'no lease yet');
    t.equal(sample(first, `brmgr_dhcp_pool_size{${b}}`), 50, 'the pool: 10.0.1.100-10.0.1.149');
    t.equal(sample(first, `brmgr_dnsmasq_restarts_total{${b},cause="exited"}`), 0, 'no restart yet');
    t.ok((sample(first, 'brmgr_conntrack_entries_limit') ?? 0) > 0, 'the conntrack limit');
    t.equal(await promtool(host, first), '', 'promtool check metrics accepts it');
    const page = await get('/metrics');
    t.match(page?.type, /^text\/plain; version=0\.0\.4/, 'the text format content type');
    t.equal((await get('/nothing'))?.status, 404, 'other paths: 404');

    const lease = await udhcpc(top.guest, top.guestIf, ['-x', 'hostname:web']);
    t.match(lease, /^10\.0\.1\.1[0-4]\d$/, `the guest leased ${lease}`);
    const leased = await waitFor('the lease and the ack in the metrics', async () => {
      const text = await scrape();
      return text &&
        sample(text, `brmgr_dhcp_leases{${b}}`) === 1 &&
        (sample(text, `brmgr_dhcp_messages_total{${b},type="ack"}`) ?? 0) >= 1
        ? text
        : undefined;
    });
    t.pass('brmgr_dhcp_leases is 1, brmgr_dhcp_messages_total{type="ack"} counted the ack');
    const mac = (await exec(top.guest, 'cat', [`/sys/class/net/${top.guestIf}/address`])).stdout.trim();
    const port = `bridge="${bridge}",port="${top.port}",mac="${mac}",guest="web"`;
    t.ok(
      (sample(leased, `brmgr_port_receive_packets_total{${port}}`) ?? 0) > 0,
      `the guest's port counts what the guest sent, labelled with its MAC and name: ${leased
        .split('\n')
        .filter((l) => l.startsWith('brmgr_port_receive_packets'))
        .join(' | ')}`,
    );

    // dnsmasq killed: brmgr run starts another, and counts it
    const pid = readFileSync(join(top.brmgr.runDir, bridge, 'dnsmasq.pid'), 'utf8').trim();
    await exec(host, 'kill', ['-9', pid]);
    await dnsmasqReady(log, 2);
    const restarted = await waitFor('the restart in the metrics', async () => {
      const text = await scrape();
      return text && sample(text, `brmgr_dnsmasq_restarts_total{${b},cause="exited"}`) === 1 ? text : undefined;
    });
    t.equal(sample(restarted, `brmgr_dnsmasq_up{${b}}`), 1, 'a dnsmasq serves again');
    t.equal(sample(restarted, `brmgr_dhcp_leases{${b}}`), 1, 'the lease is still counted');

    // brmgr metrics says the same, once
    const once = await top.brmgr.cli('metrics', bridge);
    t.equal(once.exitCode, 0, `brmgr metrics: ${once.stderr}`);
    t.equal(sample(once.stdout, `brmgr_dnsmasq_restarts_total{${b},cause="exited"}`), 1);
    t.equal(sample(once.stdout, `brmgr_dhcp_leases{${b}}`), 1);
    // execa strips the final newline the format ends with
    t.equal(await promtool(host, `${once.stdout}\n`), '', "promtool check metrics accepts brmgr metrics' output");
    const unknown = await top.brmgr.cli('metrics', 'nosuchbr0');
    t.equal(unknown.exitCode, 2, 'brmgr metrics of a bridge that is not here: a usage error');

    // the supervisor stopped: down, and its counters are no longer said
    proc.kill('SIGTERM');
    t.equal((await proc).exitCode, 0, 'brmgr run stops');
    const stopped = await waitFor('brmgr run down in the metrics', async () => {
      const text = await scrape();
      return text && sample(text, `brmgr_up{${b}}`) === 0 ? text : undefined;
    });
    t.equal(sample(stopped, `brmgr_dnsmasq_up{${b}}`), 0, 'and dnsmasq is down');
    t.equal(sample(stopped, `brmgr_dnsmasq_restarts_total{${b},cause="exited"}`), undefined, 'no stale counters');

    exporter.kill('SIGTERM');
    t.equal((await exporter).exitCode, 0, 'the exporter exits 0 on SIGTERM');
    await top.brmgr.down();
  });

  t.test('a real Prometheus scrapes the exporter and evaluates the shipped alerts', async (t) => {
    const { top, lab, log } = await serving(t, CONFIG);
    const { host, bridge } = top;
    const listen = '127.0.0.1:9470';
    top.brmgr.start('brmgr.js', 'exporter', '--listen', listen);
    const rules = join(process.cwd(), 'prometheus/brmgr.rules.yml');
    const config = lab.file(
      'prometheus.yml',
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: [${JSON.stringify(rules)}]`,
        'scrape_configs:',
        `  - { job_name: brmgr, static_configs: [{ targets: [${JSON.stringify(listen)}] }] }`,
        '',
      ].join('\n'),
    );
    lab.spawn(host, 'prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(lab.dir, 'tsdb')}`,
      '--web.listen-address=127.0.0.1:9090',
    ]);
    /** a PromQL query through Prometheus' HTTP API, from inside the host namespace */
    const query = async (promql: string) => {
      const url = `http://127.0.0.1:9090/api/v1/query?query=${encodeURIComponent(promql)}`;
      const script = `fetch(${JSON.stringify(url)}).then(async (r) => process.stdout.write(await r.text()))`;
      const r = await exec(host, process.execPath, ['-e', script], { env: { PATH }, cleanEnv: true });
      if (r.exitCode !== 0) return undefined;
      const body = JSON.parse(r.stdout) as { data?: { result?: { value: [number, string] }[] } };
      return body.data?.result?.[0]?.value[1];
    };
    const up = await waitFor(
      'Prometheus has scraped brmgr_up',
      async () => (await query(`brmgr_up{bridge="${bridge}"}`)) ?? false,
      60_000,
    );
    t.equal(up, '1', 'Prometheus sees the bridge served');
    t.equal(await query(`brmgr_dhcp_pool_size{bridge="${bridge}"}`), '50', 'and its pool');
    const rulesLoaded = await query('count(ALERTS) or vector(0)');
    t.equal(rulesLoaded, '0', 'the shipped rules load, and nothing fires on a healthy bridge');

    // two guests lease (the second one a MAC later on the same port)
    t.ok(await udhcpc(top.guest, top.guestIf), 'a guest leases');
    await exec(top.guest, 'ip', ['link', 'set', top.guestIf, 'address', '52:54:00:77:00:02']);
    t.ok(await udhcpc(top.guest, top.guestIf), 'a second guest leases');
    const leases = await waitFor(
      'Prometheus sees two leases',
      async () => ((await query(`brmgr_dhcp_leases{bridge="${bridge}"}`)) === '2' ? '2' : false),
      30_000,
    ).catch(() => undefined);
    t.equal(leases, '2', "Prometheus' query API returns the bridge's two leases");

    // dnsmasq killed: the restart counter Prometheus keeps grows
    const pid = readFileSync(join(top.brmgr.runDir, bridge, 'dnsmasq.pid'), 'utf8').trim();
    await exec(host, 'kill', ['-9', pid]);
    await dnsmasqReady(log, 2);
    const restarts = await waitFor(
      'Prometheus sees the restart',
      async () => {
        const v = await query(`sum(brmgr_dnsmasq_restarts_total{bridge="${bridge}"})`);
        return v !== undefined && Number(v) >= 1 ? v : false;
      },
      30_000,
    ).catch(() => undefined);
    t.ok(Number(restarts) >= 1, `brmgr_dnsmasq_restarts_total grew to ${restarts} after kill -9 of dnsmasq`);
  });
}
