import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import { firewallIntent } from '../../src/firewall/policy.js';
import { renderNftables } from '../../src/firewall/nftables.js';
import { formerHolders, formerSubnets, inFormer, isFormerLease } from '../../src/plan/former.js';
import { bridgeAddresses } from '../../src/plan/link.js';
import { withFormer } from '../../src/plan/resolve.js';

const parse = (text: string) => parseConfig(text, '/etc/brmgr/brmgr0.conf', 'brmgr0');
const NOW = Date.parse('2026-12-06T10:00:00Z');
const at = (minutes: number) => new Date(NOW + minutes * 60_000).toISOString();
const cfg = parse('[ipv4]\naddress = 10.0.9.1/24\n');

t.test('former subnets: an earlier address outside the new subnet, kept while its leases last', async (t) => {
  const leases = [
    { mac: '52:54:00:00:00:01', ip: '10.0.8.20', expires: at(30) },
    { mac: '52:54:00:00:00:02', ip: '10.0.8.21', expires: at(50) },
    { mac: '52:54:00:00:00:03', ip: '10.0.9.22', expires: at(90) },
    { mac: '52:54:00:00:00:04', ip: '10.0.7.23', expires: at(-1) },
    { mac: '52:54:00:00:00:05', ip: '10.0.6.24' },
  ];
  const previous = ['10.0.8.1/24', '10.0.9.1/24', '10.0.7.1/24', '10.0.6.1/24', 'fd42::1/64'];
  t.strictSame(
    formerSubnets(cfg, previous, leases, NOW),
    [{ address: '10.0.8.1', prefix: 24, network: '10.0.8.0', until: NOW + 50 * 60_000 }],
    'the latest lease of 10.0.8.0/24 sets the end; ended and infinite leases keep nothing',
  );
  t.strictSame(formerSubnets(cfg, ['10.0.9.1/24'], leases, NOW), [], 'no change of subnet: nothing');
  const bridged = parse('[bridge]\nmode = bridged\nuplink = eth0\n');
  t.strictSame(formerSubnets(bridged, previous, leases, NOW), [], 'bridged: the LAN owns the addresses');
});

t.test('a former subnet: on the bridge, NATed, forwarded; gone once its guests have moved', async (t) => {
  const former = formerSubnets(cfg, ['10.0.8.1/24'], [{ ip: '10.0.8.20', expires: at(30) }], NOW);
  const kept = withFormer(cfg, former);
  t.strictSame(bridgeAddresses(kept), ['10.0.9.1/24', '10.0.8.1/24']);
  const rules = renderNftables(firewallIntent(kept));
  t.match(rules, /ip saddr 10\.0\.8\.0\/24 ip daddr != 10\.0\.8\.0\/24 masquerade/);
  // in the forward chain's half for what comes from the bridge
  t.match(
    rules,
    /chain from-bridge \{[\s\S]*?\n\t\t(oifgroup != (\{ [^}]* \}|\S+) )?ip saddr 10\.0\.8\.0\/24 accept\n/,
  );
  t.ok(isFormerLease(cfg, '10.0.8.20') && !isFormerLease(cfg, '10.0.9.20') && !isFormerLease(cfg, 'fd42::5'));
  t.notOk(isFormerLease({ ...cfg, mode: 'macvtap' }, '10.0.8.20'), 'macvtap: the LAN owns the addresses');
  const held = [
    { mac: '52:54:00:00:00:01', ip: '10.0.8.20', expires: at(30) },
    { mac: '52:54:00:00:00:02', ip: '10.0.9.21', expires: at(30) },
    { mac: '52:54:00:00:00:03', ip: '10.0.8.22', expires: at(-1) },
  ];
  t.strictSame([...formerHolders(former, held, NOW)], ['52:54:00:00:00:01'], 'who still holds one, not the ended');
  t.ok(inFormer(former, '10.0.8.99') && !inFormer(former, '10.0.9.99'));
  t.strictSame(withFormer(kept, []), cfg, 'none left: the config as it was');
});
