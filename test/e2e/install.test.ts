/**
 * make install into a DESTDIR: the installed programs run with only Node.js
 * (the source tree hidden), bring a bridge up and serve a guest under the
 * systemd unit's capabilities and under runit's runsv; the unit verifies;
 * uninstall and reinstall keep the user's config.
 */
import t from 'tap';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { execa } from 'execa';
import { exec, Lab, link, ip, ROOT, snapshot, topology, waitFor, type Topology } from '../helpers/netns.js';
import { follow, nftTable, skipReason, udhcpc } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const SRC = ROOT.replace(/\/$/, '');
const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const PROGRAMS = ['brmgr', 'brmgr-pre', 'brmgr-post'];

const make = (...args: string[]) => execa('make', ['-s', ...args], { cwd: ROOT, reject: false, all: true });

/** Every file and symlink under dir, relative to it, sorted. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

const config =
  '[bridge]\nfirewall = nftables\n' +
  '[ipv4]\naddress = 10.0.1.1/24\nrange = 10.0.1.100-10.0.1.150\n' +
  '[dns]\n; never forward out of the test namespaces\nupstream = 10.0.1.1\n';

/**
 * A script that runs its arguments in a private mount namespace's view where
 * the source tree is an empty read-only tmpfs, from /, so that nothing can be
 * loaded from it.
 */
function hider(lab: Lab): string {
  return lab.file(
    'hide-source',
    `#!/bin/sh\nmount -t tmpfs -o ro,size=4k brmgr-hidden "$HIDE" || exit 1\ncd / || exit 1\nexec "$@"\n`,
    0o755,
  );
}

/**
 * argv for `env -i VARS… unshare -m HIDE-SCRIPT CMD…`: only the given environment
 * (tap adds NODE_OPTIONS loaders from the source tree to every child it sees
 * spawned; `env -i` drops them), the source tree hidden, cwd /.
 */
const bare = (lab: Lab, vars: Record<string, string>, ...argv: string[]): [string, string[]] => [
  'env',
  [
    '-i',
    ...Object.entries({ PATH, HIDE: SRC, ...vars }).map(([k, v]) => `${k}=${v}`),
    'unshare',
    '-m',
    hider(lab),
    ...argv,
  ],
];

/** One install for the whole file. */
const destdir = why ? '' : mkdtempSync(join(tmpdir(), 'brmgr-destdir-'));
// the installed programs run as nobody too (as the units' user)
if (destdir) chmodSync(destdir, 0o755);
if (!why) t.teardown(() => rmSync(destdir, { recursive: true, force: true }));
const bin = (p: string) => join(destdir, 'usr/bin', p);

for (const _ of why ? [] : [1]) {
  t.test('make install DESTDIR=… PREFIX=/usr lays out a self-contained install', async (t) => {
    const r = await make('install', `DESTDIR=${destdir}`, 'PREFIX=/usr');
    t.equal(r.exitCode, 0, `make install: ${r.all}`);
    const files = tree(destdir);
    for (const f of [
      'etc/brmgr/brmgr0.conf',
      'etc/dnsmasq.d/brmgr.conf',
      'etc/init.d/brmgr',
      'etc/init.d/brmgr-exporter',
      'etc/init/brmgr.conf',
      'etc/sv/brmgr-brmgr0/run',
      'etc/sv/brmgr-brmgr0/finish',
      'etc/sv/brmgr-exporter/run',
      'usr/lib/systemd/system/brmgr@.service',
      'usr/lib/systemd/system/brmgr-exporter.service',
      'usr/share/brmgr/lxc.container.conf',
      'usr/share/doc/brmgr/README.md',
      ...PROGRAMS.map((p) => `usr/bin/${p}`),
    ]) {
      t.ok(files.includes(f), `installs ${f}`);
    }
    t.ok(statSync(join(destdir, 'etc/sv/brmgr-brmgr0/env')).isDirectory(), 'the runit service has an env/ dir');
    for (const p of PROGRAMS) {
      t.ok(lstatSync(bin(p)).isSymbolicLink(), `${p} is a symlink`);
      const target = realpathSync(bin(p));
      t.ok(
        target.startsWith(join(destdir, 'usr/lib/brmgr/')),
        `${p} resolves inside DESTDIR, to ${relative(destdir, target)}`,
      );
      t.equal(statSync(target).mode & 0o777, 0o755, `${p} is executable`);
    }
    for (const f of [
      'etc/init.d/brmgr',
      'etc/init.d/brmgr-exporter',
      'etc/sv/brmgr-brmgr0/run',
      'etc/sv/brmgr-brmgr0/finish',
      'etc/sv/brmgr-exporter/run',
    ]) {
      t.equal(statSync(join(destdir, f)).mode & 0o777, 0o755, `${f} is executable`);
    }

    // nothing installed refers to the source tree, the build's dependencies or an unsubstituted placeholder;
    // the snapshot and the code cache are V8's, built on this host, not text brmgr wrote (checked below)
    for (const f of files.filter((f) => !/brmgr\.snapshot(\.key)?$|brmgr-run\.cache$/.test(f))) {
      const text = readFileSync(join(destdir, f), 'utf8');
      t.notOk(text.includes(SRC), `${f} does not mention ${SRC}`);
      t.notMatch(text, /@(bindir|datadir|docdir)@/, `${f} has no placeholder left`);
    }
    const lib = files.filter((f) => f.startsWith('usr/lib/brmgr/')).map((f) => f.slice('usr/lib/brmgr/'.length));
    t.same(
      lib.filter((f) => !f.endsWith('.mjs')),
      [
        'brmgr',
        'brmgr-post',
        'brmgr-pre',
        'brmgr-run.cache',
        'brmgr-run.cjs',
        'brmgr-snapshot.cjs',
        'brmgr.snapshot',
        'brmgr.snapshot.key',
      ],
      'the library dir holds the bundle, the launchers, the startup snapshot and the code cache, nothing left of building them',
    );
    const bundle = files.filter((f) => f.startsWith('usr/lib/brmgr/') && f.endsWith('.mjs'));
    const snapshotSource = readFileSync(join(destdir, 'usr/lib/brmgr/brmgr-snapshot.cjs'), 'utf8');
    const required = [...snapshotSource.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
    t.ok(required.length > 0, 'the snapshot source requires built-ins');
    t.same(
      required.filter((r) => !isBuiltin(r)),
      [],
      "the snapshot's source requires only Node's built-ins (what a snapshot builder may load)",
    );
    const runSource = readFileSync(join(destdir, 'usr/lib/brmgr/brmgr-run.cjs'), 'utf8');
    const runRequires = [...runSource.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
    t.same(
      runRequires.filter((r) => !isBuiltin(r)),
      [],
      "brmgr run's own bundle requires only Node's built-ins: it is self-contained",
    );
    for (const f of bundle) {
      const text = readFileSync(join(destdir, f), 'utf8');
      const specifiers = [
        ...text.matchAll(
          /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g,
        ),
      ].map((m) => m[1] ?? m[2]!);
      const outside = specifiers.filter((s) => !s.startsWith('node:') && !s.startsWith('./'));
      t.same(outside, [], `${f} imports only node: built-ins and its own chunks`);
    }
    t.match(
      readFileSync(join(destdir, 'etc/sv/brmgr-brmgr0/run'), 'utf8'),
      'exec chpst -e env /usr/bin/brmgr run "$bridge"',
      'runit run starts the installed brmgr run',
    );
    t.match(
      readFileSync(join(destdir, 'usr/lib/systemd/system/brmgr@.service'), 'utf8'),
      'ExecStart=/usr/bin/brmgr run %i',
      'the unit starts the installed brmgr run',
    );

    // run with the source tree hidden, an empty environment and cwd /
    const lab = Lab.create(t);
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const p of PROGRAMS) {
      const v = await execa(...bare(lab, {}, bin(p), '--version'), { reject: false });
      t.equal(v.stdout.trim(), `${p} ${version.version}`, `${p} --version runs without the source tree: ${v.stderr}`);
    }
    const help = await execa(
      ...bare(lab, { BRMGR_CONF_DIR: join(destdir, 'etc/brmgr') }, bin('brmgr'), 'render', 'brmgr0'),
      { reject: false },
    );
    t.equal(help.exitCode, 0, `brmgr render of the installed default config loads every module: ${help.stderr}`);
    t.match(help.stdout, '10.0.1.1/24', 'and shows its address');
  });

  t.test(
    'the startup snapshot: used while it matches; a corrupt, foreign or stale one never is, and is built again',
    async (t) => {
      const lab = Lab.create(t);
      const libDir = join(destdir, 'usr/lib/brmgr');
      const blob = join(libDir, 'brmgr.snapshot');
      const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
      let traces = 0;
      /**
       * PROGRAM ARGS through its launcher, traced: what it printed and how node was started (the execve
       * the kernel saw). strace waits for every traced process, so a rebuild it started has finished.
       */
      const launch = async (vars: Record<string, string>, program: string, ...args: string[]) => {
        const trace = join(lab.dir, `trace-${++traces}`);
        const r = await execa(
          ...bare(
            lab,
            vars,
            'strace',
            '-f',
            '-qq',
            '-s',
            '4096',
            '-e',
            'trace=execve',
            '-o',
            trace,
            bin(program),
            ...args,
          ),
          { reject: false },
        );
        const nodes = readFileSync(trace, 'utf8')
          .split('\n')
          // (a line of a process traced beside another may end `<unfinished ...>`)
          .filter((l) => /execve\("[^"]*\/node", \[/.test(l));
        const started = nodes.find((l) => l.includes(`${program}.mjs`)) ?? '';
        return {
          ...r,
          snapshot: started.includes(`"--snapshot-blob", "${blob}"`),
          rebuilt: nodes.some((l) => l.includes('brmgr-snapshot-build.mjs')),
        };
      };

      const first = await launch({}, 'brmgr-pre', '--version');
      t.equal(first.stdout.trim(), `brmgr-pre ${version}`, `brmgr-pre --version: ${first.stderr}`);
      t.ok(first.snapshot, 'make install built the snapshot and the launcher starts node from it');
      t.notOk(first.rebuilt, 'and builds nothing');

      // garbage where the snapshot was: node itself crashes on it
      writeFileSync(blob, Buffer.alloc(100_000, 0x5a));
      const crash = await execa(
        process.execPath,
        ['--snapshot-blob', blob, '--', join(libDir, 'brmgr.mjs'), '--version'],
        {
          reject: false,
        },
      );
      t.not(crash.exitCode, 0, `node started from that file fails (${crash.signal ?? crash.exitCode})`);
      const corrupt = await launch({ BRMGR_CONF_DIR: join(destdir, 'etc/brmgr') }, 'brmgr', 'render', 'brmgr0');
      t.equal(corrupt.exitCode, 0, `with it, brmgr render runs: ${corrupt.stderr}`);
      t.match(corrupt.stdout, '10.0.1.1/24', 'and prints the config');
      t.notOk(corrupt.snapshot, 'from the bundle');
      t.ok(corrupt.rebuilt, 'and builds the snapshot again');
      const again = await launch({ BRMGR_CONF_DIR: join(destdir, 'etc/brmgr') }, 'brmgr', 'render', 'brmgr0');
      t.ok(again.snapshot, 'which the next start uses');
      t.equal(again.stdout, corrupt.stdout, 'to the same effect');

      // a valid snapshot, but of another program: never started as brmgr
      const other = lab.file(
        'other.js',
        "require('node:v8').startupSnapshot.setDeserializeMainFunction(() => console.log('other'));\n",
      );
      const built = await execa(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', other], {
        cwd: lab.dir,
      });
      t.equal(built.exitCode, 0, 'another snapshot in its place');
      const foreign = await launch({}, 'brmgr-post', '--version');
      t.equal(foreign.stdout.trim(), `brmgr-post ${version}`, 'brmgr-post --version is still brmgr-post');
      t.notOk(foreign.snapshot, 'started from the bundle');
      t.ok(foreign.rebuilt, 'and the snapshot built again');

      // another node binary than the one that built it (as after an upgrade of Node.js)
      const bin2 = join(lab.dir, 'node-bin');
      mkdirSync(bin2);
      cpSync(process.execPath, join(bin2, 'node'));
      chmodSync(join(bin2, 'node'), 0o755);
      const upgraded = await launch({ PATH: `${bin2}:${PATH}` }, 'brmgr', '--version');
      t.equal(upgraded.stdout.trim(), `brmgr ${version}`, `brmgr --version with another node: ${upgraded.stderr}`);
      t.notOk(upgraded.snapshot, 'does not use the snapshot of the first');
      t.ok(upgraded.rebuilt, 'and builds one for the new node');
      t.ok((await launch({ PATH: `${bin2}:${PATH}` }, 'brmgr', '--version')).snapshot, 'which it then uses');

      // the way back, and the ways out
      t.ok((await launch({}, 'brmgr', '--version')).rebuilt, 'the first node: built again for it');
      for (const vars of [{ BRMGR_NO_SNAPSHOT: '1' }, { NODE_OPTIONS: '--no-warnings' }]) {
        // NODE_OPTIONS may name what the snapshot was not built with
        const r = await launch(vars, 'brmgr', '--version');
        t.equal(r.stdout.trim(), `brmgr ${version}`, `with ${JSON.stringify(vars)} brmgr runs`);
        t.ok(!r.snapshot && !r.rebuilt, 'from the bundle, building nothing');
      }
      const back = await launch({}, 'brmgr', '--version');
      t.ok(back.snapshot && !back.rebuilt, 'otherwise the snapshot, built for this node');
    },
  );

  t.test(
    'the code cache of brmgr run: used while it fits; a corrupt, foreign or stale one never is, and is made again',
    async (t) => {
      const lab = Lab.create(t);
      const libDir = join(destdir, 'usr/lib/brmgr');
      const cache = join(libDir, 'brmgr-run.cache');
      /** `brmgr run --help` through the launcher: the supervisor's bundle compiled, with the cache if it fits */
      const start = async () => {
        const r = await execa(...bare(lab, {}, bin('brmgr'), 'run', '--help'), { reject: false });
        t.equal(r.exitCode, 0, `brmgr run --help: ${r.stderr}`);
        t.match(r.stdout, 'Usage: brmgr run BRIDGE', 'prints its usage');
        return statSync(cache).ino;
      };
      const line = (bytes: Buffer) => bytes.subarray(0, bytes.indexOf(10)).toString();
      const key = (bytes: Buffer) => line(bytes).replace(/ [0-9a-f]{64}$/, '');
      const installed = readFileSync(cache);
      t.match(
        line(installed),
        /^\[.*\] [0-9a-f]{64}$/,
        "make install made the cache: its key and digest, then V8's bytes",
      );
      const ino = statSync(cache).ino;
      t.equal(await start(), ino, 'brmgr run starts with it as it is');

      // garbage
      writeFileSync(cache, Buffer.alloc(100_000, 0x5a));
      t.not(await start(), ino, 'garbage in its place: not used, made again');
      t.equal(key(readFileSync(cache)), key(installed), 'for this node and bundle');
      const remade = statSync(cache).ino;
      t.equal(await start(), remade, 'and used by the next start');

      // the right key, but bytes changed after it was written
      const bytes = readFileSync(cache);
      const at = bytes.length - 1000;
      bytes[at] = bytes[at]! ^ 0xff;
      writeFileSync(cache, bytes);
      t.not(await start(), remade, 'bytes changed after it was written: not used, made again');
      t.notOk(readFileSync(cache).equals(bytes), 'the cache was written anew');

      // V8's code cache of another script under a key and digest that fit: V8 itself refuses it
      const other = await execa(process.execPath, [
        '-e',
        "process.stdout.write(new (require('node:vm').Script)('1 + 1').createCachedData().toString('base64'))",
      ]);
      const foreign = Buffer.from(other.stdout, 'base64');
      const digest = createHash('sha256').update(foreign).digest('hex');
      writeFileSync(cache, Buffer.concat([Buffer.from(`${key(installed)} ${digest}\n`), foreign]));
      const before = statSync(cache).ino;
      t.not(await start(), before, "another script's cache: V8 rejects it, brmgr runs, the cache is made again");
      t.equal(key(readFileSync(cache)), key(installed), 'for this bundle');

      // a bundle changed since (installed again): the cache of the former one is stale
      const bundle = join(libDir, 'brmgr-run.cjs');
      writeFileSync(bundle, readFileSync(bundle));
      const stale = statSync(cache).ino;
      t.not(await start(), stale, 'a cache of the bundle as it was: not used, made again');
      t.not(key(readFileSync(cache)), key(installed), 'for the bundle as it is now');
      const fresh = statSync(cache).ino;
      t.equal(await start(), fresh, 'which the next start uses');
    },
  );

  t.test(
    "the installed brmgr-pre, brmgr run (with the unit's capabilities) and brmgr-post " +
      'serve a guest and leave the namespace as it was',
    async (t) => {
      const lab = Lab.create(t);
      chmodSync(lab.dir, 0o755); // dnsmasq re-reads its hosts files from the run dir after dropping root
      const top = await topology(lab);
      top.brmgr.config(config);
      const env = {
        BRMGR_CONF_DIR: top.brmgr.confDir,
        BRMGR_RUN_DIR: top.brmgr.runDir,
        BRMGR_STATE_DIR: top.brmgr.stateDir,
        // the lock brmgr grant gives the user: the lab's, not the host's
        XTABLES_LOCKFILE: join(lab.dir, 'xtables.lock'),
      };
      const run = (p: string, ...args: string[]) => exec(top.host, ...bare(lab, env, bin(p), ...args));
      const before = await snapshot(top.host);

      const pre = await run('brmgr-pre', top.bridge);
      t.equal(pre.exitCode, 0, `brmgr-pre: ${pre.stderr}`);
      t.ok(await link(top.host, top.bridge), 'the bridge exists');

      // as systemd starts it: `brmgr grant` as root first, then brmgr run as an unprivileged user holding only
      // the unit's capabilities (here nobody; the unit's is brmgr), with no new privileges
      const unit = readFileSync(join(destdir, 'usr/lib/systemd/system/brmgr@.service'), 'utf8');
      t.match(unit, /^NoNewPrivileges=yes$/m);
      t.match(unit, /^User=brmgr$/m);
      const caps = /^AmbientCapabilities=(.*)$/m.exec(unit)![1]!.trim().split(/\s+/);
      t.same(/^CapabilityBoundingSet=(.*)$/m.exec(unit)![1]!.trim().split(/\s+/), caps, 'it holds what it may');
      const granted = await run('brmgr', 'grant', top.bridge, 'nobody');
      t.equal(granted.exitCode, 0, `brmgr grant: ${granted.stderr}`);
      const set = ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
      const proc = lab.spawn(
        top.host,
        ...bare(
          lab,
          env,
          'setpriv',
          '--reuid=nobody',
          '--regid=nogroup',
          '--clear-groups',
          '--no-new-privs',
          `--bounding-set=${set}`,
          `--inh-caps=${set}`,
          `--ambient-caps=${set}`,
          bin('brmgr'),
          'run',
          top.bridge,
        ),
      );
      const events = follow(proc);
      await waitFor(
        'dnsmasq ready',
        async () =>
          events.some((e) => e.event === 'ready') ||
          (proc.exitCode != null ? Promise.reject(new Error(`brmgr run exited: ${JSON.stringify(events)}`)) : false),
        15_000,
      );
      await top.attach();
      const lease = await udhcpc(top.guest, top.guestIf);
      t.match(lease, /^10\.0\.1\.1[0-4]\d$|^10\.0\.1\.150$/, `the guest leased ${lease} from the range`);
      const cmdline = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0');
      // node would keep the snapshot in memory all the time brmgr run lasts
      t.notOk(cmdline.includes('--snapshot-blob'), `brmgr run started from the bundle: ${cmdline.join(' ')}`);
      t.ok(
        cmdline.some((a) => a.endsWith('/brmgr-run.mjs')),
        `from its own bundle, with the code cache: ${cmdline.join(' ')}`,
      );
      const drop = await exec(top.host, 'ps', [
        '-o',
        'user=',
        '-p',
        readFileSync(join(top.brmgr.runDir, top.bridge, 'dnsmasq.pid'), 'utf8').trim(),
      ]);
      t.not(drop.stdout.trim(), 'root', `dnsmasq dropped root (runs as ${drop.stdout.trim()})`);

      // the installed metrics (prom-client from the bundle) with the exporter unit's capabilities: none
      const exporterUnit = readFileSync(join(destdir, 'usr/lib/systemd/system/brmgr-exporter.service'), 'utf8');
      t.match(exporterUnit, /^CapabilityBoundingSet=$/m, 'the exporter unit keeps no capability');
      t.match(exporterUnit, /^User=brmgr$/m, "and runs as brmgr run's user");
      const scrape = () =>
        exec(
          top.host,
          ...bare(
            lab,
            env,
            'setpriv',
            // the exporter unit's user is brmgr run's (here nobody, as above)
            '--reuid=nobody',
            '--regid=nogroup',
            '--clear-groups',
            '--no-new-privs',
            '--bounding-set',
            '-all',
            '--inh-caps',
            '-all',
            bin('brmgr'),
            'metrics',
          ),
        );
      // dnsmasq writes its lease file a moment after its DHCPACK
      const metrics = await waitFor('the lease in brmgr metrics', async () => {
        const r = await scrape();
        return r.exitCode !== 0 || r.stdout.includes(`brmgr_dhcp_leases{bridge="${top.bridge}"} 1`) ? r : false;
      });
      t.equal(metrics.exitCode, 0, `brmgr metrics: ${metrics.stderr}`);
      t.match(metrics.stdout, `\nbrmgr_up{bridge="${top.bridge}"} 1\n`, 'it sees brmgr run');
      t.match(metrics.stdout, `\nbrmgr_dnsmasq_up{bridge="${top.bridge}"} 1\n`, 'and its dnsmasq');
      t.match(metrics.stdout, `\nbrmgr_dhcp_leases{bridge="${top.bridge}"} 1\n`, 'and the lease');

      proc.kill('SIGTERM');
      t.equal((await proc).exitCode, 0, 'brmgr run exits 0 on SIGTERM');
      await ip(top.host, 'link', 'set', top.port, 'nomaster');
      const post = await run('brmgr-post', top.bridge);
      t.equal(post.exitCode, 0, `brmgr-post: ${post.stderr}`);
      t.same(await snapshot(top.host), before, 'the namespace is as it was before brmgr-pre');
    },
  );

  t.test(
    'the installed systemd unit verifies without a warning; the installed brmgr wait gives up at once',
    async (t) => {
      const lab = Lab.create(t);
      const exporter = readFileSync(join(destdir, 'usr/lib/systemd/system/brmgr-exporter.service'), 'utf8');
      const checked = await execa(
        'systemd-analyze',
        ['verify', '--man=no', lab.file('brmgr-exporter.service', exporter.replaceAll('/usr/bin/brmgr', bin('brmgr')))],
        { reject: false },
      );
      t.equal(checked.exitCode, 0, 'the exporter unit: exit 0');
      t.equal(checked.stderr.trim(), '', 'the exporter unit: no warnings');

      // verify checks that the commands exist: point them at the DESTDIR's programs
      const unit = readFileSync(join(destdir, 'usr/lib/systemd/system/brmgr@.service'), 'utf8').replaceAll(
        '/usr/bin/brmgr',
        bin('brmgr'),
      );
      const file = lab.file('brmgr@brmgr0.service', unit);
      const r = await execa('systemd-analyze', ['verify', '--man=no', file], { reject: false });
      t.equal(r.exitCode, 0, 'exit 0');
      t.equal(r.stderr.trim(), '', 'no warnings');

      // the check itself sees a broken unit
      const bad = lab.file('bad/brmgr@brmgr0.service', unit.replace('Type=notify', 'Type=simpel'));
      const broken = await execa('systemd-analyze', ['verify', '--man=no', bad], { reject: false });
      t.match(
        broken.stderr,
        /Failed to parse service type, ignoring: simpel/,
        `a bad Type= is reported: ${JSON.stringify(broken)}`,
      );

      // under systemd brmgr run says READY=1 itself (test/e2e/systemd.test.ts); OpenRC and runit wait with the
      // installed brmgr wait, which returns once brmgr run serves (test/e2e/reload.test.ts) and fails at once
      // when it has exited
      t.match(unit, /^Type=notify$/m, 'Type=notify');
      const ns = await lab.ns('unit');
      const main = lab.spawn(ns, 'sleep', ['60']);
      main.kill('SIGKILL');
      await main.catch(() => undefined);
      const started = Date.now();
      // a configured bridge: one that is not is refused as such (exit 2)
      const confDir = lab.file('unit-conf/.keep', '').replace(/\/\.keep$/, '');
      const bridge = lab.name('br');
      lab.file(`unit-conf/${bridge}.conf`, '');
      const gone = await exec(ns, bin('brmgr'), ['wait', bridge, '--pid', String(main.pid)], {
        env: { BRMGR_CONF_DIR: confDir, BRMGR_RUN_DIR: join(lab.dir, 'unit-run') },
      });
      t.equal(gone.exitCode, 1, 'it fails when brmgr run has exited');
      t.ok(Date.now() - started < 5000, 'at once');
      t.match(unit, /^ExecReload=\S+ reload %i$/m, 'ExecReload waits for the outcome');
    },
  );

  t.test(
    'runsv runs the installed service dir: serves a guest, replaces a killed dnsmasq, sv down takes the bridge down',
    async (t) => {
      const lab = Lab.create(t);
      chmodSync(lab.dir, 0o755);
      const top: Topology = await topology(lab);
      top.brmgr.config(config);
      // a copy named after the bridge, its folders set through env/ (chpst -e), its
      // programs those of the DESTDIR (the scripts name /usr/bin/brmgr*)
      const sv = join(lab.dir, 'sv', `brmgr-${top.bridge}`);
      cpSync(join(destdir, 'etc/sv/brmgr-brmgr0'), sv, { recursive: true });
      for (const f of ['run', 'finish']) {
        writeFileSync(join(sv, f), readFileSync(join(sv, f), 'utf8').replaceAll('/usr/bin/brmgr', bin('brmgr')));
      }
      for (const [k, v] of Object.entries({
        BRMGR_CONF_DIR: top.brmgr.confDir,
        BRMGR_RUN_DIR: top.brmgr.runDir,
        BRMGR_STATE_DIR: top.brmgr.stateDir,
      })) {
        writeFileSync(join(sv, 'env', k), `${v}\n`);
      }
      const proc = lab.spawn(top.host, ...bare(lab, {}, 'runsv', sv));
      const events = follow(proc);
      const sv_ = (...args: string[]) => execa('sv', args, { reject: false, env: { SVWAIT: '15' } });

      await waitFor('dnsmasq ready', async () => events.some((e) => e.event === 'ready'), 20_000);
      await top.attach();
      const first = await udhcpc(top.guest, top.guestIf);
      t.ok(first, `the guest leased ${first}`);
      t.match((await sv_('status', sv)).stdout, /^run: /, 'sv status: run');

      const pidFile = join(top.brmgr.runDir, top.bridge, 'dnsmasq.pid');
      const old = readFileSync(pidFile, 'utf8').trim();
      await exec(top.host, 'kill', ['-9', old]);
      await waitFor(
        'a new dnsmasq',
        async () =>
          existsSync(pidFile) &&
          readFileSync(pidFile, 'utf8').trim() !== old &&
          readFileSync(pidFile, 'utf8').trim() !== '',
        10_000,
      );
      t.equal(await udhcpc(top.guest, top.guestIf), first, 'the new dnsmasq serves the guest its address again');

      // brmgr run itself killed: finish runs, runsv starts run again, which serves
      const runPid = async () => /^run: \S+: \(pid (\d+)\)/.exec((await sv_('status', sv)).stdout)?.[1];
      const supervisor = await runPid();
      t.ok(supervisor, 'sv status shows the pid of brmgr run');
      const readies = events.filter((e) => e.event === 'ready').length;
      await exec(top.host, 'kill', ['-9', supervisor!]);
      await waitFor(
        'brmgr run started again',
        async () => events.filter((e) => e.event === 'ready').length > readies,
        15_000,
      );
      t.not(await runPid(), supervisor, 'runsv started a new brmgr run');
      t.equal(await udhcpc(top.guest, top.guestIf), first, 'which serves the guest its address');
      const dnsmasqs = (
        await exec(top.host, 'pgrep', ['-f', join(top.brmgr.runDir, top.bridge, 'dnsmasq.conf')])
      ).stdout
        .trim()
        .split('\n');
      t.equal(dnsmasqs.length, 1, 'exactly one dnsmasq');

      // down: brmgr run stops, finish runs brmgr-post
      await ip(top.host, 'link', 'set', top.port, 'nomaster');
      t.ok(await nftTable(top.host, top.bridge), "brmgr's nft table is there while it runs");
      const down = await sv_('down', sv);
      t.equal(down.exitCode, 0, `sv down: ${down.stdout}`);
      await waitFor(
        'the bridge gone',
        async () => !(await link(top.host, top.bridge)) && !(await nftTable(top.host, top.bridge)),
        15_000,
      );
      t.pass('finish ran brmgr-post: the bridge and its nft table are gone');
      t.equal(
        (await exec(top.host, 'pgrep', ['-f', join(top.brmgr.runDir, top.bridge, 'dnsmasq.conf')])).stdout.trim(),
        '',
        'no dnsmasq left',
      );

      const exit = await sv_('exit', sv);
      t.equal(exit.exitCode, 0, 'sv exit');
      t.equal((await proc).exitCode, 0, 'runsv exits');
    },
  );

  t.test('make install names the runtime tools the host lacks; a staged install only warns', async (t) => {
    const lab = Lab.create(t);
    // a PATH with Node.js only
    const only = join(lab.dir, 'bin');
    lab.file('bin/node', `#!/bin/sh\nexec ${process.execPath} "$@"\n`, 0o755);
    const dest = join(lab.dir, 'dest');
    const r = await make('install', `DESTDIR=`, `PREFIX=${dest}/usr`, `SYSCONFDIR=${dest}/etc`, `TOOLPATH=${only}`);
    t.not(r.exitCode, 0, 'make install fails');
    t.match(
      r.all,
      'missing runtime tools: ip(iproute2) dnsmasq(dnsmasq-base) nft-or-iptables(nftables)',
      'naming each missing tool and its package',
    );
    t.notOk(existsSync(dest), 'before installing anything');
    const staged = await make('install', `DESTDIR=${dest}`, 'PREFIX=/usr', `TOOLPATH=${only}`);
    t.equal(staged.exitCode, 0, 'with DESTDIR it installs');
    t.match(staged.all, 'warning: missing runtime tools: ip(iproute2)', 'and warns');
  });

  t.test(
    'make dev-link: the clone’s programs run from LINKDIR without an install; dev-unlink removes them',
    async (t) => {
      const lab = Lab.create(t);
      const links = join(lab.dir, 'links');
      const linked = await make('dev-link', `LINKDIR=${links}`);
      t.equal(linked.exitCode, 0, `make dev-link succeeds: ${linked.all}`);
      for (const p of PROGRAMS) {
        t.ok(lstatSync(join(links, p)).isSymbolicLink(), `${p} is a link`);
        t.equal(realpathSync(join(links, p)), join(SRC, 'dist/bundle', p), 'to the clone’s built launcher');
      }
      const version = await execa(join(links, 'brmgr'), ['--version'], {
        reject: false,
        env: { PATH: `${dirname(process.execPath)}:${PATH}` },
        extendEnv: false,
      });
      t.equal(version.exitCode, 0, `brmgr runs through the link: ${version.stderr}`);
      t.match(version.stdout, /^brmgr \d/, 'and says its version');
      // the user put their own file in one link's place
      rmSync(join(links, 'brmgr-post'));
      writeFileSync(join(links, 'brmgr-post'), 'not a link\n');
      const unlinked = await make('dev-unlink', `LINKDIR=${links}`);
      t.equal(unlinked.exitCode, 0, `make dev-unlink succeeds: ${unlinked.all}`);
      t.same(readdirSync(links), ['brmgr-post'], 'the links are gone; a file that is no link into the clone stays');
    },
  );

  t.test('a second install keeps an edited brmgr0.conf; uninstall removes the rest', async (t) => {
    const conf = join(destdir, 'etc/brmgr/brmgr0.conf');
    const edited = readFileSync(conf, 'utf8').replace('address = 10.0.1.1/24', 'address = 10.0.9.1/24');
    writeFileSync(conf, edited);
    const installed = tree(destdir);
    const again = await make('install', `DESTDIR=${destdir}`, 'PREFIX=/usr');
    t.equal(again.exitCode, 0, `second make install: ${again.all}`);
    t.equal(readFileSync(conf, 'utf8'), edited, 'the edited config is kept');
    t.same(tree(destdir), installed, 'the same files, no leftovers of the first install');

    const un = await make('uninstall', `DESTDIR=${destdir}`, 'PREFIX=/usr');
    t.equal(un.exitCode, 0, `make uninstall: ${un.all}`);
    t.same(tree(destdir), ['etc/brmgr/brmgr0.conf'], "only the user's config is left");
    t.equal(readFileSync(conf, 'utf8'), edited, 'unchanged');
  });
}
