/**
 * The user's path under OpenRC (sysvinit's init running OpenRC's runlevels in a
 * Debian 12 root booted by systemd-nspawn): `make install`, then the installed
 * init.d/brmgr as one instance per bridge, with the default config: start
 * (started means serving), reload (applied and refused), stop, a reboot.
 */
import t from 'tap';
import { Container, containerSkipReason } from '../helpers/container.js';
import { waitFor } from '../helpers/netns.js';
import { skipReason } from '../helpers/e2e.js';

const why = skipReason() ?? containerSkipReason();
if (why) t.plan(0, why);
t.setTimeout(120_000);

const SERVICE = 'brmgr.brmgr0';
const GATEWAY = '10.0.1.1';
const CONF = '/etc/brmgr/brmgr0.conf';

for (const _ of why ? [] : [1]) {
  const booting = Date.now();
  const c = await Container.boot(t, 'openrc');
  t.comment(`openrc container booted in ${Date.now() - booting} ms`);
  const rcService = (action: string) => c.run(['rc-service', SERVICE, action]);
  const started = async () => (await rcService('status')).exitCode === 0;

  t.test('make install, one instance per bridge in the default runlevel', async (t) => {
    await c.makeInstall();
    t.equal((await c.run(['test', '-x', '/etc/init.d/brmgr'])).exitCode, 0, 'init.d/brmgr installed');
    await c.must(['ln', '-s', 'brmgr', `/etc/init.d/${SERVICE}`]);
    const r = await c.run(['rc-update', 'add', SERVICE, 'default']);
    t.equal(r.exitCode, 0, `rc-update add: ${r.stderr}`);
    await c.addGuest('guest', 'gport');
  });

  t.test('rc-service start: started means serving', async (t) => {
    const r = await rcService('start');
    t.equal(r.exitCode, 0, `start: ${r.stdout}${r.stderr}`);
    t.ok(await started(), 'status: started');
    t.ok(await c.dnsAnswers(GATEWAY), 'DNS answers on the bridge the moment start returns');
    await c.plug('gport', 'brmgr0');
    t.match(await c.lease('guest'), { seconds: 3600 }, 'a guest leases');
  });

  t.test('rc-service reload applies a valid config and refuses a broken one', async (t) => {
    const good = (await c.must(['cat', CONF])).replace(/^lease_time = .*$/m, 'lease_time = 2h');
    await c.write(CONF, good);
    const applied = await rcService('reload');
    t.equal(applied.exitCode, 0, `reload exits 0: ${applied.stderr}`);
    t.match(await c.lease('guest'), { seconds: 7200 }, 'the new lease time is served');

    const served = (await c.lease('guest'))?.seconds;
    await c.write(CONF, good.replace(/^address = 10\.0\.1\.1\/24$/m, 'address = 10.0.1.300/24'));
    const refused = await rcService('reload');
    t.not(refused.exitCode, 0, 'reload of a broken config exits non-zero');
    t.ok(await started(), 'still started');
    t.ok(await c.dnsAnswers(GATEWAY), 'DNS still answers');
    t.match(await c.lease('guest'), { seconds: served }, `the old config keeps serving (lease time ${served} s)`);
    await c.write(CONF, good);
    t.equal((await rcService('reload')).exitCode, 0, 'the good config reloads again');
  });

  t.test('rc-service stop with no guest leaves nothing behind', async (t) => {
    await c.must(['ip', 'link', 'set', 'gport', 'nomaster']);
    const r = await rcService('stop');
    t.equal(r.exitCode, 0, `stop: ${r.stdout}${r.stderr}`);
    t.equal((await c.run(['ip', 'link', 'show', 'brmgr0'])).exitCode, 1, 'no bridge');
    t.notMatch(await c.must(['nft', 'list', 'tables']), /brmgr-brmgr0/, 'no nft table inet brmgr-brmgr0');
    const left = (await c.run(['find', '/run/brmgr', '-path', '*brmgr0*'])).stdout.trim();
    t.equal(left, '', `no run files (${left.replace(/\n/g, ' ') || 'none'})`);
    t.notOk((await c.processes()).includes('dnsmasq'), 'no dnsmasq');
  });

  t.test('a reboot starts it again', async (t) => {
    await c.reboot(['reboot']);
    t.equal(c.boots, 2, 'rebooted');
    await waitFor('brmgr.brmgr0 started', started, 20_000).catch(() => undefined);
    t.ok(await started(), 'started after the reboot');
    t.ok(await c.dnsAnswers(GATEWAY), 'DNS answers after the reboot');
    await c.addGuest('guest2', 'gport2');
    await c.plug('gport2', 'brmgr0');
    t.ok(await c.lease('guest2'), 'a guest leases after the reboot');
  });
}
