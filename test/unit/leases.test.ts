import t from 'tap';
import { formatLeases, parseLeases, serverDuid } from '../../src/host/leases.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => String(Math.floor(ms / 1000));

t.test('parseLeases: what dnsmasq writes', async (t) => {
  const text = `${at(NOW + 3600_000)} 52:54:00:00:00:10 10.0.1.42 guest1 01:52:54:00:00:00:10
0 52:54:00:AA:00:11 10.0.1.11 * *
duid 00:01:00:01:2c:3e:4f:50:52:54:00:00:00:01
${at(NOW + 3600_000)} 1234 fd42:0:1::1234 guest1 00:01:00:01
${at(NOW + 3600_000)} T77 fd42:0:1::77 * 00:01:00:02
`;
  t.same(parseLeases(text, NOW), [
    { mac: '52:54:00:00:00:10', ip: '10.0.1.42', hostname: 'guest1', expires: new Date(NOW + 3600_000).toISOString() },
    { mac: '52:54:00:aa:00:11', ip: '10.0.1.11' },
    {
      ip: 'fd42:0:1::1234',
      hostname: 'guest1',
      expires: new Date(NOW + 3600_000).toISOString(),
      duid: '00:01:00:01',
      iaid: '1234',
    },
    { ip: 'fd42:0:1::77', expires: new Date(NOW + 3600_000).toISOString(), duid: '00:01:00:02', iaid: 'T77' },
  ]);
  t.equal(serverDuid(text), '00:01:00:01:2c:3e:4f:50:52:54:00:00:00:01', "the server's DUID");
  t.equal(serverDuid('0 52:54:00:aa:00:11 10.0.1.11 * *\n'), undefined, 'none before dnsmasq served DHCPv6');
});

t.test('parseLeases: a line whose fields are not a lease is left out', async (t) => {
  const good = `${at(NOW + 60_000)} 52:54:00:00:00:10 10.0.1.42 guest1 *`;
  const bad = [
    '1 2 3',
    '1 2 3 4 5',
    `soon 52:54:00:00:00:10 10.0.1.42 guest1 *`,
    `-5 52:54:00:00:00:10 10.0.1.42 guest1 *`,
    `${at(NOW + 60_000)} 52:54:00:00:00 10.0.1.42 guest1 *`,
    `${at(NOW + 60_000)} 52:54:00:00:00:zz 10.0.1.42 guest1 *`,
    `${at(NOW + 60_000)} 52:54:00:00:00:10 10.0.1.420 guest1 *`,
    `${at(NOW + 60_000)} 52:54:00:00:00:10 fd42::1 guest1 *`,
    `${at(NOW + 60_000)} 52:54:00:00:00:10 10.0.1.42 guest.lab.test *`,
    `${at(NOW + 60_000)} 52:54:00:00:00:10 10.0.1.42 -guest *`,
    `${at(NOW + 60_000)} 52:54:00:00:00:10 10.0.1.42 gu;est *`,
    `${at(NOW + 60_000)} 52:54:00:00:00:10 10.0.1.42`,
    'garbage',
    '',
  ];
  t.same(
    parseLeases([...bad, good].join('\n'), NOW).map((l) => l.ip),
    ['10.0.1.42'],
    'only the well-formed line',
  );
  const v6bad = [
    'duid 00:01',
    `${at(NOW + 60_000)} 52:54:00:00:00:10 fd42::1 guest1 *`,
    `${at(NOW + 60_000)} 12 10.0.1.5 guest1 *`,
  ];
  t.same(parseLeases(v6bad.join('\n'), NOW), [], 'after the duid line: an IAID and an IPv6 address');
});

t.test('parseLeases: ended leases, with and without now', async (t) => {
  const text = `${at(NOW - 86400_000)} 52:54:00:00:00:01 10.0.1.2 old *
${at(NOW)} 52:54:00:00:00:02 10.0.1.3 ending *
${at(NOW + 1000)} 52:54:00:00:00:03 10.0.1.4 live *
0 52:54:00:00:00:04 10.0.1.5 forever *
duid 00:01
${at(NOW - 1000)} 5 fd42::5 old6 00:02
0 6 fd42::6 forever6 00:02
`;
  t.same(
    parseLeases(text, NOW).map((l) => l.hostname),
    ['live', 'forever', 'forever6'],
    'an ended lease is left out; 0 is infinite',
  );
  t.equal(parseLeases(text).length, 6, 'without now, every lease');
  t.equal(parseLeases(text, NOW).find((l) => l.hostname === 'forever')?.expires, undefined, 'infinite: no end');
});

t.test('formatLeases: read back as written', async (t) => {
  const ends = Math.floor((NOW + 3600_000) / 1000) * 1000;
  const text = formatLeases([
    { mac: '52:54:00:00:00:10', ip: '10.0.1.42', hostname: 'guest1', expires: ends },
    { mac: '52:54:00:00:00:11', ip: '10.0.1.11' },
  ]);
  t.equal(text, `${ends / 1000} 52:54:00:00:00:10 10.0.1.42 guest1 *\n0 52:54:00:00:00:11 10.0.1.11 * *\n`);
  t.same(parseLeases(text, NOW), [
    { mac: '52:54:00:00:00:10', ip: '10.0.1.42', hostname: 'guest1', expires: new Date(ends).toISOString() },
    { mac: '52:54:00:00:00:11', ip: '10.0.1.11' },
  ]);
});
