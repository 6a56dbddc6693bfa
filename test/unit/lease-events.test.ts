/** dnsmasq's DHCP log lines → dhcp-script style lease events (add, old, del). */
import t from 'tap';
import {
  formatLeaseEvent,
  hookInvocation,
  LeaseTable,
  leaseMs,
  sightingEvent,
  snoopedEvent,
} from '../../src/dnsmasq/lease-events.js';
import { parseDnsmasqLine } from '../../src/dnsmasq/log.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-27T16:00:00Z');
const MAC = '52:54:00:aa:00:01';

const feed = (table: LeaseTable, line: string, now = T0) => table.onLog(parseDnsmasqLine(line), now);
const brief = (events: { event: string; ip: string; reason: string }[]) =>
  events.map((e) => `${e.event} ${e.ip} ${e.reason}`);

t.test('lease times', async (t) => {
  t.equal(leaseMs('1h'), HOUR);
  t.equal(leaseMs('30m'), 30 * 60_000);
  t.equal(leaseMs('3600'), HOUR);
  t.equal(leaseMs('2d'), 48 * HOUR);
  t.equal(leaseMs('infinite'), undefined);
});

t.test('a new lease is add, its renewal old, its release del', async (t) => {
  const table = new LeaseTable(() => HOUR);
  t.same(feed(table, `dnsmasq-dhcp[7]: DHCPDISCOVER(br0) ${MAC}`), [], 'a discover changes nothing');
  t.same(feed(table, `dnsmasq-dhcp[7]: DHCPOFFER(br0) 10.0.1.100 ${MAC}`), [], 'nor an offer');
  t.same(feed(table, `dnsmasq-dhcp[7]: DHCPREQUEST(br0) 10.0.1.100 ${MAC}`), [], 'nor a request');
  t.same(feed(table, `dnsmasq-dhcp[7]: DHCPACK(br0) 10.0.1.100 ${MAC} guest1`), [
    {
      time: '2026-11-27T16:00:00.000Z',
      event: 'add',
      mac: MAC,
      ip: '10.0.1.100',
      hostname: 'guest1',
      reason: 'ack',
      kind: 'dhcp',
      expires: '2026-11-27T17:00:00.000Z',
    },
  ]);
  const renewed = feed(table, `dnsmasq-dhcp[7]: DHCPACK(br0) 10.0.1.100 ${MAC} guest1`, T0 + HOUR / 2);
  t.same(brief(renewed), ['old 10.0.1.100 renew'], 'the same address again is a renewal');
  t.equal(renewed[0]!.expires, '2026-11-27T17:30:00.000Z', 'that moves its end');
  t.same(feed(table, `dnsmasq-dhcp[7]: DHCPRELEASE(br0) 10.0.1.100 ${MAC} unknown lease`), [], 'an unknown lease');
  const released = feed(table, `dnsmasq-dhcp[7]: DHCPRELEASE(br0) 10.0.1.100 ${MAC}`);
  t.same(brief(released), ['del 10.0.1.100 release']);
  t.equal(released[0]!.hostname, 'guest1', 'del names the host, as dnsmasq does');
  t.same(feed(table, `dnsmasq-dhcp[7]: DHCPRELEASE(br0) 10.0.1.100 ${MAC}`), [], 'released once only');
  t.same(brief(feed(table, `dnsmasq-dhcp[7]: DHCPACK(br0) 10.0.1.100 ${MAC}`)), ['add 10.0.1.100 ack']);
});

t.test('another address for the same MAC (a new static host) is del of the old, then add', async (t) => {
  const table = new LeaseTable(() => HOUR);
  feed(table, `DHCPACK(br0) 10.0.1.100 ${MAC} guest1`);
  t.same(feed(table, `DHCPNAK(br0) 10.0.1.100 ${MAC} static lease available`), [], 'a NAK changes no lease');
  t.same(brief(feed(table, `DHCPACK(br0) 10.0.1.20 ${MAC} x`)), ['del 10.0.1.100 moved', 'add 10.0.1.20 ack']);
  t.equal(table.get(MAC)?.ip, '10.0.1.20');
});

t.test('a DHCPACK answering a DHCPINFORM is no lease', async (t) => {
  const table = new LeaseTable(() => HOUR);
  feed(table, `DHCPINFORM(br0) 10.0.1.7 ${MAC}`);
  t.same(feed(table, `DHCPACK(br0) 10.0.1.7 ${MAC}`), []);
});

t.test('DHCPDECLINE drops the lease; DHCPv6 and other lines are not IPv4 lease events', async (t) => {
  const table = new LeaseTable(() => HOUR);
  feed(table, `DHCPACK(br0) 10.0.1.100 ${MAC}`);
  t.same(brief(feed(table, `DHCPDECLINE(br0) 10.0.1.100 ${MAC}`)), ['del 10.0.1.100 decline']);
  t.same(feed(table, 'dnsmasq-dhcp[7]: DHCPREPLY(br0) fd42::1000 00:01:00:01:2a:2b:2c:2d:52:54:00:aa:00:01 g'), []);
  t.same(feed(table, 'dnsmasq[7]: query[A] web.lab.test from 10.0.1.100'), []);
  t.same(feed(table, 'dnsmasq-dhcp[7]: DHCP, IP range 10.0.1.100 -- 10.0.1.150, lease time 1h'), []);
});

t.test('dnsmasq logs no expiry: the table says del once a lease has ended', async (t) => {
  const table = new LeaseTable(() => HOUR);
  feed(table, `DHCPACK(br0) 10.0.1.100 ${MAC} a`);
  feed(table, 'DHCPACK(br0) 10.0.1.101 52:54:00:aa:00:02 b', T0 + 10_000);
  t.equal(table.nextExpiry(), T0 + HOUR);
  t.same(table.expire(T0 + HOUR - 1), [], 'nothing before its end');
  const expired = table.expire(T0 + HOUR);
  t.same(brief(expired), ['del 10.0.1.100 expired']);
  t.equal(expired[0]!.expires, undefined, 'a del carries no end');
  t.equal(table.nextExpiry(), T0 + HOUR + 10_000);
  // the lease file says the client asked for less
  table.expiresAt('52:54:00:aa:00:02', '10.0.1.101', T0 + 120_000);
  t.equal(table.nextExpiry(), T0 + 120_000);
  table.expiresAt('52:54:00:aa:00:02', '10.0.1.199', T0);
  t.equal(table.nextExpiry(), T0 + 120_000, 'another address of that MAC is not its lease');
  t.same(brief(table.expire(T0 + HOUR)), ['del 10.0.1.101 expired']);
  t.equal(table.nextExpiry(), undefined);

  const infinite = new LeaseTable(() => undefined);
  t.equal(feed(infinite, `DHCPACK(br0) 10.0.1.100 ${MAC}`)[0]!.expires, undefined, 'an infinite lease has no end');
  t.equal(infinite.nextExpiry(), undefined);
});

t.test('the lease file at start: old for live leases, del for ended ones, DHCPv6 too', async (t) => {
  const table = new LeaseTable(() => HOUR);
  const events = table.seed(
    [
      { mac: MAC, ip: '10.0.1.100', hostname: 'a', expires: '2026-11-27T16:30:00.000Z' },
      { mac: '52:54:00:aa:00:02', ip: '10.0.1.101', expires: '2026-11-27T15:00:00.000Z' },
      { mac: '52:54:00:aa:00:03', ip: '10.0.1.102' },
      { ip: 'fd42::1000', duid: '00:01' },
    ],
    T0,
  );
  t.same(brief(events), [
    'old 10.0.1.100 startup',
    'del 10.0.1.101 expired',
    'old 10.0.1.102 startup',
    'old fd42::1000 startup',
  ]);
  t.same(events[3], {
    time: new Date(T0).toISOString(),
    event: 'old',
    ip: 'fd42::1000',
    reason: 'startup',
    kind: 'dhcpv6',
    duid: '00:01',
  });
  t.same(brief(feed(table, `DHCPACK(br0) 10.0.1.100 ${MAC} a`)), ['old 10.0.1.100 renew'], 'renewal of a known one');
});

t.test('the line format and the hook invocation (as dhcp-script)', async (t) => {
  const table = new LeaseTable(() => HOUR);
  const [add] = feed(table, `DHCPACK(br0) 10.0.1.10 ${MAC} web`);
  t.equal(formatLeaseEvent(add!), `2026-11-27T16:00:00Z add ${MAC} 10.0.1.10 web`);
  t.same(hookInvocation(add!, 'br0', 'lab.test', T0 + 60_000), {
    args: ['add', MAC, '10.0.1.10', 'web'],
    env: {
      DNSMASQ_INTERFACE: 'br0',
      DNSMASQ_DOMAIN: 'lab.test',
      DNSMASQ_LEASE_EXPIRES: String((T0 + HOUR) / 1000),
      DNSMASQ_TIME_REMAINING: '3540',
    },
  });
  const [noName] = feed(table, 'DHCPACK(br0) 10.0.1.11 52:54:00:aa:00:09');
  t.equal(formatLeaseEvent(noName!), '2026-11-27T16:00:00Z add 52:54:00:aa:00:09 10.0.1.11');
  t.same(hookInvocation(noName!, 'br0', undefined, T0).args, ['add', '52:54:00:aa:00:09', '10.0.1.11']);
  const [startup] = new LeaseTable(() => HOUR).seed([{ mac: MAC, ip: '10.0.1.10' }], T0);
  t.same(hookInvocation(startup!, 'br0', undefined, T0).env, { DNSMASQ_DATA_MISSING: '1' });
});

t.test('reconcile: what the lease file holds after dnsmasq dropped log lines', async (t) => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  const table = new LeaseTable(() => 3_600_000);
  table.onLog(
    { level: 'info', msg: '', source: 'dhcp', event: 'request', mac: '52:54:00:00:00:01', ip: '10.0.1.5' },
    now,
  );
  table.onLog({ level: 'info', msg: '', source: 'dhcp', event: 'ack', mac: '52:54:00:00:00:01', ip: '10.0.1.5' }, now);
  table.onLog({ level: 'info', msg: '', source: 'dhcp', event: 'ack', mac: '52:54:00:00:00:02', ip: '10.0.1.6' }, now);
  const later = now + 60_000;
  const events = table.reconcile(
    [
      { mac: '52:54:00:00:00:01', ip: '10.0.1.5', expires: new Date(now + 3_600_000).toISOString() },
      { mac: '52:54:00:00:00:03', ip: '10.0.1.7', hostname: 'new', expires: new Date(now + 3_600_000).toISOString() },
      { mac: '52:54:00:00:00:04', ip: '10.0.1.8', expires: new Date(now - 1000).toISOString() },
    ],
    later,
  );
  t.same(
    events.map((e) => `${e.event} ${e.mac} ${e.ip} ${e.reason}`),
    ['del 52:54:00:00:00:02 10.0.1.6 missed', 'add 52:54:00:00:00:03 10.0.1.7 missed'],
    'a lease gone meanwhile is del, one granted meanwhile add; a known one and an ended one nothing',
  );
  t.same(
    table.reconcile([], later + 1).map((e) => e.event),
    ['del', 'del'],
    'an emptied file: every lease del',
  );
});

const DUID = '00:01:00:01:32:a7:f6:be:ba:63:43:d5:b1:5e';
const v6lease = (ip: string, o: { iaid?: string; hostname?: string; ends?: number; duid?: string } = {}) => ({
  ip,
  ...(o.hostname ? { hostname: o.hostname } : {}),
  expires: new Date(o.ends ?? T0 + HOUR).toISOString(),
  duid: o.duid ?? DUID,
  iaid: o.iaid ?? '1138078046',
});

t.test('DHCPv6: a logged reply or release is told from the lease file, with DUID and IAID', async (t) => {
  const table = new LeaseTable(() => HOUR);
  t.same(feed(table, `dnsmasq-dhcp[7]: DHCPREPLY(br0) fd42::d085 ${DUID} g6`), [], 'the log line alone tells nothing');
  t.ok(table.awaitsFile(), 'it asks for the lease file');
  t.same(table.settle6([], T0 + 300), [], 'a file not written yet: nothing');
  t.ok(table.awaitsFile(), 'still waiting');
  const [add, ...more] = table.settle6([v6lease('fd42::d085', { hostname: 'g6' })], T0 + 1000);
  t.same(more, []);
  t.same(add, {
    time: new Date(T0 + 1000).toISOString(),
    event: 'add',
    ip: 'fd42::d085',
    hostname: 'g6',
    reason: 'ack',
    kind: 'dhcpv6',
    expires: new Date(T0 + HOUR).toISOString(),
    duid: DUID,
    iaid: '1138078046',
  });
  t.notOk(table.awaitsFile(), 'nothing awaited once found');
  t.equal(formatLeaseEvent(add!), `2026-11-27T16:00:01Z add ${DUID} fd42::d085 g6`, 'the DUID in the MAC’s place');
  t.same(hookInvocation(add!, 'br0', 'lab.test', T0 + 1000, '00:01:00:01:aa'), {
    args: ['add', DUID, 'fd42::d085', 'g6'],
    env: {
      DNSMASQ_INTERFACE: 'br0',
      DNSMASQ_DOMAIN: 'lab.test',
      DNSMASQ_IAID: '1138078046',
      DNSMASQ_SERVER_DUID: '00:01:00:01:aa',
      DNSMASQ_LEASE_EXPIRES: String((T0 + HOUR) / 1000),
      DNSMASQ_TIME_REMAINING: '3599',
    },
  });

  t.same(
    table.settle6([v6lease('fd42::d085', { hostname: 'g6', ends: T0 + 2 * HOUR })], T0 + 2000),
    [],
    'a read with no reply logged: nothing said',
  );
  t.equal(table.nextExpiry(), T0 + 2 * HOUR, 'its end follows the file');
  feed(table, `DHCPREPLY(br0) fd42::d085 ${DUID} g6`, T0 + HOUR);
  const renewed = table.settle6([v6lease('fd42::d085', { hostname: 'g6', ends: T0 + 3 * HOUR })], T0 + HOUR);
  t.same(brief(renewed), ['old fd42::d085 renew'], 'a reply for a held address is a renewal');

  // a second address for the same client (another IA): a lease of its own
  feed(table, `DHCPREPLY(br0) fd42::77 ${DUID} g6`, T0 + HOUR);
  const both = [
    v6lease('fd42::d085', { ends: T0 + 3 * HOUR }),
    v6lease('fd42::77', { iaid: 'T5', ends: T0 + 2 * HOUR }),
  ];
  t.same(brief(table.settle6(both, T0 + HOUR)), ['add fd42::77 ack']);

  t.same(feed(table, `DHCPRELEASE(br0) ${DUID}`, T0 + HOUR + 10), []);
  t.ok(table.awaitsFile());
  const released = table.settle6([], T0 + HOUR + 500);
  t.same(brief(released), ['del fd42::d085 release', 'del fd42::77 release'], 'a release: del of each address it held');
  t.equal(released[1]!.iaid, 'T5', 'with its IAID');
  t.same(table.told(T0), [], 'none held');
});

t.test('DHCPv6: ends, leases gone without a line, replies the file never shows', async (t) => {
  const table = new LeaseTable(() => HOUR);
  table.seed(
    [v6lease('fd42::1', { ends: T0 + 60_000 }), v6lease('fd42::2', { duid: '00:03:00:01:52:54:00:00:00:02' })],
    T0,
  );
  t.equal(table.nextExpiry(), T0 + 60_000);
  t.same(brief(table.expire(T0 + 60_000)), ['del fd42::1 expired'], 'an ended lease is del');
  t.same(brief(table.settle6([], T0 + 61_000)), ['del fd42::2 missed'], 'one gone from the file, no line said why');
  t.same(brief(table.settle6([v6lease('fd42::3')], T0 + 62_000)), ['add fd42::3 missed'], 'one new there, unlogged');
  t.same(
    brief(table.settle6([v6lease('fd42::3', { duid: '00:03:00:01:52:54:00:00:00:09' })], T0 + 63_000)),
    ['del fd42::3 missed', 'add fd42::3 missed'],
    'the address now another client’s: del, then add',
  );
  feed(table, `DHCPREPLY(br0) fd42::9 ${DUID}`, T0);
  const held = [v6lease('fd42::3', { duid: '00:03:00:01:52:54:00:00:00:09' })];
  table.settle6(held, T0 + 5_000);
  t.ok(table.awaitsFile(), 'a reply waits for the file…');
  table.settle6(held, T0 + 10_001);
  t.notOk(table.awaitsFile(), '…10 s at most');
  t.same(
    brief(
      table.reconcile([v6lease('fd42::3', { duid: '00:03:00:01:52:54:00:00:00:09' }), v6lease('fd42::4')], T0 + 70_000),
    ),
    ['add fd42::4 missed'],
    'reconcile after lost log lines covers DHCPv6',
  );
  t.same(
    table.told(T0 + 70_000).map((e) => `${e.event} ${e.ip} ${e.reason}`),
    ['old fd42::3 reload', 'old fd42::4 reload'],
    'told: old for each lease held',
  );
});

t.test('told: old for every IPv4 and DHCPv6 lease, as dnsmasq at a SIGHUP', async (t) => {
  const table = new LeaseTable(() => HOUR);
  feed(table, `DHCPACK(br0) 10.0.1.10 ${MAC} web`);
  table.seed([v6lease('fd42::5')], T0);
  const told = table.told(T0 + 1000);
  t.same(
    told.map((e) => formatLeaseEvent(e)),
    [`2026-11-27T16:00:01Z old ${MAC} 10.0.1.10 web`, `2026-11-27T16:00:01Z old ${DUID} fd42::5`],
  );
  t.same(hookInvocation(told[0]!, 'br0', undefined, T0 + 1000).env.DNSMASQ_INTERFACE, 'br0', 'the bridge is known');
  t.notOk('DNSMASQ_DATA_MISSING' in hookInvocation(told[0]!, 'br0', undefined, T0 + 1000).env);
});

t.test('an address snooped on a bridged-mode bridge', async (t) => {
  const seen = snoopedEvent(T0, 'add', { mac: MAC, ip: '192.168.50.101', how: 'dhcp' }, 'seen');
  t.same(seen, {
    time: new Date(T0).toISOString(),
    event: 'add',
    mac: MAC,
    ip: '192.168.50.101',
    reason: 'seen',
    kind: 'dhcp',
    source: 'snooped',
  });
  t.equal(formatLeaseEvent(seen), `2026-11-27T16:00:00Z add ${MAC} 192.168.50.101`);
  t.same(hookInvocation(seen, 'br0', 'lab.test', T0), {
    args: ['add', MAC, '192.168.50.101'],
    env: { DNSMASQ_INTERFACE: 'br0', BRMGR_LEASE_SOURCE: 'snooped', BRMGR_LEASE_KIND: 'dhcp' },
  });
  t.equal(snoopedEvent(T0, 'add', { mac: MAC, ip: '2001:db8::5', how: 'nd' }, 'seen').kind, 'slaac');
});

t.test("a guest's IPv6 address in the bridge's neighbour table", async (t) => {
  const seen = sightingEvent(
    T0,
    'add',
    { mac: MAC, ip: 'fd42::5054:ff:feaa:1', kind: 'slaac', source: 'neighbour' },
    'seen',
  );
  t.same(seen, {
    time: new Date(T0).toISOString(),
    event: 'add',
    mac: MAC,
    ip: 'fd42::5054:ff:feaa:1',
    reason: 'seen',
    kind: 'slaac',
    source: 'neighbour',
  });
  t.equal(formatLeaseEvent(seen), `2026-11-27T16:00:00Z add ${MAC} fd42::5054:ff:feaa:1`, 'the MAC, as for IPv4');
  t.same(hookInvocation(seen, 'br0', 'lab.test', T0), {
    args: ['add', MAC, 'fd42::5054:ff:feaa:1'],
    env: { DNSMASQ_INTERFACE: 'br0', BRMGR_LEASE_SOURCE: 'neighbour', BRMGR_LEASE_KIND: 'slaac' },
  });
  const table = new LeaseTable(() => HOUR);
  table.onLog({ level: 'info', msg: '', source: 'dhcp', event: 'reply', ip: 'fd42::d085', duid: DUID }, T0);
  t.ok(table.isLease6('fd42::d085'), 'an address a DHCPv6 reply was logged for is a lease before the file shows it');
  t.notOk(table.isLease6('fd42::5054:ff:feaa:1'), 'one nobody leased is not');
  table.settle6([v6lease('fd42::d085')], T0 + 500);
  t.ok(table.isLease6('fd42::d085'), 'and still once the file holds it');
});
