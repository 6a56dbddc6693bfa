/**
 * `port_security = strict` with a real guest: a QEMU guest on `-netdev bridge` (its tap made by
 * qemu-bridge-helper after `brmgr up`, as in qemu.test.ts) gets its lease, and once configured
 * with it pings the outside through NAT; `brmgr status` shows its port bound at strict.
 *
 * host ── bridge 10.0.1.1/24 ── tap (QEMU guest 52:54:00:12:34:57)
 * host ── uplink 192.0.2.1/24 ~ outside 192.0.2.2/24
 */
import t from 'tap';
import { chmodSync, existsSync } from 'node:fs';
import { exec, Lab, topology, waitFor } from '../helpers/netns.js';
import { dnsmasqReady, follow, skipReason } from '../helpers/e2e.js';
import { guestImageThen, nsQemuConf } from '../helpers/qemu-guest.js';

const QEMU = '/usr/bin/qemu-system-x86_64';
const HELPER = '/usr/lib/qemu/qemu-bridge-helper';
const why = skipReason() ?? (existsSync(QEMU) && existsSync(HELPER) ? undefined : 'qemu-system-x86 is not installed');
if (why) t.plan(0, why);

const MAC = '52:54:00:12:34:57';
const OUTSIDE = '192.0.2.2';
const CONFIG = `[bridge]
firewall = nftables
port_security = strict
[ipv4]
address = 10.0.1.1/24
range = 10.0.1.100-10.0.1.150
[dns]
; never forward out of the test's namespaces
upstream = 10.0.1.1
`;

/** After its lease: up to 10 pings of the outside, the first reply reported; then time for `status` to see it. */
const PING_OUTSIDE = `for i in 1 2 3 4 5 6 7 8 9 10; do
  if $b ping -c 1 -W 2 ${OUTSIDE} >/dev/null 2>&1; then $b echo "BRMGR-GUEST reached ${OUTSIDE}"; break; fi
done
$b sleep 10`;

interface StatusGuest {
  port: string;
  mac?: string;
  level: string;
  addresses: string[];
}

for (const _ of why ? [] : [1]) {
  t.test('a QEMU guest on a strict bridge leases its address and reaches the outside', async (t) => {
    const lab = Lab.create(t);
    // dnsmasq, after dropping root, re-reads its hosts files from the run dir inside the lab's folder
    chmodSync(lab.dir, 0o755);
    // built (or taken from the cache) before the guest boots
    const image = await guestImageThen(PING_OUTSIDE, lab.dir);
    const top = await topology(lab);
    nsQemuConf(t, top.host, { 'bridge.conf': `allow ${top.bridge}\n` });
    top.brmgr.config(CONFIG);
    const run = top.brmgr.run();
    const events = follow(run);
    await dnsmasqReady(events);
    t.equal(
      (await exec(top.host, 'nft', ['list', 'table', 'bridge', `brmgr-strict-${top.bridge}`])).exitCode,
      0,
      'the bridge has its strict table',
    );

    // prettier-ignore
    const qemu = lab.spawn(top.host, QEMU, [
      '-accel',
      'tcg',
      '-m',
      '256',
      '-no-reboot',
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-serial',
      'stdio',
      '-kernel',
      image.kernel,
      '-initrd',
      image.initrd,
      '-append',
      'console=ttyS0 quiet panic=-1',
      '-netdev',
      `bridge,id=n0,br=${top.bridge}`,
      '-device',
      `virtio-net-pci,netdev=n0,mac=${MAC}`,
    ]);
    // the guest powers off by itself; this bounds a guest that hangs
    const limit = setTimeout(() => qemu.kill('SIGKILL'), 150_000);
    // while the guest runs: its port, bound to its MAC and lease at strict
    const bound = waitFor(
      'the guest’s port bound at strict',
      async () => {
        const r = await top.brmgr.cli('status', top.bridge, '--json');
        const guests = (JSON.parse(r.stdout || '{}') as { guests?: StatusGuest[] | null }).guests ?? [];
        const found = guests.find((g) => g.mac === MAC && g.addresses.length > 0);
        // each look is a CLI start: a second apart, not waitFor's 50 ms
        if (!found) await new Promise((r) => setTimeout(r, 1000));
        return found;
      },
      120_000,
    ).catch(() => undefined);
    const [vm, port] = await Promise.all([qemu, bound]).finally(() => clearTimeout(limit));
    const serial = String(vm.stdout);
    const output = { serial, stderr: String(vm.stderr) };

    t.equal(vm.exitCode, 0, 'the guest booted and powered off', output);
    const lease = /BRMGR-GUEST lease (\S+) mac (\S+)/.exec(serial);
    t.ok(lease, 'the guest reports a DHCP lease on its serial console', output);
    const [, ip, guestMac] = lease ?? [];
    t.equal(guestMac, MAC, "the guest's NIC has the MAC given to -device");
    const n = Number(ip?.split('.')[3]);
    t.ok(ip?.startsWith('10.0.1.') && n >= 100 && n <= 150, `${ip} is inside the range`);
    t.match(serial, `BRMGR-GUEST reached ${OUTSIDE}`, 'the guest gets a reply from the outside', output);
    t.match(port, { mac: MAC, level: 'strict' }, 'status: the guest’s tap port, strict', { events });
    t.ok(ip && port?.addresses.includes(ip), 'bound to the lease the guest got', { port });

    run.kill('SIGTERM');
    t.equal((await run).exitCode, 0, 'brmgr run stops cleanly');
  });
}
