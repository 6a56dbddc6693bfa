/**
 * `brmgr wait` and `brmgr reload`, the unit's ExecStartPost and ExecReload: wait returns once dnsmasq
 * answers this run's config, never for a bridge kept from an earlier run; reload says whether the new
 * config is served (0), refused with the old one serving (2), or there is no supervisor (1). And the
 * supervisor's port table: which guest is behind which port.
 */
import t from 'tap';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, ip, Lab, topology, waitFor } from '../helpers/netns.js';
import { follow, serving, skipReason, udhcpc } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const config = (lease = '1h', extra = '') => `[bridge]
firewall = nftables
[ipv4]
address = 10.0.1.1/24
lease_time = ${lease}
[dns]
domain = lab.test
upstream = 10.0.1.1
${extra}`;

const dig = async (ns: string, name: string) =>
  (await exec(ns, 'dig', ['@10.0.1.1', name, '+short', '+time=1', '+tries=1'])).stdout.trim();

for (const _ of why ? [] : [1]) {
  t.test('wait, then reload: applied, refused, not running', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    top.brmgr.config(config('1h', '[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n'));

    t.equal((await top.brmgr.cli('reload', top.bridge)).exitCode, 1, 'reload with no supervisor: 1');

    const proc = top.brmgr.run();
    const log = follow(proc);
    const waited = await top.brmgr.cli('wait', top.bridge, '--pid', String(proc.pid), '--timeout', '20');
    t.equal(waited.exitCode, 0, `wait returns once brmgr run serves: ${waited.stderr}`);
    await top.attach();
    // the moment wait returns, DNS answers this run's config
    t.equal(await dig(top.guest, 'web.lab.test'), '10.0.1.10', 'DNS answers at once');

    const conf = () => readFileSync(join(top.brmgr.runDir, top.bridge, 'dnsmasq.conf'), 'utf8');
    top.brmgr.config(config('2h', '[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.20\n'));
    const applied = await top.brmgr.cli('reload', top.bridge);
    t.equal(applied.exitCode, 0, `a valid config: reload exits 0 ${applied.stderr}`);
    t.match(conf(), /,2h\b/, 'the new lease time is what dnsmasq serves');
    t.equal(await dig(top.guest, 'web.lab.test'), '10.0.1.20', 'and the new static host answers');
    await waitFor('the reload logged', async () => log.some((e) => e.event === 'reload'));
    t.match(
      log.filter((e) => e.event === 'reload').map((e) => e.msg),
      [/^reload applied: \[ipv4\] lease_time 1h → 2h; \[host\.web\] ip 10\.0\.1\.10 → 10\.0\.1\.20; /],
      'the reload logged one line of what it changed',
    );

    top.brmgr.config(config('soon', '[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.30\n'));
    const refused = await top.brmgr.cli('reload', top.bridge);
    t.equal(refused.exitCode, 2, 'a config error: reload exits 2');
    t.match(refused.stderr, /refused; the previous one keeps serving/, 'and says the old config serves on');
    t.match(refused.stderr, /lease_time/, 'with the reason');
    t.equal(await dig(top.guest, 'web.lab.test'), '10.0.1.20', 'the previous config still answers');
    t.equal(proc.exitCode, null, 'brmgr run goes on');

    proc.kill('SIGTERM');
    await proc;
    t.equal((await top.brmgr.cli('reload', top.bridge)).exitCode, 1, 'after it stopped: 1');
    const gone = await top.brmgr.cli('wait', top.bridge, '--pid', String(proc.pid), '--timeout', '5');
    t.equal(gone.exitCode, 1, 'wait for a supervisor that has exited: 1 at once');
    t.match(gone.stderr, /exited before it served/);
  });

  t.test('a reload of what the firewall alone reads: the bridge converges, dnsmasq serves on', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    top.brmgr.config(config('1h', '[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n'));
    const proc = top.brmgr.run();
    const log = follow(proc);
    t.equal((await top.brmgr.cli('wait', top.bridge, '--pid', String(proc.pid), '--timeout', '20')).exitCode, 0);
    await top.attach();
    const pid = () => readFileSync(join(top.brmgr.runDir, top.bridge, 'dnsmasq.pid'), 'utf8').trim();
    const served = pid();
    const rules = async () =>
      (await exec(top.host, 'nft', ['list', 'chain', 'inet', `brmgr-${top.bridge}`, 'from-bridge-new'])).stdout.match(
        /ct count over \d+/g,
      );

    top.brmgr.config(
      config('1h', '[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n').replace(
        '[ipv4]',
        'guest_conns = 100\n[ipv4]',
      ),
    );
    const applied = await top.brmgr.cli('reload', top.bridge);
    t.equal(applied.exitCode, 0, `reload exits 0 ${applied.stderr}`);
    t.same(await rules(), ['ct count over 100', 'ct count over 100'], 'the connection cap is the new one');
    t.equal(pid(), served, 'the same dnsmasq serves: its config did not change');
    t.equal(await dig(top.guest, 'web.lab.test'), '10.0.1.10', 'and answers');
    await waitFor('the reload logged', async () => log.some((e) => e.event === 'reload'));
    t.match(
      log.filter((e) => e.event === 'reload').map((e) => e.msg),
      [/guest_conns 2048 → 100; nothing to change for dnsmasq$/],
    );

    // the firewall and a static host at once: converge, then dnsmasq re-reads its hosts (no restart)
    top.brmgr.config(
      config('1h', '[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.20\n').replace(
        '[ipv4]',
        'guest_conns = 200\n[ipv4]',
      ),
    );
    t.equal((await top.brmgr.cli('reload', top.bridge)).exitCode, 0);
    t.same(await rules(), ['ct count over 200', 'ct count over 200']);
    t.equal(await dig(top.guest, 'web.lab.test'), '10.0.1.20', 'the new static host answers');
    t.equal(pid(), served, 'from the same dnsmasq');
    proc.kill('SIGTERM');
    await proc;
  });

  t.test('wait does not count a bridge kept from an earlier run', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    top.brmgr.config(config());
    t.equal((await top.brmgr.up()).exitCode, 0, 'the bridge is up, without a supervisor');
    const early = await top.brmgr.cli('wait', top.bridge, '--timeout', '1');
    t.equal(early.exitCode, 1, 'no supervisor serves it: wait gives up');
    // a stale events socket left by a supervisor killed with -9 is no answer either
    const proc = top.brmgr.run();
    follow(proc);
    t.equal((await top.brmgr.cli('wait', top.bridge, '--pid', String(proc.pid))).exitCode, 0, 'once it serves: 0');
    proc.kill('SIGKILL');
    await proc.catch(() => undefined);
    const stale = await top.brmgr.cli('wait', top.bridge, '--timeout', '1');
    t.equal(stale.exitCode, 1, 'a socket left by a killed supervisor does not count');
  });
}

for (const _ of why ? [] : [1]) {
  t.test(
    'the supervisor knows which guest is behind which port: the MAC the bridge learned, then its lease',
    async (t) => {
      const { top, log } = await serving(t, config(), { env: { BRMGR_LOG_LEVEL: 'debug' } });
      const mac = (await exec(top.guest, 'cat', [`/sys/class/net/${top.guestIf}/address`])).stdout.trim();
      const leased = await udhcpc(top.guest, top.guestIf);
      t.ok(leased, `the guest leased ${leased}`);
      const told = () =>
        log
          .filter((e) => e.event === 'port' && e.port === top.port)
          .map((e) => ({ mac: e.mac, addresses: e.addresses }));
      await waitFor('the guest behind its port, with its lease', async () =>
        told().some((g) => g.mac === mac && (g.addresses as string[] | undefined)?.includes(leased!)),
      );
      t.ok(
        told().some((g) => g.mac === mac),
        `port ${top.port}: ${mac}, learned from the bridge`,
      );
      await ip(top.host, 'link', 'set', top.port, 'nomaster');
      await waitFor('the port gone', async () => told().at(-1)?.mac === undefined);
      t.pass('a port that leaves the bridge is told as gone');
    },
  );
}
