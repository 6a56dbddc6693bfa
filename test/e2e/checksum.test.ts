/**
 * DHCP through every kind of bridge port, with both firewall backends: a port
 * that cannot offload checksums (a real NIC, a tap opened without offload;
 * here a veth after `ethtool -K PORT tx off`) computes the UDP checksum of
 * dnsmasq's replies in software, one that can (a plain veth) hands the packet
 * on unfilled. Guests must get their lease either way, with busybox udhcpc and
 * ISC dhclient, which both check the checksum of what they read, and a QEMU
 * guest whose tap QEMU opened without offload (vnet_hdr=off: what an emulated
 * e1000 or rtl8139 NIC does; the guest kernel here has no e1000 driver).
 */
import t from 'tap';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { dnsmasqReady, follow, label, skipReason, udhcpc } from '../helpers/e2e.js';
import { BACKENDS, exec, Lab, must, topology, type Topology } from '../helpers/netns.js';
import { guestImage, guestArgs, QEMU } from '../helpers/qemu-guest.js';

const why = skipReason();
if (why) t.plan(0, why);

const config = (backend: string) =>
  `[bridge]\nfirewall = ${backend}\n[ipv4]\naddress = 10.0.1.1/24\n[dns]\nupstream = 10.0.1.1\n`;

/** A guest on its own veth into the bridge; with `offload` false its bridge port fills checksums in software. */
async function guest(top: Topology, mac: string, offload: boolean): Promise<{ ns: string; ifname: string }> {
  const ns = await top.lab.ns('cs');
  const ifname = top.lab.name('c');
  const port = top.lab.name('k');
  await top.lab.veth(ns, ifname, top.host, port, { master: top.bridge });
  if (!offload) await must(top.host, 'ethtool', ['-K', port, 'tx', 'off']);
  const features = await must(top.host, 'ethtool', ['-k', port]);
  if (/^tx-checksumming: on/m.test(features) !== offload) throw new Error(`${port}: offload is not as asked`);
  await must(ns, 'ip', ['link', 'set', ifname, 'address', mac]);
  return { ns, ifname };
}

async function dhclient(lab: Lab, ns: string, ifname: string): Promise<string | undefined> {
  const files = lab.file(`dhclient-${ifname}/.keep`, '');
  const dir = join(files, '..');
  const r = await exec(
    ns,
    'dhclient',
    ['-1', '-v', '-pf', join(dir, 'pid'), '-lf', join(dir, 'leases'), '-sf', '/bin/true', ifname],
    { timeout: 30_000 },
  );
  await exec(ns, 'dhclient', ['-x', '-pf', join(dir, 'pid'), ifname]);
  return /bound to (\S+)/.exec(r.stdout + r.stderr)?.[1];
}

for (const backend of why ? [] : BACKENDS) {
  t.test(`${label(backend)}: guests lease behind ports with and without checksum offload`, async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    top.brmgr.config(config(backend));
    const proc = top.brmgr.run();
    const events = follow(proc);
    await dnsmasqReady(events);

    const plain = await guest(top, '52:54:00:c5:00:01', true);
    const soft = await guest(top, '52:54:00:c5:00:02', false);
    const soft2 = await guest(top, '52:54:00:c5:00:03', false);
    t.match(await udhcpc(plain.ns, plain.ifname), /^10\.0\.1\./, 'udhcpc behind an offloading port gets a lease');
    t.match(await udhcpc(soft.ns, soft.ifname), /^10\.0\.1\./, 'udhcpc behind a port with tx off gets a lease');
    t.match(await dhclient(lab, soft2.ns, soft2.ifname), /^10\.0\.1\./, 'dhclient behind a port with tx off too');
    const plain2 = await guest(top, '52:54:00:c5:00:04', true);
    t.match(await dhclient(lab, plain2.ns, plain2.ifname), /^10\.0\.1\./, 'and dhclient behind an offloading one');
  });
}

const MAC = '52:54:00:c5:00:10';

t.test(
  'a QEMU guest on a tap opened without offload leases (firewall = nftables)',
  { skip: why ?? (existsSync(QEMU) ? undefined : 'qemu-system-x86 is not installed') },
  async (t) => {
    const image = await guestImage();
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    top.brmgr.config(config('nftables'));
    const events = follow(top.brmgr.run());
    await dnsmasqReady(events);
    const tap = lab.name('ct');
    const add = await top.brmgr.cli('tap', 'add', top.bridge, tap);
    t.equal(add.exitCode, 0, 'brmgr tap add', { output: add.output });
    const qemu = lab.spawn(
      top.host,
      QEMU,
      guestArgs(image, `tap,ifname=${tap},script=no,downscript=no,vnet_hdr=off`, MAC),
    );
    // the guest powers off by itself; this bounds a guest that hangs
    const limit = setTimeout(() => qemu.kill('SIGKILL'), 120_000);
    const vm = await qemu.finally(() => clearTimeout(limit));
    const serial = String(vm.stdout);
    const lease = /BRMGR-GUEST lease (\S+) mac (\S+)/.exec(serial);
    t.match(lease?.[1], /^10\.0\.1\./, 'the guest accepted the offer and reports its lease', {
      serial,
      stderr: String(vm.stderr),
    });
  },
);
