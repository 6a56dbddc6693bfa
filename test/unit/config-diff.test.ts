/** The one-line summary of what a reload changed, from the old and the new typed config. */
import t from 'tap';
import { changeSummary, configChanges } from '../../src/config/diff.js';
import { parseConfig } from '../../src/config/validate.js';

const conf = (text: string) => parseConfig(text, '/etc/brmgr/brmgr0.conf', 'brmgr0');
const BASE = '[ipv4]\naddress = 10.0.1.1/24\nlease_time = 1h\n';

t.test('a changed key: section, key, old → new', async (t) => {
  t.same(configChanges(conf(BASE), conf('[ipv4]\naddress = 10.0.1.1/24\nlease_time = 2h\n')), [
    '[ipv4] lease_time 1h → 2h',
  ]);
});

t.test('the example of the summary: a key changed and a host added', async (t) => {
  const after = conf(`${BASE.replace('1h', '2h')}[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n`);
  t.equal(changeSummary(conf(BASE), after), 'reload applied: [ipv4] lease_time 1h → 2h; [host.web] added');
  t.equal(changeSummary(after, conf(BASE)), 'reload applied: [ipv4] lease_time 2h → 1h; [host.web] removed');
});

t.test('the subnet as written; bridge keys under [bridge]; keys set and unset; defaults that follow', async (t) => {
  const after = conf('[bridge]\nmtu = 1400\nmode = routed\n[ipv4]\naddress = 10.0.2.1/25\nlease_time = 1h\n');
  t.same(configChanges(conf(BASE), after), [
    '[bridge] mode nat → routed',
    '[bridge] mtu (unset) → 1400',
    '[ipv4] address 10.0.1.1/24 → 10.0.2.1/25',
    '[ipv4] range 10.0.1.2-10.0.1.254 → 10.0.2.2-10.0.2.126',
    '[ipv4] max_leases 253 → 125',
  ]);
});

t.test('an [ipv6] section and a host key changed', async (t) => {
  const before = conf(`${BASE}[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n`);
  const after = conf(
    `${BASE}[ipv6]\naddress = fd00:1::1/64\n[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.11\nlease_time = 5m\n`,
  );
  t.same(configChanges(before, after), [
    '[ipv6] added',
    '[host.web] ip 10.0.1.10 → 10.0.1.11',
    '[host.web] lease_time (unset) → 5m',
  ]);
});

t.test('a comment, a default written out or the same config: no change', async (t) => {
  t.same(configChanges(conf(BASE), conf(`# a comment\n${BASE}dhcp = true\n[bridge]\nmode = nat\n`)), []);
  t.equal(changeSummary(conf(BASE), conf(BASE)), 'reload applied: no setting changed');
});
