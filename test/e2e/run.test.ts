/**
 * brmgr run: a supervised dnsmasq serving DHCP and DNS on the bridge, seen
 * from guests (busybox udhcpc, dig) and from outside; restarts, reloads,
 * firewall restore, stop.
 */
import t from 'tap';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResultPromise } from 'execa';
import { exec, Lab, must, nftRuleset, ping, topology, waitFor, type Topology } from '../helpers/netns.js';
import { follow, skipReason, udhcpc as leaseOnce } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const STATIC_MAC = '52:54:00:00:00:10';
const config = (extraHosts = '') => `[bridge]
firewall = nftables
[ipv4]
address = 10.0.1.1/24
range = 10.0.1.100-10.0.1.150
[ipv6]
address = fd42:0:1::1/64
[dns]
domain = lab.test
; never forward out of the test's namespaces
upstream = 10.0.1.1
[host.web]
mac = ${STATIC_MAC}
ip = 10.0.1.10
${extraHosts}`;

/** A guest namespace on a veth into the bridge, with the given MAC and no address yet. */
async function dhcpGuest(top: Topology, mac: string): Promise<{ ns: string; ifname: string }> {
  const ns = await top.lab.ns('dhcp');
  const ifname = top.lab.name('d');
  const port = top.lab.name('q');
  await top.lab.veth(ns, ifname, top.host, port, { master: top.bridge });
  await must(ns, 'ip', ['link', 'set', ifname, 'address', mac]);
  return { ns, ifname };
}

/** busybox udhcpc once, sending `hostname`; the leased address, or undefined. */
const udhcpc = (ns: string, ifname: string, hostname: string, extra: string[] = []) =>
  leaseOnce(ns, ifname, ['-x', `hostname:${hostname}`, ...extra]);

const dig = async (ns: string, server: string, name: string, type = 'A') =>
  (await exec(ns, 'dig', [`@${server}`, name, type, '+short', '+time=1', '+tries=1'])).stdout.trim();

const dnsmasqPid = (top: Topology) => {
  try {
    return Number(readFileSync(join(top.brmgr.runDir, top.bridge, 'dnsmasq.pid'), 'utf8').trim());
  } catch {
    return 0;
  }
};
/** pids of this test's dnsmasq (processes of every namespace share one pid space) */
const running = async (top: Topology) =>
  (await exec(top.host, 'pgrep', ['-f', join(top.brmgr.runDir, top.bridge, 'dnsmasq.conf')])).stdout.trim();

async function serving(top: Topology, proc: ResultPromise, events: Record<string, unknown>[]) {
  await waitFor(
    'dnsmasq ready',
    async () =>
      events.some((e) => e.event === 'ready') ||
      (proc.exitCode !== null && proc.exitCode !== undefined
        ? Promise.reject(new Error(`brmgr run exited:\n${JSON.stringify(events)}`))
        : false),
    15_000,
  );
  await top.attach();
}

/** A lab with the host/guest/outside topology and `brmgr run` serving the bridge, its guest port attached. */
async function startServing(t: Parameters<typeof Lab.create>[0]) {
  const lab = Lab.create(t);
  // dnsmasq, after dropping root, re-reads its hosts files from the run dir inside the lab's folder
  chmodSync(lab.dir, 0o755);
  const top = await topology(lab);
  top.brmgr.config(config());
  const proc = top.brmgr.run();
  const events = follow(proc);
  await serving(top, proc, events);
  return { lab, top, proc, events };
}

for (const _ of why ? [] : [1]) {
  t.test('guests lease, resolve and survive dnsmasq restarts and reloads', async (t) => {
    const { lab, top, proc, events } = await startServing(t);

    // a dynamic guest gets an address inside the range, and its hostname resolves
    const g1 = await dhcpGuest(top, '52:54:00:aa:00:01');
    const ip1 = await udhcpc(g1.ns, g1.ifname, 'guest1');
    t.ok(ip1, 'guest1 got a lease');
    const n = Number(ip1!.split('.')[3]);
    t.ok(ip1!.startsWith('10.0.1.') && n >= 100 && n <= 150, `${ip1} is inside the range`);
    t.equal(await dig(top.guest, '10.0.1.1', 'guest1.lab.test'), ip1, 'guest1.lab.test resolves to its lease');
    t.equal(
      await dig(top.guest, '10.0.1.1', 'web.lab.test'),
      '10.0.1.10',
      'a static host resolves before it ever leased',
    );
    t.ok(
      events.some((e) => e.event === 'ack' && e.mac === '52:54:00:aa:00:01' && e.ip === ip1 && e.hostname === 'guest1'),
      'the DHCPACK is logged with mac, ip and hostname',
    );
    t.notOk(
      events.some((e) => String(e.msg).includes('cannot pass through')),
      'no warning about the run dir: dnsmasq can reach it',
    );

    // the static MAC gets its fixed address
    const web = await dhcpGuest(top, STATIC_MAC);
    t.equal(await udhcpc(web.ns, web.ifname, 'whatever'), '10.0.1.10', 'the static host gets its fixed address');

    // lookup and leases agree with what the guests got
    t.equal((await top.brmgr.cli('lookup', top.bridge, '52:54:00:AA:00:01')).stdout.trim(), ip1, 'lookup by MAC');
    t.equal((await top.brmgr.cli('lookup', top.bridge, 'guest1')).stdout.trim(), ip1, 'lookup by hostname');
    const missing = await top.brmgr.cli('lookup', top.bridge, '52:54:00:ff:ff:ff');
    t.equal(missing.exitCode, 1, 'lookup of an unknown guest exits 1');
    const leases = JSON.parse((await top.brmgr.cli('leases', top.bridge, '--json')).stdout) as {
      mac: string;
      ip: string;
      kind: string;
    }[];
    // beside them, each guest's SLAAC address once it has used it
    t.ok(
      leases.every((l) => l.kind === 'dhcp' || (l.kind === 'slaac' && l.ip.startsWith('fd42:0:1:'))),
      'leases --json: DHCP leases and SLAAC addresses',
      { leases },
    );
    t.same(
      leases
        .filter((l) => l.kind === 'dhcp')
        .map((l) => [l.mac, l.ip])
        .sort(),
      [
        ['52:54:00:aa:00:01', ip1],
        [STATIC_MAC, '10.0.1.10'],
      ].sort(),
      'leases --json lists both guests',
    );
    const status = JSON.parse((await top.brmgr.cli('status', top.bridge, '--json')).stdout) as {
      state: string;
      leases: number;
      dnsmasq: { pid: number };
    };
    t.match(status, { state: 'up', leases: 2, firewall: 'nftables' }, 'status');
    t.equal(status.dnsmasq.pid, dnsmasqPid(top), 'status shows the running dnsmasq');

    // nothing answers DHCP or DNS from the outside namespace
    t.notMatch(
      await dig(top.outside, '192.0.2.1', 'web.lab.test'),
      /^\d+\.\d+\.\d+\.\d+$/m,
      'no DNS answer on the uplink address',
    );
    t.equal(
      await udhcpc(top.outside, top.outsideIf, 'intruder', ['-t', '2']),
      undefined,
      'no DHCP answer on the uplink',
    );
    // nor on the bridge's own address when the query arrives through another interface
    await must(top.outside, 'ip', ['route', 'add', '10.0.1.0/24', 'via', '192.0.2.1']);
    t.ok(await ping(top.outside, '10.0.1.1'), 'outside reaches the bridge address');
    t.notMatch(
      await dig(top.outside, '10.0.1.1', 'web.lab.test'),
      /^\d+\.\d+\.\d+\.\d+$/m,
      'no DNS answer on the bridge address to a query from the uplink',
    );
    await must(top.outside, 'ip', ['route', 'del', '10.0.1.0/24']);

    // an IPv6 guest configures an address from router advertisements
    await waitFor(
      'SLAAC address',
      async () =>
        (await exec(g1.ns, 'ip', ['-6', 'addr', 'show', 'dev', g1.ifname, 'scope', 'global'])).stdout.includes(
          'fd42:0:1:',
        ),
      15_000,
    );
    t.pass('the IPv6 guest got a SLAAC address from fd42:0:1::/64');

    // kill -9 of dnsmasq: a new one is started at once and serves (how fast: bench/supervisor.mjs);
    // a renewing guest keeps its address
    const old = dnsmasqPid(top);
    await exec(top.host, 'kill', ['-9', String(old)]);
    await waitFor(
      'new dnsmasq',
      async () => dnsmasqPid(top) !== old && (await dig(top.guest, '10.0.1.1', 'web.lab.test')) === '10.0.1.10',
      3_000,
    );
    t.pass('a new dnsmasq answers DNS after kill -9');
    t.match(
      events.find((e) => e.event === 'restart'),
      { signal: 'SIGKILL', backoffMs: 0 },
      'the first crash is restarted without a backoff',
    );
    t.equal(await udhcpc(g1.ns, g1.ifname, 'guest1', ['-r', ip1!]), ip1, 'guest1 renewing keeps its address');

    // a static-host edit applies without restarting dnsmasq
    const pid = dnsmasqPid(top);
    top.brmgr.config(config('[host.db]\nmac = 52:54:00:00:00:11\nip = 10.0.1.11\n'));
    await waitFor('db resolves', async () => (await dig(top.guest, '10.0.1.1', 'db.lab.test')) === '10.0.1.11', 5_000);
    t.equal(dnsmasqPid(top), pid, 'dnsmasq kept its pid');

    // a broken edit is logged and the running config keeps serving
    top.brmgr.config(config('[host.db]\nmac = 52:54:00:00:00:11\nip = 10.0.1.11\nbogus = 1\n'));
    await waitFor(
      'error logged',
      async () => events.some((e) => typeof e.msg === 'string' && e.msg.includes('[host.db] bogus: unknown key')),
      5_000,
    );
    t.equal(await dig(top.guest, '10.0.1.1', 'db.lab.test'), '10.0.1.11', 'still serving the previous config');
    t.equal(dnsmasqPid(top), pid, 'and the same dnsmasq');

    // a conf_file dnsmasq refuses is logged with dnsmasq's words; the running dnsmasq keeps serving
    const extra = lab.file('extra.conf', 'no-such-option\n');
    top.brmgr.config(config(`[host.db]\nmac = 52:54:00:00:00:11\nip = 10.0.1.11\n[dnsmasq]\nconf_file = ${extra}\n`));
    await waitFor(
      'refusal logged',
      async () => events.some((e) => String(e.msg).includes('dnsmasq refuses the new config')),
      5_000,
    );
    t.match(
      events.find((e) => String(e.msg).includes('dnsmasq refuses')),
      { msg: new RegExp(`bad option at line 1 of ${extra}`) },
      'naming the file and line',
    );
    t.equal(dnsmasqPid(top), pid, 'the same dnsmasq keeps running');
    t.equal(await dig(top.guest, '10.0.1.1', 'db.lab.test'), '10.0.1.11', 'and serving');
    // once fixed, it applies with a restart
    writeFileSync(extra, 'log-dhcp\n');
    await waitFor(
      'restarted with the fixed conf_file',
      async () => dnsmasqPid(top) !== pid && (await dig(top.guest, '10.0.1.1', 'db.lab.test')) === '10.0.1.11',
      5_000,
    );
    t.pass('the fixed conf_file is applied');

    // someone flushes the ruleset: brmgr's table is back and the guest is online again
    await must(top.host, 'nft', ['flush', 'ruleset']);
    await waitFor(
      'table restored',
      async () => (await nftRuleset(top.host)).some((l) => l.includes(`table inet brmgr-${top.bridge}`)),
      5_000,
    );
    t.ok(
      events.some((e) => e.event === 'firewall'),
      'the restore is logged',
    );

    // SIGTERM: exit 0, no dnsmasq left
    proc.kill('SIGTERM');
    const result = await proc;
    t.equal(result.exitCode, 0, 'brmgr run exits 0 on SIGTERM');
    t.equal(await running(top), '', 'no dnsmasq left running');
  });

  t.test(
    'a reload that turns the firewall on restores it after a flush; one that turns it off stops watching',
    async (t) => {
      const lab = Lab.create(t);
      chmodSync(lab.dir, 0o755);
      const top = await topology(lab);
      const noFirewall = config().replace('firewall = nftables', 'firewall = none');
      top.brmgr.config(noFirewall);
      const proc = top.brmgr.run();
      const events = follow(proc);
      await serving(top, proc, events);
      const hasTable = async () =>
        (await must(top.host, 'nft', ['list', 'tables'])).includes(`table inet brmgr-${top.bridge}`);
      const monitor = async () =>
        (await exec(top.host, 'pgrep', ['-P', String(proc.pid), '-x', 'xtables-monitor'])).stdout.trim() || undefined;
      t.notOk(await hasTable(), 'no table while firewall = none');
      t.notOk(await monitor(), 'and no firewall monitor');

      top.brmgr.config(config());
      await waitFor('the table from the reload', hasTable, 10_000);
      await waitFor('a firewall monitor', monitor, 5_000);
      await sleep(500); // the monitor subscribes to ruleset events a moment after it starts
      await must(top.host, 'nft', ['flush', 'ruleset']);
      await waitFor('table restored', hasTable, 5_000);
      t.pass("brmgr's table is back after a flush");
      // the monitor may end at a rule it cannot translate (the flush deletes ip6 rules): it comes back
      await waitFor('the monitor, again', monitor, 5_000);
      await sleep(500);
      await must(top.host, 'nft', ['flush', 'ruleset']);
      await waitFor('table restored again', hasTable, 5_000);
      t.pass('and after a second flush');

      top.brmgr.config(noFirewall);
      await waitFor('no firewall monitor', async () => !(await monitor()), 10_000);
      t.pass('a reload to firewall = none stops the monitor');
      proc.kill('SIGTERM');
      t.equal((await proc).exitCode, 0, 'brmgr run exits 0 on SIGTERM');
    },
  );

  t.test('a run dir dnsmasq cannot reach without root is named in a warning', async (t) => {
    const lab = Lab.create(t); // its folder stays 0700, owned by root
    const top = await topology(lab);
    top.brmgr.config(config());
    const proc = top.brmgr.run();
    const events = follow(proc);
    await serving(top, proc, events);
    const warning = events.find((e) => String(e.msg).includes('cannot pass through'));
    t.match(
      warning?.msg,
      new RegExp(
        `cannot pass through ${lab.dir} to ${top.brmgr.runDir}.*` +
          'static hosts and \\[host\\.\\*\\] names will not resolve',
      ),
      'the warning names the folder and the consequence',
    );
    t.not(await dig(top.guest, '10.0.1.1', 'web.lab.test'), '10.0.1.10', 'and indeed the static host does not resolve');
  });

  t.test('a supervisor killed with -9 is replaced cleanly; a second supervisor is refused', async (t) => {
    const { top, proc: first } = await startServing(t);
    const orphan = dnsmasqPid(top);
    const second = await top.brmgr.cli('run', top.bridge);
    t.equal(second.exitCode, 1, 'a second brmgr run for the bridge is refused');
    t.match(second.stderr, /already running/);

    first.kill('SIGKILL');
    await first;
    t.equal(await running(top), String(orphan), 'dnsmasq outlives its killed supervisor');
    const again = top.brmgr.run();
    const e2 = follow(again);
    await waitFor('ready again', async () => e2.some((e) => e.event === 'ready'), 15_000);
    t.ok(
      e2.some((e) => e.event === 'stale' && e.pid === orphan),
      'the stale dnsmasq is found and stopped',
    );
    t.not(dnsmasqPid(top), orphan, 'a new dnsmasq serves');
    t.equal((await running(top)).split('\n').length, 1, 'exactly one dnsmasq');
    t.equal(await dig(top.guest, '10.0.1.1', 'web.lab.test'), '10.0.1.10', 'and it answers');
    again.kill('SIGTERM');
    await again;
  });

  t.test(
    'a supervisor killed with -9: its watches die with it, status tells the truth, post stops the orphan',
    async (t) => {
      const { top, proc } = await startServing(t);
      const orphan = dnsmasqPid(top);
      const comm = (pid: number) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        } catch {
          return '';
        }
      };
      // its children now, but dnsmasq; a short tool run of the start (tc for the ports' rates) may still be there
      const current = () =>
        readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8')
          .trim()
          .split(' ')
          .map(Number)
          .filter((pid) => pid !== orphan);
      const settled = await waitFor(
        'only the watches left as its children',
        async () => {
          const pids = current();
          return pids.map(comm).sort().join(' ') === 'inotifywait ip xtables-monitor' ? pids : false;
        },
        10_000,
      ).catch(() => current());
      const watches = settled;
      t.same(watches.map(comm).sort(), ['inotifywait', 'ip', 'xtables-monitor'], 'its watches run as its children');
      proc.kill('SIGKILL');
      await proc;
      await waitFor('the watches gone', async () => watches.every((pid) => !existsSync(`/proc/${pid}`)), 2_000);
      t.pass('the watches died with their supervisor');
      const status = JSON.parse((await top.brmgr.cli('status', top.bridge, '--json')).stdout);
      t.same(status.dnsmasq, { pid: orphan, supervised: false }, 'status: dnsmasq serves without its supervisor');
      t.equal(await dig(top.guest, '10.0.1.1', 'web.lab.test'), '10.0.1.10', 'and it does serve meanwhile');
      const doctor = await top.brmgr.cli('doctor', top.bridge);
      t.match(
        doctor.stdout,
        `dnsmasq ${orphan} serves ${top.bridge} without brmgr run`,
        'the doctor agrees with status',
      );
      t.notMatch(doctor.stdout, /no DHCP or DNS/, 'and does not say the guests are unserved');
      await top.brmgr.down('--force');
      // gone, or a zombie until whoever inherited it reaps it
      const stat = existsSync(`/proc/${orphan}`) ? readFileSync(`/proc/${orphan}/stat`, 'utf8') : '';
      t.notMatch(stat, /^\d+ \(.*\) [RSD]/s, 'post stopped the orphaned dnsmasq');
      t.notOk(existsSync(join(top.brmgr.runDir, top.bridge)), 'and left no file of the bridge in the run dir');
    },
  );

  t.test("the run dir: dnsmasq's account reads its two hosts files, other accounts nothing", async (t) => {
    const { top, proc } = await startServing(t);
    const dir = join(top.brmgr.runDir, top.bridge);
    const st = statSync(dir);
    t.equal(st.mode & 0o777, 0o711, 'the run dir can be passed through, not listed');
    t.equal(st.gid, 0, "and is root's group, not the dnsmasq account's (nogroup on Debian)");
    const as = (user: string, group: string, ...cmd: string[]) =>
      exec(top.host, 'setpriv', [`--reuid=${user}`, `--regid=${group}`, '--clear-groups', '--', ...cmd]);
    const account = readFileSync('/etc/passwd', 'utf8').includes('\ndnsmasq:') ? 'dnsmasq' : 'nobody';
    for (const file of ['hosts', 'dhcp-hosts']) {
      t.equal((await as(account, 'nogroup', 'cat', join(dir, file))).exitCode, 0, `${account} reads ${file}`);
    }
    t.not((await as('nobody', 'nogroup', 'ls', dir)).exitCode, 0, 'nobody cannot list it');
    for (const file of ['state.json', 'dnsmasq.conf', 'supervisor.json', ...(account === 'nobody' ? [] : ['hosts'])]) {
      t.not((await as('nobody', 'nogroup', 'cat', join(dir, file))).exitCode, 0, `nobody cannot read ${file}`);
    }
    // static names still resolve after a reload (dnsmasq re-reads its hosts files without root)
    writeFileSync(
      join(top.brmgr.confDir, `${top.bridge}.conf`),
      `${readFileSync(join(top.brmgr.confDir, `${top.bridge}.conf`), 'utf8')}[host.late]\nmac = 52:54:00:00:00:44\nip = 10.0.1.44\n`,
    );
    await waitFor('late resolves', async () => (await dig(top.guest, '10.0.1.1', 'late.lab.test')) === '10.0.1.44');
    t.pass('a static host added by a reload resolves');
    proc.kill('SIGTERM');
    await proc;
  });

  t.test('a crash loop ends brmgr run with exit 1; a start failure is reported at once', async (t) => {
    const { lab, top, proc, events } = await startServing(t);
    for (let i = 0; i < 8 && proc.exitCode == null; i++) {
      const pid = dnsmasqPid(top);
      await exec(top.host, 'kill', ['-9', String(pid)]);
      await waitFor(
        'next dnsmasq',
        async () => proc.exitCode != null || (dnsmasqPid(top) !== pid && (await running(top)) !== ''),
        10_000,
      ).catch(() => undefined);
    }
    const result = await proc;
    t.equal(result.exitCode, 1, 'brmgr run gives up with exit 1');
    t.ok(
      events.some((e) => e.event === 'crashloop'),
      'and says why',
    );
    t.equal(await running(top), '', 'no dnsmasq left');

    // port 53 taken by another process: found before anything starts, exit 2 naming it
    const nc = lab.spawn(top.host, 'busybox', ['nc', '-l', '-p', '53']);
    await waitFor(
      'port 53 taken',
      async () => (await exec(top.host, 'ss', ['-ltn', 'sport = :53'])).stdout.includes(':53'),
      5_000,
    );
    const taken = await top.brmgr.cli('run', top.bridge);
    t.equal(taken.exitCode, 2, 'exit 2 when the DNS port is taken');
    t.match(
      taken.stderr,
      new RegExp(`port 53/tcp for DNS is taken by \\S+ \\(pid ${nc.pid}\\) on all addresses`),
      'naming the process',
    );
    nc.kill('SIGKILL');
    await nc;

    // an option dnsmasq refuses: its own error, exit 1, no retry
    top.brmgr.config(`${config()}[dnsmasq]\nconf_file = ${lab.file('bad.conf', 'dhcp-range=nonsense\n')}\n`);
    const fail = await top.brmgr.cli('run', top.bridge);
    t.equal(fail.exitCode, 1, 'exit 1 when dnsmasq cannot start');
    t.match(fail.stdout, /dnsmasq failed to start: .*bad dhcp-range/, "with dnsmasq's own error");
    t.notMatch(fail.stdout, /"event":"restart"/, 'not retried');
  });
}
