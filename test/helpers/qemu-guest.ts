/**
 * A tiny QEMU guest for the e2e tests, built from Debian packages: the cloud
 * kernel (the uncompressed vmlinux when it can be extracted, so the guest
 * skips decompressing itself under TCG) and an initramfs with busybox-static and
 * the virtio-net modules. Its /init asks for a DHCP lease on eth0, prints
 *
 *   BRMGR-GUEST lease <ip> mac <mac>
 *
 * on the serial console, configures it with the default route, runs what a test
 * asked for (guestImageThen) and powers off. Built once per package versions and
 * cached outside the repository (BRMGR_QEMU_CACHE, default
 * /var/cache/brmgr-test/qemu-guest/<kernel>_<version>+busybox_<version>/).
 */
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import type { TestLike } from './netns.js';

export const CACHE = process.env.BRMGR_QEMU_CACHE || '/var/cache/brmgr-test/qemu-guest';
const KERNEL_META = 'linux-image-cloud-amd64';
const BUSYBOX = 'busybox-static';
/** what virtio-net needs; the dependencies are found in the modules themselves */
const WANTED_MODULES = ['virtio_pci', 'virtio_net'];

export interface GuestImage {
  /** vmlinux, or vmlinuz when it could not be extracted */
  kernel: string;
  initrd: string;
  /** the cache folder's name: package names and versions */
  key: string;
}

/**
 * The kernel package the cloud meta package points at and the candidate
 * versions, from one `apt-cache show` (each call reads the package lists anew).
 */
async function packages(): Promise<{ kernel: string; kernelVersion: string; busyboxVersion: string }> {
  const { stdout } = await execa('apt-cache', ['show', '--no-all-versions', KERNEL_META, BUSYBOX]);
  const field = (pkg: string, name: string) => {
    const para = stdout.split(/\n\n+/).find((p) => p.startsWith(`Package: ${pkg}\n`)) ?? '';
    const value = new RegExp(`^${name}: (.*)$`, 'm').exec(para)?.[1];
    if (!value) throw new Error(`apt-cache show ${pkg}: no ${name}`);
    return value.trim();
  };
  // "linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)"
  const dep = /(linux-image-[^\s,(]+-cloud-amd64)(?: \(= ([^)]+)\))?/.exec(field(KERNEL_META, 'Depends'));
  if (!dep) throw new Error(`${KERNEL_META} depends on no kernel`);
  return {
    kernel: dep[1]!,
    kernelVersion: dep[2] ?? field(KERNEL_META, 'Version'),
    busyboxVersion: field(BUSYBOX, 'Version'),
  };
}

/** The guest image, built and cached on first use. */
export async function guestImage(): Promise<GuestImage> {
  const p = await packages();
  const key = `${p.kernel}_${p.kernelVersion}+busybox_${p.busyboxVersion}`.replace(/[^A-Za-z0-9._+-]/g, '_');
  const dir = join(CACHE, key);
  const cached = (): GuestImage | undefined => {
    const kernel = ['vmlinux', 'vmlinuz'].map((k) => join(dir, k)).find((f) => existsSync(f));
    const initrd = join(dir, 'initrd.cpio');
    return kernel && existsSync(initrd) ? { kernel, initrd, key } : undefined;
  };
  const hit = cached();
  if (hit) return hit;

  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(CACHE, '.build-'));
  try {
    await execa('apt-get', ['download', `${p.kernel}=${p.kernelVersion}`, `${BUSYBOX}=${p.busyboxVersion}`], {
      cwd: work,
    });
    const root = join(work, 'x');
    for (const deb of readdirSync(work).filter((f) => f.endsWith('.deb')))
      await execa('dpkg-deb', ['-x', join(work, deb), root]);

    const out = join(work, 'image');
    mkdirSync(out);
    const boot = join(root, 'boot');
    const vmlinuz = join(boot, readdirSync(boot).find((f) => f.startsWith('vmlinuz-'))!);
    const config = readFileSync(join(boot, basename(vmlinuz).replace('vmlinuz-', 'config-')), 'utf8');
    if (!extractVmlinux(vmlinuz, config, join(out, 'vmlinux'))) copyFileSync(vmlinuz, join(out, 'vmlinuz'));

    const modules = await virtioModules(join(root, 'lib/modules'));
    writeFileSync(join(out, 'initrd.cpio'), initramfs(readFileSync(join(root, 'bin/busybox')), modules));

    try {
      renameSync(out, dir);
    } catch (err) {
      // another test process built it at the same time
      if (!cached()) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return cached()!;
}

// ---------------------------------------------------------------- /etc/qemu

/**
 * Files of /etc/qemu as processes in `ns` see them (`ip netns exec NS` bind-mounts
 * /etc/netns/NS/qemu over /etc/qemu); removed in teardown. The host's are never touched.
 */
export function nsQemuConf(t: TestLike, ns: string, files: Record<string, string>): void {
  // the bind mount needs /etc/qemu to exist; an empty folder changes nothing for the host's QEMU
  if (!existsSync('/etc/qemu')) {
    mkdirSync('/etc/qemu');
    t.teardown(() => {
      try {
        rmdirSync('/etc/qemu');
      } catch {
        /* no longer empty: not ours alone */
      }
    });
  }
  const dir = join('/etc/netns', ns);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'qemu'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'qemu', name), text);
}

// ---------------------------------------------------------------- kernel

/** Compressions a bzImage may carry: the kernel config's name, the stream's magic, the decompressor. */
const COMPRESSIONS: { config: string; magic: number[]; cmd: string[] }[] = [
  { config: 'GZIP', magic: [0x1f, 0x8b, 0x08], cmd: ['gzip', '-dc'] },
  { config: 'XZ', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], cmd: ['xz', '-dc'] },
  { config: 'BZIP2', magic: [0x42, 0x5a, 0x68], cmd: ['bzip2', '-dc'] },
  { config: 'LZMA', magic: [0x5d, 0x00, 0x00, 0x00], cmd: ['xz', '--format=lzma', '-dc'] },
  { config: 'LZO', magic: [0x89, 0x4c, 0x5a, 0x4f], cmd: ['lzop', '-dc'] },
  { config: 'LZ4', magic: [0x02, 0x21, 0x4c, 0x18], cmd: ['lz4', '-dc'] },
  { config: 'ZSTD', magic: [0x28, 0xb5, 0x2f, 0xfd], cmd: ['zstd', '-dc'] },
];

function isElf(file: string): boolean {
  const head = Buffer.alloc(4);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
}

/**
 * The ELF kernel inside a bzImage, as the kernel's scripts/extract-vmlinux
 * finds it: at each occurrence of the compression's magic, decompress and keep
 * the first result that is an ELF file. Decompressors complain about the data
 * after the stream, so their exit code says nothing. False (and no file at
 * `out`) when the tool is missing or nothing decompresses.
 */
function extractVmlinux(bzImage: string, config: string, out: string): boolean {
  const data = readFileSync(bzImage);
  const used = /^CONFIG_KERNEL_([A-Z0-9]+)=y$/m.exec(config)?.[1];
  const part = `${out}.part`;
  try {
    for (const c of COMPRESSIONS.filter((x) => !used || x.config === used)) {
      const magic = Buffer.from(c.magic);
      for (let at = data.indexOf(magic); at >= 0; at = data.indexOf(magic, at + 1)) {
        writeFileSync(part, data.subarray(at));
        // file descriptors, not pipes: execa buffering tens of MB takes seconds
        const input = openSync(part, 'r');
        const output = openSync(out, 'w');
        const r = spawnSync(c.cmd[0]!, c.cmd.slice(1), { stdio: [input, output, 'ignore'] });
        closeSync(input);
        closeSync(output);
        if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') break;
        if (statSync(out).size > 1_000_000 && isElf(out)) return true;
      }
    }
  } finally {
    rmSync(part, { force: true });
  }
  rmSync(out, { force: true });
  return false;
}

// ---------------------------------------------------------------- modules

interface Module {
  name: string;
  data: Buffer;
}

/** A module's file, decompressed when it is .ko.xz or .ko.zst. */
async function readModule(file: string): Promise<Buffer> {
  if (file.endsWith('.ko')) return readFileSync(file);
  const cmd = file.endsWith('.xz') ? 'xz' : 'zstd';
  const r = await execa(cmd, ['-dc', file], { encoding: 'buffer', stripFinalNewline: false });
  return Buffer.from(r.stdout as Uint8Array);
}

/** The `depends=` entry of a module's .modinfo section. */
function dependsOf(ko: Buffer): string[] {
  const at = ko.indexOf('\0depends=');
  if (at < 0) return [];
  const end = ko.indexOf(0, at + 1);
  const list = ko.subarray(at + '\0depends='.length, end).toString();
  return list ? list.split(',') : [];
}

function walk(dir: string, files: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, files);
    else files.push(p);
  }
  return files;
}

/** The wanted modules and their dependencies, dependencies first; a name without a file is built into the kernel. */
async function virtioModules(modulesRoot: string): Promise<Module[]> {
  const files = new Map<string, string>();
  for (const f of walk(modulesRoot)) {
    const m = /([^/]+)\.ko(\.xz|\.zst)?$/.exec(f);
    if (m) files.set(m[1]!.replace(/-/g, '_'), f);
  }
  const order: Module[] = [];
  const seen = new Set<string>();
  const add = async (name: string): Promise<void> => {
    if (seen.has(name)) return;
    seen.add(name);
    const file = files.get(name);
    if (!file) return;
    const data = await readModule(file);
    for (const dep of dependsOf(data)) await add(dep.replace(/-/g, '_'));
    order.push({ name, data });
  };
  for (const name of WANTED_MODULES) await add(name);
  return order;
}

// ---------------------------------------------------------------- initramfs

/** The udhcpc event script: report the lease on the console, then configure it. */
const DHCP_SCRIPT = `#!/bin/busybox sh
b=/bin/busybox
case "$1" in
  bound|renew)
    $b echo "BRMGR-GUEST lease $ip mac $($b cat /sys/class/net/$interface/address)"
    $b ip address add "$ip/\${mask:-24}" dev "$interface"
    [ -n "$router" ] && $b ip route replace default via "\${router%% *}" ;;
esac
`;

/** /init: the modules loaded in order, a lease, then `afterLease` (shell run by /bin/busybox sh, `$b` is busybox). */
const init = (modules: string[], afterLease = '') => `#!/bin/busybox sh
b=/bin/busybox
$b mount -t proc proc /proc
$b mount -t sysfs sys /sys
for m in ${modules.join(' ')}; do \
$b insmod /lib/modules/$m.ko || $b echo "BRMGR-GUEST insmod $m failed"; done
$b ip link set lo up
$b ip link set eth0 up
$b udhcpc -i eth0 -q -n -f -t 20 -T 3 -x hostname:qemu-guest -s /etc/udhcpc.script || $b echo "BRMGR-GUEST no lease"
${afterLease}
$b poweroff -f
`;

/** The names of an uncompressed newc archive's entries, in order. */
function cpioNames(archive: Buffer): string[] {
  const names: string[] = [];
  const align = (n: number) => (n + 3) & ~3;
  for (let at = 0; at + 110 <= archive.length; ) {
    if (archive.toString('latin1', at, at + 6) !== '070701') break;
    const field = (i: number) => Number.parseInt(archive.toString('latin1', at + 6 + i * 8, at + 14 + i * 8), 16);
    const [size, nameSize] = [field(6), field(11)];
    const name = archive.toString('utf8', at + 110, at + 110 + nameSize - 1);
    if (name === 'TRAILER!!!') break;
    names.push(name);
    at = align(align(at + 110 + nameSize) + size);
  }
  return names;
}

/**
 * The cached guest with `afterLease` run once it has its lease (configured, with its default route),
 * before it powers off: the cached initrd followed by a second archive with a new /init and DHCP script,
 * which the kernel unpacks over the first. Written to `dir`.
 */
export async function guestImageThen(afterLease: string, dir: string): Promise<GuestImage> {
  const image = await guestImage();
  const base = readFileSync(image.initrd);
  // the cached /init loads them in this order, dependencies first
  const modules = cpioNames(base)
    .map((n) => /^lib\/modules\/(.+)\.ko$/.exec(n)?.[1])
    .filter((m): m is string => !!m);
  const overlay = cpio([
    { name: 'etc/udhcpc.script', mode: EXEC, data: Buffer.from(DHCP_SCRIPT) },
    { name: 'init', mode: EXEC, data: Buffer.from(init(modules, afterLease)) },
  ]);
  const initrd = join(dir, 'initrd.cpio');
  writeFileSync(initrd, Buffer.concat([base, overlay]));
  return { ...image, initrd };
}

interface Entry {
  name: string;
  mode: number;
  data?: Buffer;
  rdev?: [number, number];
}

/** An uncompressed cpio archive in the kernel's "newc" format. */
function cpio(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  const push = (e: Entry, ino: number) => {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`);
    const fields = [ino, e.mode, 0, 0, 1, 0, data.length, 0, 0, e.rdev?.[0] ?? 0, e.rdev?.[1] ?? 0, name.length, 0];
    const header = Buffer.from(`070701${fields.map(hex).join('')}`);
    parts.push(header, name, pad(header.length + name.length), data, pad(data.length));
  };
  entries.forEach((e, i) => push(e, i + 1));
  push({ name: 'TRAILER!!!', mode: 0 }, 0);
  return Buffer.concat(parts);
}

const DIR = 0o040755;
const FILE = 0o100644;
const EXEC = 0o100755;
const CHAR = 0o020600;

function initramfs(busybox: Buffer, modules: Module[]): Buffer {
  return cpio([
    ...['bin', 'dev', 'etc', 'lib', 'lib/modules', 'proc', 'sys', 'tmp'].map((name) => ({ name, mode: DIR })),
    // the kernel opens it for /init's stdin, stdout and stderr
    { name: 'dev/console', mode: CHAR, rdev: [5, 1] as [number, number] },
    { name: 'bin/busybox', mode: EXEC, data: busybox },
    { name: 'etc/udhcpc.script', mode: EXEC, data: Buffer.from(DHCP_SCRIPT) },
    ...modules.map((m) => ({ name: `lib/modules/${m.name}.ko`, mode: FILE, data: m.data })),
    { name: 'init', mode: EXEC, data: Buffer.from(init(modules.map((m) => m.name))) },
  ]);
}

export const QEMU = '/usr/bin/qemu-system-x86_64';

/**
 * QEMU's arguments for the guest image under TCG on one virtio NIC: `netdev` is what follows `-netdev`
 * after `id=n0,` (`bridge,br=br0`, `tap,ifname=t0,script=no,downscript=no`, `tap,fd=3`).
 */
export function guestArgs(image: GuestImage, netdev: string, mac: string): string[] {
  const [kind, ...opts] = netdev.split(',');
  return [
    ...['-accel', 'tcg', '-m', '256', '-no-reboot', '-nodefaults', '-no-user-config', '-display', 'none'],
    ...['-serial', 'stdio', '-kernel', image.kernel, '-initrd', image.initrd],
    ...['-append', 'console=ttyS0 quiet panic=-1'],
    ...['-netdev', [kind, 'id=n0', ...opts].join(',')],
    ...['-device', `virtio-net-pci,netdev=n0,mac=${mac}`],
  ];
}
