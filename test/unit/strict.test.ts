/**
 * Strict port security without a kernel: its keys, the tables it renders, and the binding plan (which
 * set elements a port's guest brings and takes away).
 */
import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import { l2Change, renderL2 } from '../../src/firewall/l2.js';
import { renderStrict, STRICT_MARK } from '../../src/firewall/strict.js';
import {
  bindingEvents,
  bindingScript,
  boundGuest,
  formatBindingEvent,
  bindsPorts,
  guestAddresses,
  linkLocal,
  PortBindings,
  portBindings,
  staleBindings,
} from '../../src/plan/bindings.js';
import { configProblems } from '../helpers/config.js';

const META = { bridgeMeta: true, ports: [] };

const F = '/etc/brmgr/br0.conf';
const parse = (text: string) => parseConfig(text, F, 'br0');
const problems = (text: string): string[] => configProblems(() => parse(text));
const MAC = '52:54:00:00:00:10';
const STRICT = `[bridge]\nport_security = strict\nhost_ports = tcp:22, udp:514, tcp:8000-8010\n[ipv6]\naddress = fd42:0:1::1/64\n[host.web]\nmac = ${MAC}\nip = 10.0.1.10\nextra_ips = 10.0.1.200, FD42:0:1::200\n[host.router]\nmac = 52:54:00:00:00:11\nip = 10.0.1.11\nport_security = off\n`;

t.test('the keys: host_ports, extra_ips, [host.*] port_security', async (t) => {
  const cfg = parse(STRICT);
  t.strictSame(cfg.hostPorts, [
    { proto: 'tcp', from: 22, to: 22 },
    { proto: 'udp', from: 514, to: 514 },
    { proto: 'tcp', from: 8000, to: 8010 },
  ]);
  t.strictSame(cfg.hosts[0]?.extraIps, ['10.0.1.200', 'fd42:0:1::200'], 'IPv6 canonical');
  t.equal(cfg.hosts[1]?.portSecurity, 'off');
  t.equal(cfg.hosts[0]?.portSecurity, undefined, 'the bridge level unless given');
  t.match(problems('[bridge]\nhost_ports = ssh\n'), [/br0\.conf:2: \[bridge\] host_ports: 'ssh' is not PROTO:PORT/]);
  t.match(problems('[bridge]\nhost_ports = tcp:22, tcp:20-30\n'), [/tcp:20-30 is given twice/]);
  t.match(problems('[bridge]\nhost_ports = sctp:22\n'), [/not PROTO:PORT/]);
  t.match(problems(`[host.a]\nmac = ${MAC}\nip = 10.0.1.10\nextra_ips = 10.0.1.300\n`), [/not an IPv4 or IPv6/]);
  t.match(problems(`[host.a]\nmac = ${MAC}\nip = 10.0.1.10\nextra_ips = 224.0.0.1\n`), [/not a unicast/]);
  t.match(problems(`[host.a]\nmac = ${MAC}\nip = 10.0.1.10\nport_security = lax\n`), [/not one of off, basic, strict/]);
  t.match(problems(`[bridge]\nport_security = off\n[host.a]\nmac = ${MAC}\nip = 10.0.1.10\nport_security = strict\n`), [
    /br0\.conf:6: \[host\.a\] port_security: needs \[bridge\] port_security basic or strict/,
  ]);
  t.match(problems('[bridge]\nmode = bridged\nuplink = eth0\nport_security = strict\n'), [/bridged mode/]);
});

t.test('renderStrict: nothing unless a port is strict', async (t) => {
  t.equal(renderStrict(parse(''), [], META), undefined, 'basic');
  t.equal(renderStrict(parse(`[host.a]\nmac = ${MAC}\nip = 10.0.1.10\nport_security = off\n`), [], META), undefined);
  t.notOk(bindsPorts(parse('[bridge]\nport_security = off\n')));
});

t.test('renderStrict: static rules over sets, per-guest state in the sets', async (t) => {
  const text = renderStrict(parse(STRICT), ['vx-br0'], META)!;
  t.match(text, /iifname != \{ "vx-br0" \} iifname != @loose jump strict/, 'every guest port but the loose ones');
  for (const set of ['ports', 'bound', 'macs', 'addr4', 'addr6', 'na6', 'loose', 'tight'])
    t.match(text, new RegExp(`\\tset ${set} \\{`), `set ${set} declared`);
  t.match(text, /flush chain bridge brmgr-strict-br0 strict/, 'the chains are replaced');
  t.notMatch(text, /delete table bridge/, 'the bridge table (its sets) is kept');
  t.match(text, /add @ports \{ iifname \} add @bound \{ iifname \. ether saddr \} add @macs \{ ether saddr \}/);
  t.match(text, /iifname \. ether saddr != @bound jump drop-strict-mac$/m);
  t.match(text, /iifname \. ip saddr != @addr4 jump drop-strict-address-ip$/m);
  t.match(text, /iifname \. ip6 saddr != @addr6 jump drop-strict-address-ip6$/m);
  t.match(text, /nd-neighbor-advert iifname \. @th,64,128 != @na6 jump drop-strict-address-na$/m);
  t.match(text, /iifname \. arp saddr ip != @addr4/);
  t.match(text, /ip saddr 0\.0\.0\.0 udp sport 68 udp dport 67 accept/, 'a guest without a lease asks for one');
  t.match(text, /ip6 saddr :: icmpv6 type \{[^}]*nd-neighbor-solicit/, 'duplicate address detection');
  t.notMatch(text, /\belement\b/, 'no per-guest rule or element in the static text');
  // the host itself
  t.match(text, /table inet brmgr-strict-br0\ndelete table inet brmgr-strict-br0\n/);
  t.match(
    text,
    new RegExp(`iifname "br0" meta mark & 0x${STRICT_MARK.toString(16)} == 0x${STRICT_MARK.toString(16)} jump guest`),
  );
  t.match(text, /udp dport \{ 53, 67, 69, 123, 547, 514 \} accept/);
  t.match(text, /tcp dport \{ 53, 22, 8000-8010 \} accept/);
  t.match(
    text,
    /fib daddr type != \{ local, broadcast, multicast, anycast \} return/,
    'forwarded traffic is not the host’s',
  );
  t.match(text, /\t\tjump drop-strict-host-port-service\n\t\}\n/, 'the rest to the host is dropped');
  t.match(
    text,
    /chain drop-strict-host-port-service \{\n\t\tupdate @drops-strict-host-port-service \{ ether saddr \. meta l4proto \. th dport \}\n\t\tcounter drop comment "port security: strict-host-port"\n/,
    'counted by what the guest asked for, then dropped',
  );

  const tight = renderStrict(parse(`[host.a]\nmac = ${MAC}\nip = 10.0.1.10\nport_security = strict\n`), [], META)!;
  t.match(tight, /^\t\tiifname @tight jump strict$/m, 'a basic bridge: only the strict guests’ ports');
});

t.test('the bridge table: an off guest is past the basic rules too', async (t) => {
  const text = renderL2(parse(STRICT), { scope: { bridgeMeta: true, ports: [] }, guard: true })!;
  t.match(text, /\tset open \{/);
  t.match(text, /iifname != @open meta protocol ip udp dport 68 jump drop-dhcp-server/);
  t.notMatch(
    renderL2(parse(''), { scope: { bridgeMeta: true, ports: [] }, guard: true })!,
    /@open/,
    'no override: the basic rules as before',
  );
});

t.test('l2Change: the strict tables with the bridge table; dropped once not wanted', async (t) => {
  const strict = l2Change(parse(STRICT), undefined, false, META)!;
  t.match(strict.text, /table bridge brmgr-strict-br0 \{/);
  t.match(strict.wanted, /table inet brmgr-strict-br0 \{/);
  const basic = l2Change(parse(''), undefined, true, META)!;
  t.match(basic.text, /delete table bridge brmgr-strict-br0\n/, 'a basic bridge that was strict loses them');
  t.notMatch(l2Change(parse(''), undefined, false, META)!.text, /strict/, 'a fresh basic bridge never names them');
});

t.test('the addresses a guest may use', async (t) => {
  const cfg = parse(STRICT);
  t.equal(linkLocal(MAC), 'fe80::5054:ff:fe00:10');
  t.strictSame(guestAddresses(cfg, MAC, ['10.0.1.10']), [
    '10.0.1.10',
    '10.0.1.200',
    'fd42:0:1::200',
    'fe80::5054:ff:fe00:10',
    'fd42:0:1:0:5054:ff:fe00:10',
  ]);
  t.strictSame(
    guestAddresses(parse('[ipv6]\naddress = fd42:0:1::1/64\nra = false\n'), MAC, []),
    ['fe80::5054:ff:fe00:10'],
    'no RA, no SLAAC address',
  );
});

t.test('portBindings: one port, its MAC, its addresses, its level', async (t) => {
  const cfg = parse(STRICT);
  const keys = (b: ReturnType<typeof portBindings>) => b.map((x) => `${x.table} ${x.set} ${x.key}`);
  const web = keys(portBindings(cfg, 'tap0', MAC, ['10.0.1.10']));
  t.ok(web.includes('strict ports "tap0"'));
  t.ok(web.includes(`strict bound "tap0" . ${MAC}`));
  t.ok(web.includes(`strict macs ${MAC}`));
  t.ok(web.includes('strict addr4 "tap0" . 10.0.1.10'));
  t.ok(web.includes('strict addr4 "tap0" . 10.0.1.200'));
  t.ok(web.includes('strict addr6 "tap0" . fe80::5054:ff:fe00:10'));
  t.ok(web.includes('strict na6 "tap0" . 0xfe80000000000000505400fffe000010'), 'the target as the raw match reads it');
  t.ok(web.includes(`strict bound4 "tap0" . ${MAC} . 10.0.1.200`), 'a strict port: its MAC with each address');
  t.ok(web.includes(`strict bound6 "tap0" . ${MAC} . fe80::5054:ff:fe00:10`));
  t.notOk(
    web.some((k) => / (loose|tight|open) /.test(k)),
    'the bridge level: no level set',
  );
  const router = keys(portBindings(cfg, 'tap1', '52:54:00:00:00:11', []));
  t.ok(router.includes('strict loose "tap1"'), 'off on a strict bridge: past the strict rules');
  t.ok(router.includes('l2 open "tap1"'), 'and past the basic ones');
  t.notOk(
    router.some((k) => / bound[46] /.test(k)),
    'and never passed as a strict port',
  );
  const stranger = keys(portBindings(cfg, 'tap2', '52:54:00:99:99:99', ['10.0.1.77']));
  t.ok(stranger.includes('strict addr4 "tap2" . 10.0.1.77'), 'a guest with no [host.*] entry: its lease');
  t.strictSame(portBindings(parse(''), 'tap0', MAC, ['10.0.1.10']), [], 'basic: nothing to bind');
});

t.test('PortBindings: what each change of a port’s guest adds and deletes', async (t) => {
  const cfg = parse(STRICT);
  const b = new PortBindings();
  const first = b.change(cfg, { port: 'tap2', mac: '52:54:00:99:99:99', addresses: [] });
  t.ok(
    first.add.some((x) => x.set === 'bound'),
    'bound at once, before any lease',
  );
  t.ok(
    first.add.some((x) => x.set === 'addr6'),
    'with its link-local address',
  );
  t.equal(first.del.length, 0);
  const leased = b.change(cfg, { port: 'tap2', mac: '52:54:00:99:99:99', addresses: ['10.0.1.77'] });
  t.strictSame(
    leased.add.map((x) => `${x.set} ${x.key}`),
    ['addr4 "tap2" . 10.0.1.77', 'bound4 "tap2" . 52:54:00:99:99:99 . 10.0.1.77'],
    'a lease adds its address (and with the MAC, the frames that pass at one lookup), nothing else',
  );
  t.strictSame(
    b.change(cfg, { port: 'tap2', addresses: [] }),
    { add: [], del: [] },
    'a forgotten MAC keeps the port bound',
  );
  const ended = b.change(cfg, { port: 'tap2', mac: '52:54:00:99:99:99', addresses: [] });
  t.strictSame(
    ended.del.map((x) => `${x.set} ${x.key}`),
    ['addr4 "tap2" . 10.0.1.77', 'bound4 "tap2" . 52:54:00:99:99:99 . 10.0.1.77'],
    'the lease ended',
  );
  const gone = b.change(cfg, { port: 'tap2', addresses: [], removed: true });
  t.ok(gone.del.some((x) => x.set === 'ports') && gone.del.some((x) => x.set === 'macs'), 'the port went: all of it');
  t.equal(gone.add.length, 0);
  const refill = b.refill(cfg, [{ port: 'tap3', mac: MAC, addresses: ['10.0.1.10'] }]);
  t.ok(
    refill.add.some((x) => x.key === '"tap3" . 10.0.1.10'),
    'refill: every port’s elements again',
  );
});

t.test('staleBindings: what no live port holds', async (t) => {
  const held = [
    { set: 'ports', values: ['tap0'] },
    { set: 'ports', values: ['gone0'] },
    { set: 'bound', values: ['tap0', MAC] },
    { set: 'bound', values: ['gone0', '52:54:00:00:00:99'] },
    { set: 'macs', values: [MAC] },
    { set: 'macs', values: ['52:54:00:00:00:99'] },
    { set: 'addr4', values: ['gone0', '10.0.1.9'] },
  ];
  t.strictSame(
    staleBindings('strict', held, (p) => p === 'tap0').map((b) => `${b.set} ${b.key}`),
    ['ports "gone0"', 'bound "gone0" . 52:54:00:00:00:99', 'macs 52:54:00:00:00:99', 'addr4 "gone0" . 10.0.1.9'],
  );
});

t.test('bindingScript: a delete never fails the transaction', async (t) => {
  const script = bindingScript(
    { l2: 'brmgr-br0', strict: 'brmgr-strict-br0' },
    {
      add: [{ table: 'strict', set: 'addr4', key: '"tap0" . 10.0.1.5' }],
      del: [
        { table: 'strict', set: 'addr4', key: '"tap0" . 10.0.1.4' },
        { table: 'l2', set: 'open', key: '"tap0"' },
      ],
    },
    { l2: false, strict: true },
  );
  t.equal(
    script,
    'add element bridge brmgr-strict-br0 addr4 { "tap0" . 10.0.1.4 }\n' +
      'delete element bridge brmgr-strict-br0 addr4 { "tap0" . 10.0.1.4 }\n' +
      'add element bridge brmgr-strict-br0 addr4 { "tap0" . 10.0.1.5 }\n',
    'each delete after an add of the same element; a table not there is left out',
  );
  t.equal(bindingScript({ l2: 'a', strict: 'b' }, { add: [], del: [] }, { l2: true, strict: true }), undefined);
});

t.test('binding events: bind when a port gets its guest or its addresses change, unbind when it goes', async (t) => {
  const cfg = parse(STRICT);
  const port = { port: 'veth0', addresses: ['10.0.1.10'] };
  const web = boundGuest(cfg, { ...port, mac: MAC, name: 'web' }, MAC)!;
  t.strictSame(web.addresses, guestAddresses(cfg, MAC, ['10.0.1.10']), 'strict: what the port may send from');
  t.equal(boundGuest(cfg, port, undefined), undefined, 'no MAC yet: no guest');
  t.equal(boundGuest(cfg, { ...port, removed: true }, MAC), undefined, 'gone: no guest');
  const now = Date.parse('2026-11-27T16:00:00Z');
  const [bind] = bindingEvents(undefined, web, now);
  t.match(bind, { event: 'bind', port: 'veth0', mac: MAC, level: 'strict', name: 'web' });
  t.match(formatBindingEvent(bind!), /^2026-11-27T16:00:00Z bind veth0 52:54:00:00:00:10 strict 10\.0\.1\.10,/);
  t.strictSame(bindingEvents(web, { ...web }, now), [], 'the same guest again: nothing');
  t.strictSame(
    bindingEvents(web, { ...web, addresses: [...web.addresses, '10.0.1.11'] }, now).map((e) => e.event),
    ['bind'],
    'a new address: bound again',
  );
  t.strictSame(
    bindingEvents(web, { ...web, mac: '52:54:00:00:00:99' }, now).map((e) => `${e.event} ${e.mac}`),
    [`unbind ${MAC}`, 'bind 52:54:00:00:00:99'],
    'another guest on the port: the first unbound',
  );
  t.match(bindingEvents(web, undefined, now), [{ event: 'unbind', port: 'veth0', mac: MAC }]);
  const router = boundGuest(cfg, { ...port, mac: '52:54:00:00:00:11' }, '52:54:00:00:00:11')!;
  t.strictSame(
    router,
    { port: 'veth0', mac: '52:54:00:00:00:11', addresses: ['10.0.1.10'], level: 'off' },
    'off: its own addresses, not enforced',
  );
});
