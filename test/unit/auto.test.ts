import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAutoSubnet, recordedSubnet } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/validate.js';
import { pickSubnet, takenSubnets } from '../../src/plan/auto.js';
import { overlaps } from '../../src/net/addr.js';

const parse = (text: string, autoSubnet?: string) =>
  parseConfig(text, '/etc/brmgr/br0.conf', 'br0', autoSubnet ? { autoSubnet } : {});

t.test('address = auto parses with a stand-in subnet, then with the chosen one', async (t) => {
  t.equal(parse('[ipv4]\naddress = auto\n').ipv4.auto, true);
  const c = parse('[ipv4]\naddress = auto\n', '10.42.7.1/24');
  t.match(c.ipv4, {
    auto: true,
    address: '10.42.7.1',
    prefix: 24,
    network: '10.42.7.0',
    ranges: [{ from: '10.42.7.2', to: '10.42.7.254' }],
  });
  t.equal(
    parse('[ipv4]\naddress = 10.0.5.1/24\n', '10.42.7.1/24').ipv4.address,
    '10.0.5.1',
    'a record does not override a fixed address',
  );
  t.throws(() => parse('[ipv4]\naddress = auto\nrange = 10.0.1.2-10.0.1.9\n'), /give a fixed address to set a range/);
  t.throws(
    () => parse('[ipv4]\naddress = auto\n[host.web]\nmac = 52:54:00:00:00:01\nip = 10.0.1.5\n'),
    /give a fixed address for static hosts/,
  );
});

t.test('pickSubnet: free, private, stable, different per bridge', async (t) => {
  const a = pickSubnet('br0', 'm1', []);
  t.match(a, /^10\.\d+\.\d+\.1\/24$/);
  t.equal(pickSubnet('br0', 'm1', []), a, 'the same inputs pick the same subnet');
  t.not(pickSubnet('br1', 'm1', []), a, 'another bridge starts elsewhere');
  const net = a!.replace(/\.1\/24$/, '.0');
  const b = pickSubnet('br0', 'm1', [[net, 24]])!;
  t.not(b, a, 'a taken subnet is skipped');
  t.notOk(overlaps(b.split('/')[0]!, 24, net, 24));
  t.equal(pickSubnet('br0', 'm1', [['10.0.0.0', 8]]), undefined, 'none left when 10/8 is taken');
  const taken = takenSubnets(
    {
      links: [],
      addrs: [{ ifname: 'eth0', family: 'inet', local: '10.1.2.3', prefixlen: 16, scope: 'global' }],
      routes: [
        { dst: '10.200.0.0/16', dev: 'wg0' },
        { dst: 'default', dev: 'eth0' },
      ],
    },
    [parse('[ipv4]\naddress = 10.9.9.1/24\n')],
  );
  t.strictSame(
    taken,
    [
      ['10.1.2.3', 16],
      ['10.200.0.0', 16],
      ['10.9.9.0', 24],
    ],
    'addresses, routes and other bridges count',
  );
});

t.test('the recorded auto subnet is trusted only in the form brmgr writes', async (t) => {
  t.ok(isAutoSubnet('10.42.7.1/24'));
  t.ok(isAutoSubnet('10.255.0.1/24'));
  for (const bad of [
    '127.0.0.1/8',
    '10.9.9.1/5',
    '224.1.1.1/24',
    '0.0.0.1/8',
    '10.1.2.3/24',
    '10.300.1.1/24',
    '10.1.1.1/24\nx',
    '',
  ])
    t.notOk(isAutoSubnet(bad), JSON.stringify(bad));
  const dir = mkdtempSync(join(tmpdir(), 'brmgr-auto-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { BRMGR_STATE_DIR: dir };
  writeFileSync(join(dir, 'brmgr.br0.subnet'), '10.9.9.1/5\n');
  t.equal(recordedSubnet('br0', env), undefined, 'a record capturing 8.8.8.8 is not taken');
  writeFileSync(join(dir, 'brmgr.br0.subnet'), '10.42.7.1/24\n');
  t.equal(recordedSubnet('br0', env), '10.42.7.1/24', 'one brmgr wrote is');
});
