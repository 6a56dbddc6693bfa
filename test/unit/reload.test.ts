import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/validate.js';
import { paths } from '../../src/paths.js';
import { render, type Rendered } from '../../src/supervisor/dnsmasq-files.js';
import { needsTrial, reloadAction, restartsDnsmasq, type ReloadAction } from '../../src/supervisor/reload.js';

const p = paths('br0', { BRMGR_RUN_DIR: '/run/brmgr', BRMGR_STATE_DIR: '/var/lib/misc' });
const account = { user: 'dnsmasq', uid: 100, group: 'nogroup', gid: 65534 };
const rendered = (text: string) => render(parseConfig(text, '/etc/brmgr/br0.conf', 'br0'), p, account);

const dir = mkdtempSync(join(tmpdir(), 'brmgr-reload-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const hostsFile = join(dir, 'hosts');
const confFile = join(dir, 'extra.conf');
const baseFiles = () => {
  writeFileSync(hostsFile, '10.0.1.20 printer\n');
  writeFileSync(confFile, 'log-dhcp\n');
};
baseFiles();

const base = `[bridge]
firewall = none
[ipv4]
address = 10.0.1.1/24
[dns]
domain = lab.test
hosts_file = ${hostsFile}
[dnsmasq]
conf_file = ${confFile}
[host.web]
mac = 52:54:00:00:00:10
ip = 10.0.1.10
`;
const db = '[host.db]\nmac = 52:54:00:00:00:11\nip = 10.0.1.11\n';

t.test('each config change, and what it means for the bridge and dnsmasq', async (t) => {
  const before = rendered(base);
  /** The action for this config text, after `change` to the base's files. */
  const after = (text: string, change = () => {}): ReloadAction => {
    baseFiles();
    change();
    return reloadAction(before, rendered(text));
  };
  t.equal(after(base), 'none', 'the same config');
  t.equal(after(`${base}\n; a comment\n`), 'none', 'a comment');
  t.equal(after(base.replace('10.0.1.1/24', '10.0.1.2/24')), 'converge+restart', 'a new address');
  t.equal(
    after(base.replace('firewall = none', 'firewall = nftables')),
    'converge',
    'the firewall turned on: dnsmasq, whose config is the same, keeps serving',
  );
  t.equal(
    after(base.replace('firewall = none', 'firewall = none\nguest_conns = 100')),
    'converge',
    'guest_conns: the firewall alone',
  );
  t.equal(
    after(base.replace('10.0.1.10', '10.0.1.12').replace('firewall = none', 'firewall = nftables')),
    'converge+sighup',
    'the firewall and a static host',
  );
  t.equal(after(base.replace('domain = lab.test', 'enable = false')), 'converge+restart', 'DNS turned off');
  const ipv4 = (line: string) => base.replace('address = 10.0.1.1/24', `address = 10.0.1.1/24\n${line}`);
  const dns = (line: string) => base.replace('domain = lab.test', `domain = lab.test\n${line}`);
  t.equal(after(ipv4('max_leases = 50')), 'converge+restart', "max_leases (the firewall's connection budget)");
  t.equal(after(ipv4('range = 10.0.1.100-10.0.1.150')), 'converge+restart', 'a smaller range: max_leases follows it');
  // what only dnsmasq's config holds: a restart serves it, the bridge and its firewall stay as they are
  for (const [text, what] of [
    [base.replace('lab.test', 'lan.test'), 'another domain'],
    [ipv4('lease_time = 2h'), 'lease_time'],
    [ipv4('gateway = false'), 'gateway'],
    [ipv4('ntp = self'), 'ntp'],
    [dns('upstream = 192.0.2.53'), 'upstream'],
    [dns('wildcard = apps:10.0.1.50'), 'a DNS record'],
  ] as const) {
    t.equal(after(text), 'restart', what);
    t.not(rendered(text).conf, before.conf, `${what}: in dnsmasq's config, which the restart serves`);
  }
  t.equal(after(base + db), 'sighup', 'a static host added');
  t.equal(after(base.replace('10.0.1.10', '10.0.1.12')), 'sighup', "a static host's address");
  t.equal(
    after(base, () => writeFileSync(hostsFile, '10.0.1.21 printer\n')),
    'sighup',
    'the hosts file edited',
  );
  t.equal(
    after(base, () => writeFileSync(confFile, 'log-queries\n')),
    'restart',
    'the conf_file edited',
  );
  const both = () => writeFileSync(confFile, 'log-queries\n');
  t.equal(after(base + db, both), 'restart', 'a static host added and the conf_file edited: the restart covers both');
});

t.test('any one part changed alone', async (t) => {
  const before = rendered(base);
  const changed = (part: keyof Rendered) => reloadAction(before, { ...before, [part]: `${before[part]}x` });
  const expected: [keyof Rendered, ReloadAction][] = [
    ['network', 'converge'],
    ['conf', 'restart'],
    ['confFileHash', 'restart'],
    ['dhcpHosts', 'sighup'],
    ['hosts', 'sighup'],
    ['hostsFilesHash', 'sighup'],
  ];
  for (const [part, action] of expected) t.equal(changed(part), action, part);
});

t.test('only a restart of a dnsmasq that serves anything is tried with dnsmasq --test first', async (t) => {
  const actions: ReloadAction[] = ['converge+restart', 'converge+sighup', 'converge', 'restart', 'sighup', 'none'];
  t.same(actions.map(restartsDnsmasq), [true, false, false, true, false, false], 'restarts');
  t.same(
    actions.map((a) => needsTrial(a, true)),
    [true, false, false, true, false, false],
    'tried when it serves',
  );
  const noneTried = [false, false, false, false, false, false];
  t.same(
    actions.map((a) => needsTrial(a, false)),
    noneTried,
    'nothing to try when it serves nothing',
  );
});
