/**
 * QEMU guests: a real guest on `-netdev bridge` (through qemu-bridge-helper)
 * leases its address from `brmgr run`, and `brmgr check` warns when the
 * helper's bridge.conf would refuse the bridge, as the helper itself does.
 *
 * /etc/qemu/bridge.conf is given only to the test's namespace: `ip netns exec
 * NS` bind-mounts /etc/netns/NS/qemu over /etc/qemu; the host's is never touched.
 */
import t from 'tap';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Brmgr, exec, Lab, waitFor, type TestLike } from '../helpers/netns.js';
import { follow, skipReason } from '../helpers/e2e.js';
import { guestImage, nsQemuConf, guestArgs, QEMU } from '../helpers/qemu-guest.js';

const HELPER = '/usr/lib/qemu/qemu-bridge-helper';
const why = skipReason() ?? (existsSync(QEMU) && existsSync(HELPER) ? undefined : 'qemu-system-x86 is not installed');
if (why) t.plan(0, why);

const MAC = '52:54:00:12:34:56';
const CONFIG = `[bridge]
firewall = nftables
[ipv4]
address = 10.0.1.1/24
range = 10.0.1.100-10.0.1.150
[dns]
; never forward out of the test's namespaces
upstream = 10.0.1.1
`;

/** A host namespace with a brmgr config for a new bridge. */
async function host(t: TestLike) {
  const lab = Lab.create(t);
  // dnsmasq, after dropping root, re-reads its hosts files from the run dir inside the lab's folder
  chmodSync(lab.dir, 0o755);
  const ns = await lab.ns('host');
  const brmgr = new Brmgr(lab, ns, lab.name('br'));
  brmgr.config(CONFIG);
  return { lab, ns, brmgr, bridge: brmgr.bridge };
}

/** The real helper's verdict: it says "access denied by acl file" when the ACL refuses the bridge. */
const helperRefuses = async (ns: string, bridge: string) =>
  (await exec(ns, HELPER, [`--br=${bridge}`, '--fd=99'], { timeout: 10_000 })).stderr.includes(
    'access denied by acl file',
  );

for (const _ of why ? [] : [1]) {
  t.test('a QEMU guest on -netdev bridge leases its address from brmgr run', async (t) => {
    // built (or taken from the cache) before any namespace exists
    const image = await guestImage();
    const { lab, ns, brmgr, bridge } = await host(t);
    nsQemuConf(t, ns, { 'bridge.conf': `allow ${bridge}\n` });

    const run = brmgr.run();
    const events = follow(run);
    await waitFor(
      'dnsmasq ready',
      async () =>
        events.some((e) => e.event === 'ready') ||
        (run.exitCode != null ? Promise.reject(new Error(`brmgr run exited:\n${JSON.stringify(events)}`)) : false),
      15_000,
    );

    const qemu = lab.spawn(ns, QEMU, guestArgs(image, `bridge,br=${bridge}`, MAC));
    // the guest powers off by itself; this bounds a guest that hangs
    const limit = setTimeout(() => qemu.kill('SIGKILL'), 90_000);
    const [vm, lookup] = await Promise.all([qemu, brmgr.cli('lookup', bridge, MAC, '--wait', '60')]).finally(() =>
      clearTimeout(limit),
    );
    const serial = String(vm.stdout);
    const output = { serial, stderr: String(vm.stderr) };

    t.equal(vm.exitCode, 0, 'the guest booted and powered off', output);
    const lease = /BRMGR-GUEST lease (\S+) mac (\S+)/.exec(serial);
    t.ok(lease, 'the guest reports a DHCP lease on its serial console', output);
    const [, ip, guestMac] = lease ?? [];
    t.equal(guestMac, MAC, "the guest's NIC has the MAC given to -device");
    const n = Number(ip?.split('.')[3]);
    t.ok(ip?.startsWith('10.0.1.') && n >= 100 && n <= 150, `${ip} is inside the range`);
    t.equal(lookup.exitCode, 0, `brmgr lookup ${bridge} ${MAC} --wait 60 finds it`, { output: lookup.output });
    t.equal(lookup.stdout.trim(), ip, 'and prints the address the guest got');
    t.ok(
      events.some((e) => e.event === 'ack' && e.mac === MAC && e.ip === ip && e.hostname === 'qemu-guest'),
      'brmgr run logs the DHCPACK with the guest hostname',
    );
  });

  t.test('brmgr check warns when bridge.conf does not allow the bridge', async (t) => {
    const { ns, brmgr, bridge } = await host(t);
    const conf = join('/etc/netns', ns, 'qemu');
    nsQemuConf(t, ns, { 'bridge.conf': 'allow virbr0\n' });

    const refused = await brmgr.cli('check', bridge);
    t.equal(refused.exitCode, 0, 'a warning, not an error', { output: refused.output });
    t.match(refused.stdout, `warning: /etc/qemu/bridge.conf does not allow ${bridge}`, 'check warns', {
      output: refused.output,
    });
    t.match(refused.stdout, `add the line \`allow ${bridge}\` to /etc/qemu/bridge.conf`, 'showing the line to add');
    t.ok(await helperRefuses(ns, bridge), 'qemu-bridge-helper refuses the bridge too');

    // allowed through an include
    writeFileSync(join(conf, 'bridge.conf'), 'allow virbr0\ninclude /etc/qemu/brmgr.conf\n');
    writeFileSync(join(conf, 'brmgr.conf'), `allow ${bridge}\n`);
    const allowed = await brmgr.cli('check', bridge);
    t.equal(allowed.exitCode, 0, 'check passes', { output: allowed.output });
    t.notMatch(allowed.stdout, /bridge\.conf|qemu/, 'without a QEMU warning', { output: allowed.output });
    t.notOk(await helperRefuses(ns, bridge), 'and qemu-bridge-helper accepts the bridge');
  });
}
