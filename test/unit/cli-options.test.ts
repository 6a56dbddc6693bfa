/**
 * Each brmgr command's argument parsing, without running anything: its own
 * options, other commands' options refused, positionals counted and checked,
 * bridge names and option values validated; and the dispatcher's table.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HELP } from '../../src/cli/command.js';
import * as check from '../../src/cli/commands/check.js';
import * as demo from '../../src/cli/commands/demo.js';
import * as doctor from '../../src/cli/commands/doctor.js';
import * as down from '../../src/cli/commands/down.js';
import * as events from '../../src/cli/commands/events.js';
import * as exporter from '../../src/cli/commands/exporter.js';
import * as leases from '../../src/cli/commands/leases.js';
import * as lookup from '../../src/cli/commands/lookup.js';
import * as metrics from '../../src/cli/commands/metrics.js';
import * as grant from '../../src/cli/commands/grant.js';
import * as reload from '../../src/cli/commands/reload.js';
import * as render from '../../src/cli/commands/render.js';
import * as run from '../../src/cli/commands/run.js';
import * as status from '../../src/cli/commands/status.js';
import * as tap from '../../src/cli/commands/tap.js';
import * as up from '../../src/cli/commands/up.js';
import * as wait from '../../src/cli/commands/wait.js';
import { HELP as OVERALL_HELP } from '../../src/cli/entry.js';
import { COMMANDS, resolveCommand } from '../../src/cli/main.js';
import { ConfigError } from '../../src/config/validate.js';
import { UsageError } from '../../src/errors.js';

const MODULES = {
  up,
  down,
  render,
  check,
  doctor,
  run,
  reload,
  grant,
  wait,
  status,
  leases,
  lookup,
  events,
  exporter,
  metrics,
  tap,
  demo,
};
type Name = keyof typeof MODULES;
const NAMES = Object.keys(MODULES) as Name[];
const ALIASES: Record<string, Name> = { pre: 'up', post: 'down' };

/** Arguments each command accepts, to which an option is added. */
const VALID: Record<Name, string[]> = {
  up: ['br0'],
  down: ['br0'],
  render: ['br0'],
  check: ['br0'],
  doctor: ['br0', '52:54:00:00:00:01'],
  run: ['br0'],
  reload: ['br0'],
  grant: ['br0', 'brmgr'],
  wait: ['br0'],
  status: ['br0'],
  leases: ['br0'],
  lookup: ['br0', 'guest1'],
  events: ['br0'],
  exporter: [],
  metrics: ['br0'],
  tap: ['add', 'br0', 'fc0'],
  demo: [],
};
/** Every option of any command, with a value it accepts. */
const OPTIONS: Record<string, string[]> = {
  force: [],
  backend: ['iptables'],
  json: [],
  wait: ['1'],
  'pid-file': ['/run/brmgr0.pid'],
  owner: ['bob'],
  rate: ['100mbit'],
  pid: ['42'],
  timeout: ['5'],
  'unless-restarting': [],
  listen: ['127.0.0.1:9469'],
  kind: ['slaac'],
  all: [],
};
const OWN: Record<Name, string[]> = {
  up: [],
  down: ['force', 'unless-restarting'],
  render: ['backend'],
  check: ['json'],
  doctor: ['json'],
  run: ['pid-file'],
  reload: [],
  grant: [],
  wait: ['pid', 'timeout'],
  status: ['json'],
  leases: ['json'],
  lookup: ['wait', 'kind', 'all'],
  events: ['json'],
  exporter: ['listen'],
  metrics: [],
  tap: ['owner', 'rate'],
  demo: [],
};

/** The message of the UsageError (or, for a bad name, ConfigError) parse throws for `args`; says what it returned when it accepts them. */
function refusal(parse: (args: string[]) => unknown, args: string[]): string {
  try {
    return `accepted: ${String(JSON.stringify(parse(args)))}`;
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) return err.message;
    throw err;
  }
}

const BAD_NAMES = ['a/b', 'a-name-much-too-long', '..', 'all', 'default', 'br 0', 'br0;reboot', ''];
const badName = (name: string) =>
  `(command line):0: BRIDGE: '${name}' is not a valid bridge name (1-15 letters, digits, '_', '.', '-')`;

t.test('one module per command, the aliases share theirs, every help lists its command', async (t) => {
  t.same(Object.keys(COMMANDS).sort(), [...NAMES, ...Object.keys(ALIASES)].sort(), 'every command and alias');
  for (const [name, load] of Object.entries(COMMANDS)) {
    const canonical = ALIASES[name] ?? (name as Name);
    t.equal(await load(), MODULES[canonical], `${name} loads commands/${canonical}`);
  }
  for (const name of NAMES) {
    const { help } = MODULES[name];
    t.match(help, new RegExp(`^Usage: brmgr ${name}\\b`), `${name}'s help starts with its usage`);
    t.match(help, /\n {2}-h, --help {3}this help\n$/, `${name}'s help lists -h, --help last`);
    for (const option of OWN[name]) t.match(help, `\n  --${option} `, `${name}'s help describes --${option}`);
    t.match(OVERALL_HELP, `\n  brmgr ${name} `, `the overall help lists ${name}`);
  }
});

t.test("--help and -h anywhere in a command's arguments ask for its help, even beside wrong ones", async (t) => {
  for (const name of NAMES) {
    const { parse } = MODULES[name];
    t.equal(parse(['--help']), HELP, `${name} --help`);
    t.equal(parse([...VALID[name], '-h']), HELP, `${name} ... -h`);
    t.equal(parse(['--bogus', 'x', 'y', 'z', '--help']), HELP, `${name} --bogus x y z --help`);
  }
});

t.test("each command accepts its own options and refuses every other command's", async (t) => {
  for (const name of NAMES) {
    const { parse } = MODULES[name];
    const usage = refusal(parse, [...VALID[name], '--bogus']).replace("Unknown option '--bogus'; ", '');
    t.match(usage, new RegExp(`^usage: brmgr ${name}\\b`), `${name}: an unknown option is refused, with the usage`);
    for (const [option, value] of Object.entries(OPTIONS)) {
      const args = [...VALID[name], `--${option}`, ...value];
      if (OWN[name].includes(option)) t.match(refusal(parse, args), /^accepted: /, `${name} accepts --${option}`);
      else t.equal(refusal(parse, args), `Unknown option '--${option}'; ${usage}`, `${name} refuses --${option}`);
    }
    t.equal(refusal(parse, [...VALID[name], '-x']), `Unknown option '-x'; ${usage}`, `${name} refuses -x`);
  }
});

t.test("the issue's example: leases with the options of down, tap and render is a usage error", async (t) => {
  t.equal(
    refusal(leases.parse, ['br0', '--force', '--owner', 'bob', '--backend', 'x']),
    "Unknown option '--force'; usage: brmgr leases BRIDGE [--json]",
  );
});

t.test('commands taking one BRIDGE: it is required, alone, and a valid name', async (t) => {
  const oneBridge = { up, down, render, check, run, leases } as const;
  for (const [name, { parse }] of Object.entries(oneBridge)) {
    const usage = refusal(parse, []).replace('missing BRIDGE; ', '');
    t.match(usage, new RegExp(`^usage: brmgr ${name} BRIDGE`), `${name} without BRIDGE: missing BRIDGE, and the usage`);
    t.equal(refusal(parse, ['br0', 'br1']), `unexpected argument 'br1'; ${usage}`, `${name} br0 br1`);
    t.equal(refusal(parse, ['--', '--br0']), badName('--br0'), `${name} -- --br0`);
    for (const bad of BAD_NAMES) t.equal(refusal(parse, [bad]), badName(bad), `${name} '${bad}'`);
    t.match(parse(['brmgr0']), { bridge: 'brmgr0' }, `${name} brmgr0`);
    t.match(parse(['a_b.c-d']), { bridge: 'a_b.c-d' }, `${name} a_b.c-d`);
  }
});

t.test('up: BRIDGE only; check: BRIDGE, --json', async (t) => {
  t.same(up.parse(['brmgr0']), { bridge: 'brmgr0' });
  t.same(check.parse(['brmgr0']), { bridge: 'brmgr0', json: false });
  t.same(check.parse(['brmgr0', '--json']), { bridge: 'brmgr0', json: true });
});

t.test('down: --force, before or after BRIDGE; it takes no value', async (t) => {
  t.same(down.parse(['brmgr0']), { bridge: 'brmgr0', force: false });
  t.same(down.parse(['brmgr0', '--force']), { bridge: 'brmgr0', force: true });
  t.same(down.parse(['--force', 'brmgr0']), { bridge: 'brmgr0', force: true });
  t.equal(
    refusal(down.parse, ['brmgr0', '--force=yes']),
    "Option '--force' does not take an argument; usage: brmgr down BRIDGE [--force] [--unless-restarting]",
  );
});

t.test('render: --backend nftables or iptables; left out, the config decides', async (t) => {
  const usage = 'usage: brmgr render BRIDGE [--backend nftables|iptables]';
  t.same(render.parse(['brmgr0']), { bridge: 'brmgr0' });
  t.same(render.parse(['brmgr0', '--backend', 'iptables']), { bridge: 'brmgr0', backend: 'iptables' });
  t.same(render.parse(['brmgr0', '--backend=nftables']), { bridge: 'brmgr0', backend: 'nftables' });
  for (const backend of ['pf', 'auto', 'nft', '']) {
    const refused = `--backend is nftables or iptables, not '${backend}'; ${usage}`;
    t.equal(refusal(render.parse, ['brmgr0', `--backend=${backend}`]), refused, `--backend=${backend}`);
  }
  t.equal(refusal(render.parse, ['brmgr0', '--backend']), `Option '--backend <value>' argument missing; ${usage}`);
});

t.test('run: --pid-file FILE, and the shell brmgr’s bare --pid-file', async (t) => {
  const usage = 'usage: brmgr run BRIDGE [--pid-file FILE]';
  t.same(run.parse(['brmgr0']), { bridge: 'brmgr0' });
  t.same(run.parse(['brmgr0', '--pid-file', '/run/b.pid']), { bridge: 'brmgr0', pidFile: '/run/b.pid' });
  t.same(run.parse(['--pid-file=/run/b.pid', 'brmgr0']), { bridge: 'brmgr0', pidFile: '/run/b.pid' });
  t.same(run.parse(['brmgr0', '--pid-file']), { bridge: 'brmgr0', barePidFile: true }, 'bare and last: no pid file');
  t.equal(refusal(run.parse, ['--pid-file']), `missing BRIDGE; ${usage}`, 'bare, without a bridge');
  t.equal(refusal(run.parse, ['--pid-file', 'brmgr0']), `missing BRIDGE; ${usage}`, 'not last: it takes a FILE');
  t.equal(refusal(run.parse, ['brmgr0', '--pid-file=']), `--pid-file needs a FILE; ${usage}`);
  const ambiguous = `Option '--pid-file' argument is ambiguous; ${usage}`;
  t.equal(refusal(run.parse, ['brmgr0', '--pid-file', '--force']), ambiguous, 'a value like an option');
});

t.test('status: BRIDGE is optional, and checked when given; --json', async (t) => {
  const usage = 'usage: brmgr status [BRIDGE] [--json]';
  t.same(status.parse([]), { json: false });
  t.same(status.parse(['--json']), { json: true });
  t.same(status.parse(['brmgr0']), { bridge: 'brmgr0', json: false });
  t.same(status.parse(['brmgr0', '--json']), { bridge: 'brmgr0', json: true });
  t.equal(refusal(status.parse, ['br0', 'br1']), `unexpected argument 'br1'; ${usage}`);
  for (const bad of BAD_NAMES) t.equal(refusal(status.parse, [bad, '--json']), badName(bad), `status '${bad}'`);
});

t.test('leases: BRIDGE, --json', async (t) => {
  t.same(leases.parse(['brmgr0']), { bridge: 'brmgr0', json: false });
  t.same(leases.parse(['--json', 'brmgr0']), { bridge: 'brmgr0', json: true });
  t.equal(
    refusal(leases.parse, ['brmgr0', '--json=1']),
    "Option '--json' does not take an argument; usage: brmgr leases BRIDGE [--json]",
  );
});

t.test('lookup: BRIDGE and a MAC or HOSTNAME; --wait takes seconds', async (t) => {
  const usage = 'usage: brmgr lookup BRIDGE MAC|HOSTNAME [--wait SECONDS] [--kind KIND] [--all]';
  const mac = '52:54:00:12:34:56';
  t.same(lookup.parse(['brmgr0', mac]), { bridge: 'brmgr0', guest: mac, waitSeconds: 0 });
  t.same(lookup.parse(['brmgr0', 'guest1', '--wait', '30']), { bridge: 'brmgr0', guest: 'guest1', waitSeconds: 30 });
  const waits = [
    ['0', 0],
    ['0.5', 0.5],
    ['.25', 0.25],
    ['2.', 2],
    ['007', 7],
    ['3600', 3600],
  ] as const;
  for (const [wait, waitSeconds] of waits) {
    const parsed = lookup.parse(['brmgr0', 'guest1', `--wait=${wait}`]);
    t.same(parsed, { bridge: 'brmgr0', guest: 'guest1', waitSeconds }, `--wait=${wait}`);
  }
  t.equal(refusal(lookup.parse, []), `missing BRIDGE; ${usage}`);
  t.equal(refusal(lookup.parse, ['brmgr0']), `missing MAC|HOSTNAME; ${usage}`);
  t.equal(refusal(lookup.parse, ['brmgr0', 'guest1', 'guest2']), `unexpected argument 'guest2'; ${usage}`);
  t.equal(refusal(lookup.parse, ['brmgr0', '']), `the MAC|HOSTNAME is empty; ${usage}`);
  for (const bad of BAD_NAMES) t.equal(refusal(lookup.parse, [bad, mac]), badName(bad), `lookup '${bad}' ${mac}`);
  for (const wait of ['', '-1', 'abc', '1e3', '0x10', 'Infinity', 'NaN', '1.2.3', '5s', ' 5']) {
    const refused = `--wait takes a number of seconds, not '${wait}'; ${usage}`;
    t.equal(refusal(lookup.parse, ['brmgr0', 'guest1', `--wait=${wait}`]), refused, `--wait=${wait}`);
  }
  t.equal(refusal(lookup.parse, ['brmgr0', 'guest1', '--wait']), `Option '--wait <value>' argument missing; ${usage}`);
  const ambiguous = `Option '--wait' argument is ambiguous; ${usage}`;
  t.equal(refusal(lookup.parse, ['brmgr0', 'guest1', '--wait', '-1']), ambiguous, '--wait -1');
  t.same(lookup.parse(['brmgr0', mac, '--kind', 'slaac', '--all', '--wait', '5']), {
    bridge: 'brmgr0',
    guest: mac,
    waitSeconds: 5,
    kind: 'slaac',
    all: true,
  });
  for (const kind of ['dhcp', 'dhcpv6']) t.match(lookup.parse(['brmgr0', mac, `--kind=${kind}`]), { kind });
  for (const kind of ['', 'SLAAC', 'ipv6', 'link-local'])
    t.equal(
      refusal(lookup.parse, ['brmgr0', mac, `--kind=${kind}`]),
      `--kind takes dhcp, dhcpv6, slaac, not '${kind}'; ${usage}`,
      `--kind=${kind}`,
    );
});

t.test('tap: add BRIDGE TAP [--owner USER] [--mac MAC] [--rate RATE] or del TAP, names checked', async (t) => {
  const usage = 'usage: brmgr tap add BRIDGE TAP [--owner USER] [--mac MAC] [--rate RATE] | brmgr tap del TAP';
  const badTap = (name: string) =>
    `(command line):0: TAP: '${name}' is not a valid interface name (1-15 letters, digits, '_', '.', '-')`;
  t.same(tap.parse(['add', 'brmgr0', 'fc0']), { verb: 'add', bridge: 'brmgr0', tap: 'fc0' });
  const added = { verb: 'add', bridge: 'brmgr0', tap: 'fc0' };
  t.same(tap.parse(['add', 'brmgr0', 'fc0', '--owner', 'bob']), { ...added, owner: 'bob' });
  t.same(tap.parse(['add', '--owner=4242', 'brmgr0', 'fc0']), { ...added, owner: '4242' });
  t.same(tap.parse(['del', 'fc0']), { verb: 'del', tap: 'fc0' });
  for (const args of [
    [],
    ['add'],
    ['add', 'brmgr0'],
    ['add', 'brmgr0', 'fc0', 'fc1'],
    ['del'],
    ['del', 'fc0', 'fc1'],
    ['del', 'fc0', '--owner', 'bob'],
    ['del', 'fc0', '--rate', '1gbit'],
    ['list'],
    ['brmgr0', 'fc0'],
  ]) {
    t.equal(refusal(tap.parse, args), usage, `tap ${args.join(' ')}`);
  }
  t.equal(refusal(tap.parse, ['add', 'brmgr0', 'fc0', '--owner=']), `--owner needs a USER; ${usage}`);
  t.same(tap.parse(['add', 'brmgr0', 'fc0', '--rate', '100mbit']), { ...added, rate: 100_000_000 });
  t.same(tap.parse(['add', 'brmgr0', 'fc0', '--rate=1.5Gbit']), { ...added, rate: 1_500_000_000 });
  t.equal(refusal(tap.parse, ['add', 'brmgr0', 'fc0', '--rate=']), `--rate needs a RATE; ${usage}`);
  t.equal(
    refusal(tap.parse, ['add', 'brmgr0', 'fc0', '--rate', '100']),
    "--rate: '100' is not a rate (like 500kbit, 100mbit or 1gbit)",
  );
  t.equal(
    refusal(tap.parse, ['add', 'brmgr0', 'fc0', '--rate', '10mbps']),
    "--rate: '10mbps' is not a rate (like 500kbit, 100mbit or 1gbit); brmgr takes bits per second (tc reads mbps as megabytes)",
  );
  t.equal(refusal(tap.parse, ['add', 'a/b', 'fc0']), badName('a/b'));
  for (const bad of ['bad/name', 'a-name-much-too-long', '']) {
    t.equal(refusal(tap.parse, ['add', 'brmgr0', bad]), badTap(bad), `tap add brmgr0 '${bad}'`);
    t.equal(refusal(tap.parse, ['del', bad]), badTap(bad), `tap del '${bad}'`);
  }
});

t.test('demo: no arguments', async (t) => {
  t.same(demo.parse([]), {});
  t.equal(refusal(demo.parse, ['brmgr0']), "unexpected argument 'brmgr0'; usage: brmgr demo");
});

t.test("the dispatcher: a command, an alias, the original's `brmgr BRIDGE`, or a usage error", async (t) => {
  const confDir = t.testdir({ 'brmgr0.conf': '' });
  const saved = process.env.BRMGR_CONF_DIR;
  process.env.BRMGR_CONF_DIR = confDir;
  t.teardown(() => {
    if (saved === undefined) delete process.env.BRMGR_CONF_DIR;
    else process.env.BRMGR_CONF_DIR = saved;
  });
  t.same(resolveCommand('leases', ['br0']), [COMMANDS.leases, ['br0']], 'leases');
  t.same(resolveCommand('post', ['br0', '--force']), [COMMANDS.post, ['br0', '--force']], 'post');
  const original = resolveCommand('brmgr0', ['--pid-file', 'f']);
  t.same(original, [COMMANDS.run, ['brmgr0', '--pid-file', 'f']], 'brmgr BRIDGE [--pid-file FILE] is run');
  const shell = resolveCommand('brmgr0', ['--pid-file']);
  t.same(shell, [COMMANDS.run, ['brmgr0', '--pid-file']], 'as is the shell brmgr’s brmgr BRIDGE --pid-file');
  const refused = (name: string, args: string[] = []) => refusal(() => resolveCommand(name, args), []);
  t.equal(
    refused('brmgr1'),
    `unknown command 'brmgr1', and no bridge brmgr1: ${join(confDir, 'brmgr1.conf')} does not exist ` +
      '(bridges configured here: brmgr0; did you mean brmgr0?); see --help',
    'a bridge without a config is no command: the configured bridges are named, and the one it likely meant',
  );
  // names an object has by inheritance are no commands: a bridge may be called so
  writeFileSync(join(confDir, 'toString.conf'), '');
  t.same(resolveCommand('toString', []), [COMMANDS.run, ['toString']], 'a bridge named toString is run');
  t.match(
    refused('constructor'),
    /^unknown command 'constructor', and no bridge constructor: /,
    'constructor is no command',
  );
  t.match(
    refused('frobnicate', ['br0']),
    /^unknown command 'frobnicate', and no bridge frobnicate: .* \(bridges configured here: brmgr0, toString\); see --help$/,
  );
  t.equal(refused('a/b'), "unknown command 'a/b' (see --help)");
  t.equal(refused('--bogus'), "unknown command '--bogus' (see --help)");
  t.equal(refused(''), 'no command given (see --help)');
  t.equal(refused('stauts'), "unknown command 'stauts' (did you mean 'status'? see --help)", 'a swap of two letters');
  t.equal(refused('lease'), "unknown command 'lease' (did you mean 'leases'? see --help)", 'a letter short');
  t.equal(refused('rnu'), "unknown command 'rnu' (did you mean 'run'? see --help)");
  t.match(refused('xyz'), /^unknown command 'xyz', and no bridge xyz: /, 'nothing near: no guess');
});

t.test('doctor: BRIDGE, an optional guest, --json', async (t) => {
  t.strictSame(doctor.parse(['br0']), { bridge: 'br0', json: false });
  t.strictSame(doctor.parse(['br0', 'web', '--json']), { bridge: 'br0', guest: 'web', json: true });
  t.match(refusal(doctor.parse, []), /^missing BRIDGE; usage: brmgr doctor/);
  t.match(refusal(doctor.parse, ['br0', 'a', 'b']), /^unexpected argument 'b'/);
  t.match(refusal(doctor.parse, ['a/b']), /is not a valid bridge name/);
  t.strictSame(doctor.parse(['br0', '--mac', '52:54:00:AA:00:01']), {
    bridge: 'br0',
    mac: '52:54:00:aa:00:01',
    json: false,
  });
  t.match(refusal(doctor.parse, ['br0', '--mac', 'web']), /--mac 'web' is not a unicast MAC address/);
  t.match(refusal(doctor.parse, ['br0', '--mac', '01:00:5e:00:00:01']), /is not a unicast MAC/);
});
