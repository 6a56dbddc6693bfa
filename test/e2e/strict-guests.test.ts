/**
 * `port_security = strict` with real guests, whose ports appear after `brmgr up`: a QEMU guest on
 * `-netdev bridge` (its tap made by qemu-bridge-helper, as in qemu.test.ts) and a busybox LXC
 * container on the shipped include (its veth made by LXC, as in lxc.test.ts) each get their lease
 * and, configured with it, ping the outside through NAT; `brmgr status` shows each port bound at strict.
 *
 * host ── bridge 10.0.1.1/24 ── tap (QEMU guest 52:54:00:12:34:57) | veth (LXC container)
 * host ── uplink 192.0.2.1/24 ~ outside 192.0.2.2/24
 */
import t from 'tap';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Brmgr, exec, ip, Lab, ROOT, topology, waitFor, type TestLike } from '../helpers/netns.js';
import { container, LXC_CREATE } from '../helpers/lxc.js';
import { dnsmasqReady, follow, skipReason } from '../helpers/e2e.js';
import { guestImageThen, nsQemuConf, guestArgs, QEMU } from '../helpers/qemu-guest.js';

const HELPER = '/usr/lib/qemu/qemu-bridge-helper';
const why = skipReason();
if (why) t.plan(0, why);
const noQemu = existsSync(QEMU) && existsSync(HELPER) ? false : 'qemu-system-x86 is not installed';
const noLxc = existsSync(LXC_CREATE) ? false : 'lxc is not installed (apt-get install lxc lxc-templates)';

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

/** The port `brmgr status` shows bound to `mac` with an address; undefined until then. */
async function boundPort(brmgr: Brmgr, mac: string): Promise<StatusGuest | undefined> {
  const r = await brmgr.cli('status', brmgr.bridge, '--json');
  const guests = (JSON.parse(r.stdout || '{}') as { guests?: StatusGuest[] | null }).guests ?? [];
  const found = guests.find((g) => g.mac === mac && g.addresses.length > 0);
  // each look is a CLI start: a second apart, not waitFor's 50 ms
  if (!found) await new Promise((r) => setTimeout(r, 1000));
  return found;
}

/** The strict table brmgr-pre made for the bridge. */
const strictTableThere = async (ns: string, bridge: string) =>
  (await exec(ns, 'nft', ['list', 'table', 'bridge', `brmgr-strict-${bridge}`])).exitCode === 0;

/** A host namespace serving `bridge` (strict) with `brmgr run`, and an outside namespace behind its uplink. */
async function lxcHost(t: TestLike, bridge: string) {
  const lab = Lab.create(t);
  chmodSync(lab.dir, 0o755);
  const [ns, outside] = await Promise.all([lab.ns('host'), lab.ns('out')]);
  const uplink = lab.name('u');
  const nic = lab.name('o');
  await lab.veth(ns, uplink, outside, nic);
  await ip(ns, 'address', 'add', '192.0.2.1/24', 'dev', uplink);
  await ip(ns, 'route', 'add', 'default', 'via', OUTSIDE);
  await ip(outside, 'address', 'add', `${OUTSIDE}/24`, 'dev', nic);
  const brmgr = new Brmgr(lab, ns, bridge);
  brmgr.config(CONFIG);
  const run = brmgr.run();
  const events = follow(run);
  await dnsmasqReady(events);
  return { lab, ns, brmgr, run, events };
}

for (const _ of why ? [] : [1]) {
  t.test('a QEMU guest on a strict bridge leases its address and reaches the outside', { skip: noQemu }, async (t) => {
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
    t.ok(await strictTableThere(top.host, top.bridge), 'the bridge has its strict table');

    const qemu = lab.spawn(top.host, QEMU, guestArgs(image, `bridge,br=${top.bridge}`, MAC));
    // the guest powers off by itself; this bounds a guest that hangs
    const limit = setTimeout(() => qemu.kill('SIGKILL'), 150_000);
    // while the guest runs: its port, bound to its MAC and lease at strict
    const bound = waitFor('the guest’s port bound at strict', () => boundPort(top.brmgr, MAC), 120_000).catch(
      () => undefined,
    );
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

  t.test(
    'an LXC container on a strict bridge leases its address and reaches the outside',
    { skip: noLxc },
    async (t) => {
      // the shipped include plugs the container into brmgr0; the bridge lives in the test's namespace
      const { lab, ns, brmgr, run, events } = await lxcHost(t, 'brmgr0');
      t.ok(await strictTableThere(ns, 'brmgr0'), 'the bridge has its strict table');
      const ct = await container(t, lab, ns, 'lxc-strict', join(ROOT, 'share/lxc/lxc.container.conf'), (rcS) => rcS);

      // the template's rcS runs udhcpc, whose script configures the lease
      const eth0 = await waitFor(
        'the container’s lease on eth0',
        async () => {
          const e = await ct.eth0();
          if (!e?.addr_info.length) await new Promise((r) => setTimeout(r, 500));
          return e?.addr_info.length ? e : undefined;
        },
        60_000,
      ).catch(() => undefined);
      t.ok(eth0, 'the container configured a lease on eth0', ct.diag());
      const mac = eth0?.address ?? '';
      const got = eth0?.addr_info[0]?.local ?? '';
      const n = Number(got.split('.')[3]);
      t.ok(got.startsWith('10.0.1.') && n >= 100 && n <= 150, `${got} is inside the range`);
      // dnsmasq's log reaches brmgr run a moment after the container has its lease
      const acked = await waitFor(
        'the DHCPACK in brmgr run’s log',
        async () => events.some((e) => e.event === 'ack' && e.mac === mac && e.ip === got),
        10_000,
      ).catch(() => false);
      t.ok(acked, 'brmgr run logs the DHCPACK');

      const reached = await ct.attach('ping', '-c', '5', '-w', '20', OUTSIDE);
      t.equal(reached.exitCode, 0, 'the container gets replies from the outside', {
        output: reached.stdout + reached.stderr,
      });
      const port = await waitFor('the container’s port bound at strict', () => boundPort(brmgr, mac), 30_000).catch(
        () => undefined,
      );
      t.match(port, { mac, level: 'strict' }, 'status: the container’s veth, strict');
      t.ok(port?.addresses.includes(got), 'bound to the lease the container got', { port });

      run.kill('SIGTERM');
      t.equal((await run).exitCode, 0, 'brmgr run stops cleanly');
    },
  );
}
