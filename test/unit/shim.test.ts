/**
 * Where the nftables backend's shim goes: one decision (shimNeed) from what iptables-save or the nftables
 * ruleset shows of the filter table's INPUT and FORWARD, and the plan it makes.
 */
import t from 'tap';
import type { NftObject } from '../../src/host/nftables.js';
import { iptablesHost, parseIptablesSave, seenInRuleset, shimNeed } from '../../src/firewall/iptables.js';
import { firewallIntent } from '../../src/firewall/policy.js';
import { shimPlan } from '../../src/firewall/shim.js';
import { parseConfig } from '../../src/config/validate.js';

const BRIDGE = 'br0';
const filter = (...lines: string[]) =>
  `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${lines.join('\n')}\nCOMMIT\n`;
const need = (text: string) => shimNeed(parseIptablesSave(text, BRIDGE));

t.test('shimNeed: nothing in the filter table that could refuse a guest, no shim', async (t) => {
  t.strictSame(need(''), {}, 'no iptables tables at all');
  t.strictSame(need('*mangle\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n'), {}, 'no filter table');
  t.strictSame(need(filter()), {}, 'INPUT and FORWARD empty, policy ACCEPT');
  t.strictSame(need(filter('-A OUTPUT -j DROP')), {}, 'OUTPUT is no guest packet’s way');
  t.strictSame(
    need(
      filter(
        `:BRMGR-${BRIDGE}-FWD - [0:0]`,
        `-A INPUT -i ${BRIDGE} -j BRMGR-${BRIDGE}-IN`,
        `-A FORWARD -j BRMGR-${BRIDGE}-FWD`,
      ),
    ),
    {},
    "this bridge's own jumps (an older brmgr's shim) do not count",
  );
  t.strictSame(need(filter('-A FORWARD -j BRMGR-lan-FWD')), {}, "nor another bridge's");
});

t.test('shimNeed: a policy other than ACCEPT, any rule, or DOCKER-USER needs it, each hook on its own', async (t) => {
  t.strictSame(need(filter().replace(':FORWARD ACCEPT', ':FORWARD DROP')), {
    forward: 'filter FORWARD has policy DROP',
  });
  t.strictSame(
    need(filter('-A FORWARD -s 10.9.0.0/16 -j ACCEPT')),
    { forward: 'filter FORWARD has a rule' },
    'even an accept',
  );
  t.strictSame(
    need(filter('-A FORWARD -j BRMGR-br0-FWD', '-A FORWARD -j REJECT', '-A FORWARD -j LOG')),
    { forward: 'filter FORWARD has 2 rules' },
    "the host's rules beside brmgr's jump",
  );
  t.strictSame(need(filter(':DOCKER-USER - [0:0]')), { forward: "Docker's DOCKER-USER chain is there" });
  t.strictSame(
    need(filter().replace(':INPUT ACCEPT', ':INPUT DROP')),
    { input: 'filter INPUT has policy DROP' },
    'ufw: INPUT alone',
  );
  t.strictSame(need(filter('-A INPUT -p tcp --dport 22 -j ACCEPT', '-A FORWARD -j DROP')), {
    input: 'filter INPUT has a rule',
    forward: 'filter FORWARD has a rule',
  });
});

t.test('seenInRuleset tells the shim only where the chains’ policies decide it', async (t) => {
  const chain = (family: string, table: string, name: string, policy?: string): NftObject => ({
    chain: { family, table, name, ...(policy ? { hook: name.toLowerCase(), policy } : {}) },
  });
  const none = seenInRuleset([{ table: { family: 'ip', name: 'mangle' } }], 4, BRIDGE);
  t.strictSame(none && shimNeed(none), {}, 'no filter table: certain, no shim, no iptables-save needed');
  const drop = seenInRuleset(
    [{ table: { family: 'ip', name: 'filter' } }, chain('ip', 'filter', 'FORWARD', 'drop')],
    4,
    BRIDGE,
  );
  t.strictSame(drop && shimNeed(drop), { forward: 'filter FORWARD has policy DROP' }, 'a DROP policy decides it');
  t.equal(
    seenInRuleset([chain('ip', 'filter', 'FORWARD', 'accept')], 4, BRIDGE),
    undefined,
    'ACCEPT: the rules decide, which the listing lacks: iptables-save tells',
  );
  const ip6 = seenInRuleset([chain('ip', 'filter', 'FORWARD', 'drop')], 6, BRIDGE);
  t.strictSame(ip6 && shimNeed(ip6), {}, "IPv4's DROP is not IPv6's");
});

t.test('shimPlan: only the chains the host needs, hung where Docker wants them', async (t) => {
  const intent = firewallIntent(parseConfig('[ipv4]\naddress = 10.0.1.1/24\n', `/etc/brmgr/${BRIDGE}.conf`, BRIDGE));
  const plan = (text: string) => shimPlan(intent, 4, iptablesHost(parseIptablesSave(text, BRIDGE)));
  t.strictSame(plan(filter()), { chains: {}, jumps: [] }, 'nothing: no table, no chain, no jump');
  const fwd = plan(filter(':DOCKER-USER - [0:0]'));
  t.strictSame(Object.keys(fwd.chains.filter ?? {}), [`BRMGR-${BRIDGE}-FWD`]);
  t.strictSame(fwd.jumps, [{ table: 'filter', chain: 'DOCKER-USER', rule: `-j BRMGR-${BRIDGE}-FWD` }]);
  const input = plan(filter().replace(':INPUT ACCEPT', ':INPUT DROP'));
  t.strictSame(Object.keys(input.chains.filter ?? {}), [`BRMGR-${BRIDGE}-IN`]);
  t.strictSame(input.jumps, [{ table: 'filter', chain: 'INPUT', rule: `-i ${BRIDGE} -j BRMGR-${BRIDGE}-IN` }]);
});
