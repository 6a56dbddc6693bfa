/**
 * Bridged mode on an uplink systemd-networkd manages: networkctl's JSON read, the fight named with
 * the .network file and what to put in it, in pre's and check's warnings and the doctor's walk.
 */
import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import type { Facts } from '../../src/converge/facts.js';
import { hostFindings } from '../../src/converge/preflight.js';
import { CHECKS, doctorContext, runChecks, type DoctorOptions } from '../../src/doctor/index.js';
import type { ObservedLink } from '../../src/host/links.js';
import { type NetworkdLink, parseNetworkdLink } from '../../src/host/networkd.js';
import { paths } from '../../src/paths.js';
import { networkdFight, networkdWarning } from '../../src/plan/networkd.js';
import type { Run } from '../../src/system/exec.js';
import type { State } from '../../src/system/state.js';

const bridged = parseConfig('[bridge]\nmode = bridged\nuplink = eth0\n', '/etc/brmgr/br0.conf', 'br0');
const nat = parseConfig('[bridge]\nuplink = eth0\n[ipv4]\naddress = 10.0.1.1/24\n', '/etc/brmgr/br0.conf', 'br0');
const FILE = '/etc/systemd/network/10-eth0.network';
const managed: NetworkdLink = { name: 'eth0', index: 2, adminState: 'configured', networkFile: FILE };

t.test("parseNetworkdLink: networkctl's name, index, setup state and .network file", async (t) => {
  // trimmed from `networkctl --json=short status eth0` (systemd 252)
  const json =
    '{"Index":2,"Name":"eth0","Kind":"veth","Type":"ether","AdministrativeState":"configuring",' +
    `"OperationalState":"routable","NetworkFile":"${FILE}","Addresses":[]}`;
  t.strictSame(parseNetworkdLink(json), { name: 'eth0', index: 2, adminState: 'configuring', networkFile: FILE });
  t.strictSame(
    parseNetworkdLink('{"Index":2,"Name":"eth0","AdministrativeState":"unmanaged","OperationalState":"enslaved"}'),
    { name: 'eth0', index: 2, adminState: 'unmanaged' },
    'an unmanaged link has no .network file',
  );
  t.equal(parseNetworkdLink(''), undefined, 'no output');
  t.equal(parseNetworkdLink('[]'), undefined, 'not a link');
  t.equal(parseNetworkdLink('{"Name":"eth0"}'), undefined, 'no index or state');
});

t.test('networkdFight: only bridged mode, only a link networkd configures', async (t) => {
  const fight = networkdFight(bridged, managed);
  t.match(fight?.problem, `uplink eth0 is managed by systemd-networkd (${FILE}, configured)`);
  t.match(fight?.problem, /takes eth0 out of br0/);
  t.match(fight?.fix, `in ${FILE} put [Link] Unmanaged=yes`);
  t.match(fight?.fix, /\[Match\] Name=br0; then: networkctl reload$/);
  t.equal(networkdWarning(fight!), `${fight!.problem}; ${fight!.fix}`);
  t.equal(networkdFight(bridged, { name: 'eth0', index: 2, adminState: 'unmanaged' }), undefined, 'Unmanaged=yes');
  t.equal(networkdFight(bridged, { ...managed, adminState: 'linger' }), undefined, 'a link networkd let go');
  t.equal(networkdFight(bridged, { ...managed, name: 'eth1' }), undefined, 'another link');
  t.equal(networkdFight(bridged, undefined), undefined, 'networkd has not seen it');
  t.equal(networkdFight(nat, managed), undefined, 'nat mode: networkd may manage the uplink');
});

const run = (async (file: string) => {
  throw new Error(`ran ${file}`);
}) as unknown as Run;
const opts: DoctorOptions = { run, paths: paths('br0', { BRMGR_RUN_DIR: '/nonexistent' }), others: [] };
const state = { version: 1, bridge: 'br0', up: true } as State;
const link = (ifname: string, kind: string | undefined, master?: string): ObservedLink => ({
  ifname,
  ...(kind ? { kind } : {}),
  mtu: 1500,
  address: '02:00:00:00:00:01',
  up: true,
  stp: false,
  group: 'default',
  ...(master ? { master } : {}),
});
const facts = (links: ObservedLink[], networkd?: NetworkdLink): Facts => ({
  observed: { links, addrs: [], routes: [] },
  listeners: [],
  forwarded: [],
  ruleset: [],
  ...(networkd ? { networkd } : {}),
});
const uplinkCheck = CHECKS.filter((c) => c.name === 'uplink');
const walk = (f: Facts) => runChecks(doctorContext(bridged, opts, f, state), uplinkCheck);

t.test("pre's and check's warnings name the fight", async (t) => {
  const up = facts([link('br0', 'bridge'), link('eth0', undefined, 'br0')], managed);
  const found = hostFindings(bridged, up, [], opts.paths);
  t.strictSame(found.errors, [], 'a warning, never an error: brmgr still bridges');
  t.ok(
    found.warnings.some(
      (w) => w.startsWith('uplink eth0 is managed by systemd-networkd') && w.includes('Unmanaged=yes'),
    ),
    found.warnings.join(' | '),
  );
  const unmanaged = hostFindings(
    bridged,
    facts(up.observed.links, { ...managed, adminState: 'unmanaged' }),
    [],
    opts.paths,
  );
  t.notOk(
    unmanaged.warnings.some((w) => /networkd/.test(w)),
    'none for an unmanaged uplink',
  );
});

t.test("the doctor: the bridged uplink is the bridge's port, and networkd's fight is named", async (t) => {
  t.same(await walk(facts([link('br0', 'bridge'), link('eth0', undefined, 'br0')])), [
    { check: 'uplink', ok: true, detail: "eth0 is br0's port to the LAN" },
  ]);
  const taken = await walk(facts([link('br0', 'bridge'), link('eth0', undefined)], managed));
  t.match(taken, [
    { check: 'networkd', ok: false, detail: /managed by systemd-networkd/, fix: /Unmanaged=yes/ },
    {
      check: 'uplink',
      ok: false,
      detail: 'uplink eth0 is not a port of br0: guests have no way to the LAN (systemd-networkd took it out)',
      fix: /Unmanaged=yes[\s\S]*\nsystemctl restart brmgr@br0/,
    },
  ]);
  t.match(await walk(facts([link('br0', 'bridge')])), [{ check: 'uplink', ok: false, detail: /eth0 is missing/ }]);
});
