/** dnsmasq's DHCP log lines → dhcp-script style lease events (add, old, del). */
import t from 'tap';
import { formatLeaseEvent, hookInvocation, LeaseTable, leaseMs } from '../../src/dnsmasq/lease-events.js';
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

t.test('the lease file at start: old for live leases, del for ended ones, DHCPv6 ignored', async (t) => {
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
  t.same(brief(events), ['old 10.0.1.100 startup', 'del 10.0.1.101 expired', 'old 10.0.1.102 startup']);
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
