/**
 * Rate limits: the keys' values (one-line FILE:LINE errors), which rate a port gets, and the tc and ip
 * commands planned from what tc shows (tc's own JSON, as this kernel prints it).
 */
import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import { formatRate } from '../../src/config/values.js';
import { parseFilters, parseQdiscs } from '../../src/host/tc.js';
import { vxlanName } from '../../src/plan/vxlan.js';
import {
  FILTER_PREF,
  type PortShaping,
  configHasRates,
  describeRates,
  ifbName,
  ifbPort,
  isGuestPort,
  planShaping,
  portRates,
  tapRate,
} from '../../src/plan/shaping.js';
import { configProblems } from '../helpers/config.js';

const F = '/etc/brmgr/br0.conf';
const parse = (text: string) => parseConfig(text, F, 'br0');
const problems = (text: string): string[] => configProblems(() => parse(text));

const GUEST = '52:54:00:00:00:10';
const HOST = `[host.web]\nmac = ${GUEST}\nip = 10.0.1.10\n`;

t.test('rates: bits per second in tc units, each key on its own', async (t) => {
  const cfg = parse(
    `[bridge]\nguest_ingress = 100mbit\nguest_egress = 500Kbit\n${HOST}ingress = 1gbit\negress = 1.5mbit\n`,
  );
  t.equal(cfg.guestIngress, 100_000_000);
  t.equal(cfg.guestEgress, 500_000);
  t.equal(cfg.hosts[0]!.ingress, 1_000_000_000);
  t.equal(cfg.hosts[0]!.egress, 1_500_000);
  const none = parse(`[bridge]\nguest_ingress =\n${HOST}`);
  t.equal(none.guestIngress, undefined, 'empty: no limit');
  t.equal(none.hosts[0]!.egress, undefined);
  t.equal(formatRate(100_000_000), '100mbit');
  t.equal(formatRate(1_500_000), '1500kbit');
  t.equal(formatRate(16_500), '16500bit');
});

t.test('a rate that is not one: one line naming file, line, section and key', async (t) => {
  const cases: [string, string][] = [
    ['100', "'100' is not a rate (like 500kbit, 100mbit or 1gbit)"],
    ['100 mbit', "'100 mbit' is not a rate (like 500kbit, 100mbit or 1gbit)"],
    ['-5mbit', "'-5mbit' is not a rate (like 500kbit, 100mbit or 1gbit)"],
    ['fast', "'fast' is not a rate (like 500kbit, 100mbit or 1gbit)"],
    [
      '10mbps',
      "'10mbps' is not a rate (like 500kbit, 100mbit or 1gbit); brmgr takes bits per second (tc reads mbps as megabytes)",
    ],
    ['8kbit', '8kbit is below the least rate brmgr shapes to (16kbit)'],
    ['2tbit', '2tbit is above 1tbit'],
  ];
  for (const [value, message] of cases) {
    t.same(problems(`[bridge]\nguest_egress = ${value}\n`), [`${F}:2: [bridge] guest_egress: ${message}`], value);
    t.same(problems(`${HOST}ingress = ${value}\n`), [`${F}:4: [host.web] ingress: ${message}`], `[host.web] ${value}`);
  }
});

t.test("a port's rates: its guest's [host.*], else its own (a tap's --rate), else the bridge's", async (t) => {
  const cfg = parse(`[bridge]\nguest_ingress = 100mbit\nguest_egress = 20mbit\n${HOST}egress = 50mbit\n`);
  t.same(portRates(cfg, undefined), { ingress: 100_000_000, egress: 20_000_000 }, 'no guest seen yet: the bridge’s');
  t.same(portRates(cfg, '52:54:00:00:00:99'), { ingress: 100_000_000, egress: 20_000_000 }, 'a guest without an entry');
  t.same(portRates(cfg, GUEST.toUpperCase()), { ingress: 100_000_000, egress: 50_000_000 }, 'its entry, per direction');
  t.same(portRates(cfg, undefined, 5_000_000), { ingress: 5_000_000, egress: 5_000_000 }, 'a tap’s own rate');
  t.same(portRates(cfg, GUEST, 5_000_000), { ingress: 5_000_000, egress: 50_000_000 }, '[host.*] before the tap’s');
  t.same(portRates(parse(''), GUEST), {}, 'no keys: no limits');
  t.same(portRates(undefined, GUEST, 5_000_000), { ingress: 5_000_000, egress: 5_000_000 }, 'post: the tap’s own');
  t.equal(describeRates({ ingress: 100_000_000, egress: 20_000_000 }), 'ingress 100mbit, egress 20mbit');
  t.equal(describeRates({}), 'no rate limits');
  t.equal(tapRate('brmgr-rate:20mbit'), 20_000_000);
  t.equal(tapRate('web server'), undefined);
});

t.test('a config with a rate anywhere (the bridge’s, a host’s), or none: brmgr run then has no tc work', async (t) => {
  t.notOk(configHasRates(parse(HOST)), 'no rate keys');
  t.ok(configHasRates(parse('[bridge]\nguest_ingress = 100mbit\n')), 'the bridge’s toward the guests');
  t.ok(configHasRates(parse('[bridge]\nguest_egress = 1mbit\n')), 'the bridge’s from the guests');
  t.ok(configHasRates(parse(`${HOST}egress = 50mbit\n`)), 'one host’s');
});

t.test('the uplink of a bridged bridge and the VXLAN port are not guest ports', async (t) => {
  const bridged = parse(
    '[bridge]\nmode = bridged\nuplink = eth0\n[vxlan]\nid = 7\npeers = 192.0.2.2\nlocal = 192.0.2.1\n',
  );
  t.notOk(isGuestPort(bridged, 'eth0'));
  t.notOk(isGuestPort(bridged, vxlanName('br0')));
  t.ok(isGuestPort(bridged, 'veth0'));
  t.ok(isGuestPort(parse('[bridge]\nuplink = eth0\n'), 'veth0'), 'a NAT bridge’s uplink is never a port');
});

// tc's JSON on this kernel, as captured: a port with brmgr's htb and ingress qdisc, its redirect filter
const QDISCS = JSON.stringify([
  { kind: 'htb', handle: 'bb1e:', root: true, refcnt: 3, options: { r2q: 10, default: '0x1' } },
  { kind: 'ingress', handle: 'ffff:', parent: 'ffff:fff1', options: {} },
]);
const filters = (to: string) =>
  JSON.stringify([
    { parent: 'ffff:', protocol: 'all', pref: 47902, kind: 'u32', chain: 0 },
    { parent: 'ffff:', protocol: 'all', pref: 47902, kind: 'u32', chain: 0, options: { fh: '800:', ht_divisor: 1 } },
    {
      parent: 'ffff:',
      protocol: 'all',
      pref: 47902,
      kind: 'u32',
      chain: 0,
      options: {
        fh: '800::800',
        match: { value: '0', mask: '0', offmask: '', off: 0 },
        actions: [{ order: 1, kind: 'mirred', mirred_action: 'redirect', direction: 'egress', to_dev: to }],
      },
    },
  ]);

t.test("tc's JSON: qdiscs, and a u32 filter's entries merged into one with its redirect", async (t) => {
  t.same(parseQdiscs(QDISCS), [
    { kind: 'htb', handle: 'bb1e:', root: true },
    { kind: 'ingress', handle: 'ffff:', root: false },
  ]);
  t.same(parseFilters(filters('ifbx')), [{ pref: FILTER_PREF, kind: 'u32', redirects: ['ifbx'] }]);
  t.same(parseQdiscs(''), []);
  t.same(parseFilters('[]\n'), []);
});

const PORT = 'veth1a2b';
const IFB = ifbName(PORT);
const fresh: PortShaping = { present: true, qdiscs: [], filters: [] };
const shaped: PortShaping = {
  present: true,
  qdiscs: parseQdiscs(QDISCS),
  filters: parseFilters(filters(IFB)),
  ifb: [{ kind: 'htb', handle: 'bb1e:', root: true }],
};
const line = (c: string[]) => c.join(' ');

t.test('the ifb: a name of its own per port, at most 15 characters, and an alias saying whose', async (t) => {
  t.match(IFB, /^ifb[0-9a-f]{12}$/);
  t.not(ifbName('veth1a2c'), IFB);
  t.equal(ifbName('a-port-of-15-ch').length, 15);
  t.equal(ifbPort('br0', `brmgr:br0:${PORT}`), PORT);
  t.equal(ifbPort('br0', `brmgr:br1:${PORT}`), undefined, "another bridge's");
  t.equal(ifbPort('br0', undefined), undefined);
});

t.test('a new port: htb at its root, an ifb with htb, then the redirect to it', async (t) => {
  const plan = planShaping('br0', PORT, { ingress: 100_000_000, egress: 20_000_000 }, fresh);
  t.same(plan.links.map(line), [
    `link add ${IFB} type ifb`,
    `link set dev ${IFB} addrgenmode none`,
    `link set dev ${IFB} alias brmgr:br0:${PORT} up`,
  ]);
  t.same(plan.tc.map(line), [
    `qdisc replace dev ${PORT} root handle bb1e: htb default 1`,
    `class replace dev ${PORT} parent bb1e: classid bb1e:1 htb rate 100000000bit ceil 100000000bit quantum 1514`,
    `qdisc replace dev ${IFB} root handle bb1e: htb default 1`,
    `class replace dev ${IFB} parent bb1e: classid bb1e:1 htb rate 20000000bit ceil 20000000bit quantum 1514`,
    `qdisc replace dev ${PORT} ingress`,
    `filter add dev ${PORT} parent ffff: pref 47902 protocol all u32 match u32 0 0 action mirred egress redirect dev ${IFB}`,
  ]);
  t.same(plan.unlink, []);
});

t.test('applied again, or with another rate: the classes changed in place, nothing made twice', async (t) => {
  const plan = planShaping('br0', PORT, { ingress: 100_000_000, egress: 50_000_000 }, shaped);
  t.same(plan.links.map(line), [`link set dev ${IFB} alias brmgr:br0:${PORT} up`]);
  t.same(plan.tc.map(line), [
    `class replace dev ${PORT} parent bb1e: classid bb1e:1 htb rate 100000000bit ceil 100000000bit quantum 1514`,
    `class replace dev ${IFB} parent bb1e: classid bb1e:1 htb rate 50000000bit ceil 50000000bit quantum 1514`,
  ]);
});

t.test('a redirect whose ifb was deleted (tc shows "*") is replaced, with the ifb made again', async (t) => {
  const plan = planShaping('br0', PORT, { egress: 20_000_000 }, { ...shaped, filters: parseFilters(filters('*')) });
  t.same(plan.links.map(line).slice(0, 1), [`link set dev ${IFB} alias brmgr:br0:${PORT} up`], 'it is still there');
  const broken = { ...shaped, filters: parseFilters(filters('*')) };
  delete broken.ifb;
  const again = planShaping('br0', PORT, { egress: 20_000_000 }, broken);
  t.equal(again.links[0]?.join(' '), `link add ${IFB} type ifb`);
  t.same(again.tc.map(line).slice(-2), [
    `filter del dev ${PORT} parent ffff: pref 47902`,
    `filter add dev ${PORT} parent ffff: pref 47902 protocol all u32 match u32 0 0 action mirred egress redirect dev ${IFB}`,
  ]);
  t.same(
    again.tc.map(line).slice(0, 2),
    [`qdisc del dev ${PORT} root handle bb1e:`, `qdisc replace dev ${IFB} root handle bb1e: htb default 1`],
    'no ingress rate any more: its htb goes',
  );
});

t.test('no rates: brmgr’s qdiscs go, the ingress qdisc before the ifb it redirects to', async (t) => {
  const plan = planShaping('br0', PORT, {}, shaped);
  t.same(plan.links, []);
  t.same(plan.tc.map(line), [`qdisc del dev ${PORT} root handle bb1e:`, `qdisc del dev ${PORT} ingress`]);
  t.same(plan.unlink.map(line), [`link del dev ${IFB}`]);
  t.same(planShaping('br0', PORT, {}, fresh), { links: [], tc: [], unlink: [] }, 'nothing of brmgr’s: nothing');
});

t.test("another's qdiscs stay: a root htb of another handle, an ingress qdisc without brmgr's filter", async (t) => {
  const theirs: PortShaping = {
    present: true,
    qdiscs: [
      { kind: 'htb', handle: '1:', root: true },
      { kind: 'ingress', handle: 'ffff:', root: false },
    ],
    filters: [{ pref: 1, kind: 'u32', redirects: ['ifb0'] }],
  };
  t.same(planShaping('br0', PORT, {}, theirs), { links: [], tc: [], unlink: [] });
});

t.test('a port that is gone: its qdiscs went with it, its ifb goes', async (t) => {
  const gone: PortShaping = { present: false, qdiscs: [], filters: [], ifb: [] };
  t.same(planShaping('br0', PORT, {}, gone), { links: [], tc: [], unlink: [['link', 'del', 'dev', IFB]] });
  t.same(planShaping('br0', PORT, {}, { ...gone, ifb: undefined }), { links: [], tc: [], unlink: [] });
});
