/**
 * The init files as their init systems read them: shell syntax under the
 * shells they run in, OpenRC's conventions and instance naming, the runit
 * scripts' bridge name and env/ dir, the systemd unit's ordering, restart
 * policy and sandbox against what brmgr does, the Upstart job's stanzas and
 * commands, and what make install makes of it.
 */
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OPENRC = join(ROOT, 'init/openrc/brmgr');
const RUNIT = join(ROOT, 'init/runit/brmgr-brmgr0');
const UNIT = join(ROOT, 'init/systemd/brmgr@.service');
const UPSTART = join(ROOT, 'init/upstart/brmgr.conf');
const EXPORTER_UNIT = join(ROOT, 'init/systemd/brmgr-exporter.service');
const EXPORTER_OPENRC = join(ROOT, 'init/openrc/brmgr-exporter');
const EXPORTER_RUNIT = join(ROOT, 'init/runit/brmgr-exporter/run');
const SHELLS: [string, string[]][] = [
  ['sh', []],
  ['dash', []],
  ['busybox', ['sh']],
];

const tmp = mkdtempSync(join(tmpdir(), 'brmgr-init-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

t.test('every shell script parses under sh, dash and busybox sh', async (t) => {
  for (const file of [OPENRC, join(RUNIT, 'run'), join(RUNIT, 'finish'), EXPORTER_OPENRC, EXPORTER_RUNIT]) {
    for (const [shell, pre] of SHELLS) {
      const r = await execa(shell, [...pre, '-n', file], { reject: false });
      t.equal(r.exitCode, 0, `${shell} ${pre.join(' ')} -n ${file.slice(ROOT.length)} ${r.stderr}`);
    }
  }
});

t.test('OpenRC: a multi-instance openrc-run script named brmgr.BRIDGE', async (t) => {
  const text = readFileSync(OPENRC, 'utf8');
  t.equal(text.split('\n')[0], '#!/sbin/openrc-run', 'openrc-run shebang');
  t.match(text, /^command="@bindir@\/brmgr"$/m, 'command is the installed brmgr');
  t.match(text, /^command_args="run \$\{bridge\}"$/m, 'it runs brmgr run BRIDGE in the foreground');
  t.match(text, /^supervisor=supervise-daemon$/m, 'supervise-daemon restarts it when it exits');
  t.notMatch(text, /^command_background=/m, 'no command_background: supervise-daemon needs a foreground process');
  // a shell function's body: from `name() {` to the `}` closing it at the line start
  const fn = (name: string) => new RegExp(`^${name}\\(\\) \\{\\n([\\s\\S]*?)\\n\\}`, 'm').exec(text)?.[1] ?? '';
  const depend = fn('depend');
  t.match(depend, /^\s*use\b.*\bnet\b/m, "depend: use net (Debian's OpenRC has no net service to need)");
  t.notMatch(depend, /^\s*need\b/m, 'depend: needs no service a distribution may lack');
  t.match(depend, /^\s*after\b.*\bfirewall\b/m, "depend: after firewall (it would flush brmgr's rules)");
  t.match(depend, /^\s*before\b.*\blxc\b.*\blibvirtd\b/m, 'depend: before lxc and libvirtd');
  t.match(fn('stop_post'), /@bindir@\/brmgr-post "\$\{bridge\}"/, 'stop_post runs brmgr-post BRIDGE');
  t.match(fn('reload'), /@bindir@\/brmgr reload "\$\{bridge\}"/, 'reload waits for the outcome');
  t.match(fn('start_post'), /@bindir@\/brmgr wait "\$\{bridge\}"/, 'started once dnsmasq serves');

  // sourced as openrc-run does, with its helpers stubbed: the bridge comes from the instance name
  const driver = join(tmp, 'openrc-driver.sh');
  writeFileSync(driver, 'eerror() { echo "$*" >&2; }\n. "$1"\necho "$bridge|$command_args"\nstart_pre\n');
  for (const [shell, pre] of SHELLS) {
    const ok = await execa(shell, [...pre, driver, OPENRC], { env: { RC_SVCNAME: 'brmgr.br0' }, reject: false });
    t.equal(ok.stdout, 'br0|run br0', `${shell}: brmgr.br0 serves br0`);
    t.equal(ok.exitCode, 0, `${shell}: start_pre accepts an instance`);
    const bare = await execa(shell, [...pre, driver, OPENRC], { env: { RC_SVCNAME: 'brmgr' }, reject: false });
    t.not(bare.exitCode, 0, `${shell}: start_pre refuses the bare brmgr service`);
    t.match(bare.stderr, 'ln -s brmgr /etc/init.d/brmgr.BRIDGE', `${shell}: and says how to make an instance`);
  }
});

t.test('runit: the service dir name gives the bridge, env/ the environment', async (t) => {
  // the scripts with @bindir@ pointing at a stand-in brmgr that prints what it was given
  const bin = join(tmp, 'bin');
  mkdirSync(bin);
  for (const p of ['brmgr', 'brmgr-post']) {
    writeFileSync(join(bin, p), `#!/bin/sh\necho "${p} $* conf=\${BRMGR_CONF_DIR:-unset}"\n`);
    chmodSync(join(bin, p), 0o755);
  }
  const sv = join(tmp, 'sv', 'brmgr-lan7');
  mkdirSync(sv, { recursive: true });
  for (const f of ['run', 'finish']) {
    writeFileSync(join(sv, f), readFileSync(join(RUNIT, f), 'utf8').replaceAll('@bindir@', bin));
    chmodSync(join(sv, f), 0o755);
  }
  const script = (f: string) =>
    execa(join(sv, f), [], {
      cwd: sv,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      extendEnv: false,
      reject: false,
    });
  t.equal((await script('run')).stdout, 'brmgr run lan7 conf=unset', 'run: brmgr run BRIDGE, without an env/ dir');
  t.equal((await script('finish')).stdout, 'brmgr-post lan7 conf=unset', 'finish: brmgr-post BRIDGE');
  mkdirSync(join(sv, 'env'));
  writeFileSync(join(sv, 'env', 'BRMGR_CONF_DIR'), '/srv/brmgr\n');
  t.equal((await script('run')).stdout, 'brmgr run lan7 conf=/srv/brmgr', 'run: env/ sets the environment (chpst -e)');
  t.equal((await script('finish')).stdout, 'brmgr-post lan7 conf=/srv/brmgr', 'finish: likewise');
});

/** The unit's [Service] and [Unit] keys; repeated keys joined with a space. */
function unitKeys(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) keys.set(m[1]!, keys.has(m[1]!) ? `${keys.get(m[1]!)} ${m[2]}` : m[2]!);
  }
  return keys;
}

t.test('systemd: ordering, restarts and a sandbox that leaves brmgr what it needs', async (t) => {
  const u = unitKeys(readFileSync(UNIT, 'utf8'));
  const words = (k: string) => (u.get(k) ?? '').split(/\s+/).filter(Boolean);
  for (const g of ['lxc.service', 'libvirtd.service', 'libvirt-guests.service'])
    t.ok(words('Before').includes(g), `Before=${g}`);
  for (const f of ['nftables.service', 'firewalld.service'])
    t.ok(words('After').includes(f), `After=${f}: a firewall loading later would flush brmgr's rules`);
  t.equal(u.get('ExecStart'), '@bindir@/brmgr run %i', 'one process converges and serves');
  t.equal(u.get('Type'), 'notify', 'active once brmgr run says READY=1: dnsmasq serves this run');
  t.equal(u.get('NotifyAccess'), 'all', 'systemd-notify, its child, says it');
  t.notOk(u.has('ExecStartPost'), 'no second process to wait for it');
  t.equal(
    u.get('ExecStopPost'),
    '@bindir@/brmgr-post %i --unless-restarting',
    'brmgr-post after it stops, unless systemd starts it again',
  );
  t.equal(u.get('ExecReload'), '@bindir@/brmgr reload %i', 'reload waits for the outcome');
  t.equal(u.get('Restart'), 'on-failure');
  t.equal(u.get('RestartPreventExitStatus'), '2', 'a config error (exit 2) is not retried');
  t.equal(u.get('KillMode'), 'mixed', 'SIGTERM to brmgr run only: it stops dnsmasq itself');

  const caps = ['CAP_DAC_READ_SEARCH', 'CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'];
  t.same(
    words('CapabilityBoundingSet').sort(),
    caps,
    "capabilities: network administration, dnsmasq's ports and raw sockets, iptables-legacy's table names",
  );
  t.same(words('AmbientCapabilities').sort(), caps, 'held by brmgr run, which is not root');
  t.equal(u.get('User'), 'brmgr', 'brmgr run serves as its own user');
  t.equal(u.get('ExecStartPre'), '+@bindir@/brmgr grant %i brmgr', 'root gives it what only root can, first');
  t.equal(u.get('ProtectSystem'), 'strict');
  t.equal(u.get('RestartSec'), '100ms', 'a crash costs the guests well under a second');
  for (const [k, v] of [
    ['SystemCallFilter', '@system-service ~@resources ~@privileged capset'],
    ['ProtectKernelTunables', 'yes'],
    ['UMask', '0077'],
    ['ProtectProc', 'invisible'],
    ['PrivateMounts', 'yes'],
  ])
    t.equal(u.get(k!), v, `${k}=${v}`);
  for (const p of ['/run', '/var/lib/misc', '/proc/sys/net'])
    t.ok(words('ReadWritePaths').includes(p), `ReadWritePaths=${p}`);
  t.equal(u.get('NoNewPrivileges'), 'yes');
  t.equal(u.get('ProtectHome'), 'yes');
  for (const f of ['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_PACKET'])
    t.ok(words('RestrictAddressFamilies').includes(f), `RestrictAddressFamilies has ${f}`);
  // what would break brmgr: Node's JIT needs W+X memory, ProcSubset=pid hides /proc/sys,
  // a private network or user namespace hides the host's
  for (const [k, v] of [
    ['MemoryDenyWriteExecute', 'yes'],
    ['ProcSubset', 'pid'],
    ['PrivateNetwork', 'yes'],
    ['PrivateUsers', 'yes'],
    ['DynamicUser', 'yes'],
  ]) {
    t.not(u.get(k!), v, `not ${k}=${v}`);
  }
});

t.test('systemd: the exporter only reads, with no capability and a read-only system', async (t) => {
  const u = unitKeys(readFileSync(EXPORTER_UNIT, 'utf8'));
  t.equal(u.get('ExecStart'), '@bindir@/brmgr exporter');
  t.equal(u.get('Restart'), 'on-failure');
  t.equal(u.get('CapabilityBoundingSet'), '', 'no capability at all');
  t.equal(u.get('ProtectSystem'), 'strict');
  t.notOk(u.has('ReadWritePaths'), 'nothing writable');
  for (const [k, v] of [
    ['NoNewPrivileges', 'yes'],
    ['ProtectKernelTunables', 'yes'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
    ['SystemCallFilter', '@system-service'],
  ])
    t.equal(u.get(k!), v, `${k}=${v}`);
  t.same(
    (u.get('RestrictAddressFamilies') ?? '').split(/\s+/).sort(),
    ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX'],
    'its socket, and netlink for ip and bridge',
  );
  // what would break it: Node's JIT needs W+X memory, ProcSubset=pid hides /proc/sys/net/netfilter, a
  // user namespace makes root's 0600 status files unreadable, a private network hides the host's links
  for (const [k, v] of [
    ['MemoryDenyWriteExecute', 'yes'],
    ['ProcSubset', 'pid'],
    ['PrivateUsers', 'yes'],
    ['DynamicUser', 'yes'],
    ['PrivateNetwork', 'yes'],
  ])
    t.not(u.get(k!), v, `not ${k}=${v}`);
  const openrc = readFileSync(EXPORTER_OPENRC, 'utf8');
  t.match(openrc, /^supervisor=supervise-daemon$/m, 'OpenRC: supervised, restarted');
  t.match(readFileSync(EXPORTER_RUNIT, 'utf8'), 'exec chpst -e env @bindir@/brmgr exporter', 'runit: env/ read');
});

/** Every stanza Upstart's init(5) knows; a misspelt one makes Upstart refuse the whole job. */
const UPSTART_STANZAS = new Set([
  'author',
  'description',
  'version',
  'usage',
  'instance',
  'start',
  'stop',
  'manual',
  'emits',
  'env',
  'export',
  'exec',
  'script',
  'pre-start',
  'post-start',
  'pre-stop',
  'post-stop',
  'respawn',
  'task',
  'normal',
  'kill',
  'reload',
  'expect',
  'console',
  'umask',
  'nice',
  'oom',
  'limit',
  'chroot',
  'chdir',
  'setuid',
  'setgid',
  'apparmor',
  'cgroup',
]);

/**
 * The job's stanzas in order, as [keyword, rest of the line]; comments and blank
 * lines dropped, a `script` … `end script` block kept whole as its rest.
 */
function upstartStanzas(text: string): [string, string][] {
  const out: [string, string][] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    let rest = m[2]!;
    if (/(^|\s)script$/.test(line)) {
      const end = lines.findIndex((l, j) => j > i && l.trim() === 'end script');
      if (end < 0) throw new Error(`line ${i + 1}: script without end script`);
      rest = lines.slice(i, end + 1).join('\n');
      i = end;
    }
    out.push([m[1]!, rest]);
  }
  return out;
}

t.test('Upstart: an instance job per bridge, respawned, config errors stopped by pre-start', async (t) => {
  const text = readFileSync(UPSTART, 'utf8');
  const stanzas = upstartStanzas(text);
  for (const [k] of stanzas) t.ok(UPSTART_STANZAS.has(k), `${k} is an Upstart stanza`);
  const all = (k: string) => stanzas.filter(([s]) => s === k).map(([, rest]) => rest);
  const one = (k: string) => {
    const found = all(k);
    t.equal(found.length, 1, `one ${k} stanza`);
    return found[0] ?? '';
  };

  t.equal(one('instance'), '$BRIDGE', 'one instance per bridge: start brmgr BRIDGE=NAME');
  t.match(one('usage'), 'BRIDGE=', 'usage names the BRIDGE variable');
  t.match(one('description'), /^"[^"]+"$/, 'a quoted description');
  t.same(all('start'), ['on runlevel [2345]'], 'start on runlevel [2345]');
  t.same(all('stop'), ['on runlevel [!2345]'], 'stop on every other runlevel');
  t.same(
    all('env').filter((e) => /^BRIDGE=/.test(e)),
    [],
    'no default BRIDGE: a boot start is chosen in brmgr.override',
  );
  t.match(
    text,
    /^#.*echo 'env BRIDGE=brmgr0' > \/etc\/init\/brmgr\.override$/m,
    'the comment shows how to start a bridge at boot',
  );

  t.same(
    all('pre-start'),
    ['exec @bindir@/brmgr-pre "$BRIDGE"'],
    'pre-start brings the bridge up (a config error stops the start with exit 2)',
  );
  t.same(all('exec'), ['@bindir@/brmgr run "$BRIDGE"'], 'the main process is brmgr run BRIDGE');
  t.same(all('post-stop'), ['exec @bindir@/brmgr-post "$BRIDGE"'], 'post-stop takes the bridge down');
  t.same(all('script'), [], 'no main script: Upstart tracks brmgr run itself');
  t.same(
    all('expect'),
    [],
    'no expect stanza: brmgr run stays in the foreground (expect fork/daemon would track the wrong pid)',
  );
  t.same(all('task'), [], 'a service, not a task');

  t.same(all('respawn'), ['', 'limit 5 60'], 'respawn, with a limit');
  // the same limit as the OpenRC script's supervise-daemon
  const openrc = readFileSync(OPENRC, 'utf8');
  const max = /^respawn_max=(\d+)$/m.exec(openrc)?.[1];
  const period = /^respawn_period=(\d+)$/m.exec(openrc)?.[1];
  t.equal(
    all('respawn')[1],
    `limit ${max} ${period}`,
    `respawn limit ${max} ${period}, as OpenRC's respawn_max and respawn_period`,
  );
  t.same(all('normal'), ['exit 0'], 'normal exit 0 only: exit 2 is not hidden as a clean stop');
  t.same(
    all('kill').sort(),
    ['signal TERM', 'timeout 15'],
    "SIGTERM, then SIGKILL after 15 s, as the systemd unit's TimeoutStopSec",
  );
  t.same(all('reload'), ['signal HUP'], 'reload is SIGHUP');
  t.same(all('console'), ['log'], 'output to /var/log/upstart/brmgr-BRIDGE.log');

  // the commands as Upstart runs them: with $ in them, `sh -e -c "exec COMMAND"`, the
  // job's environment (BRIDGE from the instance, other variables from `start`)
  const bin = join(tmp, 'upstart-bin');
  mkdirSync(bin);
  for (const p of ['brmgr', 'brmgr-pre', 'brmgr-post']) {
    writeFileSync(join(bin, p), `#!/bin/sh\necho "${p} $# $* conf=\${BRMGR_CONF_DIR:-unset}"\n`);
    chmodSync(join(bin, p), 0o755);
  }
  const commands: [string, string, string][] = [
    ['pre-start', all('pre-start')[0]!.replace(/^exec /, ''), 'brmgr-pre 1 lan7 conf=/srv/brmgr'],
    ['exec', all('exec')[0]!, 'brmgr 2 run lan7 conf=/srv/brmgr'],
    ['post-stop', all('post-stop')[0]!.replace(/^exec /, ''), 'brmgr-post 1 lan7 conf=/srv/brmgr'],
  ];
  for (const [stanza, command, expected] of commands) {
    for (const [shell, pre] of SHELLS) {
      const r = await execa(shell, [...pre, '-e', '-c', `exec ${command.replaceAll('@bindir@', bin)}`], {
        env: { PATH: '/usr/bin:/bin', BRIDGE: 'lan7', BRMGR_CONF_DIR: '/srv/brmgr' },
        extendEnv: false,
        reject: false,
      });
      t.equal(
        r.stdout,
        expected,
        `${shell}: ${stanza} runs ${expected.replace(/ conf=.*/, '')} with the job's environment ${r.stderr}`,
      );
    }
  }
});

t.test(
  'Upstart: make install puts the job, @bindir@ substituted, in SYSCONFDIR/init; uninstall removes it',
  async (t) => {
    const dest = join(tmp, 'upstart-dest');
    // the recipes' lines for SYSCONFDIR/init (not init.d), as make would run them, without building
    const lines = async (target: string) => {
      const r = await execa(
        'make',
        ['-s', '-n', '-o', 'all', '-o', 'check-tools', target, `DESTDIR=${dest}`, 'PREFIX=/usr'],
        { cwd: ROOT },
      );
      return r.stdout.split('\n').filter((l) => new RegExp(`${dest}/etc/init(/|\\s|$)`).test(l));
    };
    const install = await lines('install');
    t.ok(
      install.some((l) => l.includes('init/upstart/brmgr.conf')),
      `install has a line for init/upstart/brmgr.conf: ${install.join(' | ')}`,
    );
    for (const l of install) await execa('sh', ['-e', '-c', l], { cwd: ROOT });
    const job = join(dest, 'etc/init/brmgr.conf');
    t.equal(statSync(job).mode & 0o777, 0o644, 'etc/init/brmgr.conf, mode 0644');
    const installed = readFileSync(job, 'utf8');
    t.notMatch(installed, /@(bindir|datadir|docdir)@/, 'no placeholder left');
    t.equal(
      installed,
      readFileSync(UPSTART, 'utf8').replaceAll('@bindir@', '/usr/bin'),
      'the source with @bindir@ as /usr/bin',
    );
    const stanzas = upstartStanzas(installed);
    t.ok(
      stanzas.some(([k, v]) => k === 'exec' && v === '/usr/bin/brmgr run "$BRIDGE"'),
      'it starts the installed brmgr run',
    );
    t.ok(
      stanzas.some(([k, v]) => k === 'pre-start' && v === 'exec /usr/bin/brmgr-pre "$BRIDGE"'),
      'and the installed brmgr-pre',
    );
    t.ok(
      stanzas.some(([k, v]) => k === 'post-stop' && v === 'exec /usr/bin/brmgr-post "$BRIDGE"'),
      'and the installed brmgr-post',
    );

    const uninstall = await lines('uninstall');
    t.ok(
      uninstall.some((l) => /^rm -f .*\/etc\/init\/brmgr\.conf(\s|$)/.test(l)),
      `uninstall removes it: ${uninstall.join(' | ')}`,
    );
    for (const l of uninstall) await execa('sh', ['-c', l], { cwd: ROOT });
    t.notOk(existsSync(job), 'gone after uninstall');
    t.notOk(existsSync(join(dest, 'etc/init')), 'and so is the init dir it left empty');
  },
);
