/**
 * Bridge-family hooks see every bridge of the namespace: each hooked chain of brmgr's bridge tables begins
 * by returning frames that are not on its bridge, by the bridge's name (nft bridge meta) or by its ports;
 * with port security, a frame's port and MAC known to the MAC cap are this bridge's, and the guard is the
 * first rule of the chain the others jump to.
 */
import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import { l2Change, renderL2 } from '../../src/firewall/l2.js';
import { renderStrict } from '../../src/firewall/strict.js';
import { scopePort } from '../../src/firewall/l2.js';

const parse = (text: string) => parseConfig(text, '/etc/brmgr/br0.conf', 'br0');
const META = { bridgeMeta: true, ports: [] };
const PORTS = { bridgeMeta: false, ports: ['veth-b', 'veth-a', 'veth-a'] };

/** Each hooked chain's rules, from the text's second (filling) block, by chain name. */
function hooked(text: string, table: string): Record<string, string[]> {
  const fill = text.split(`table bridge ${table} {\n`)[2]!;
  const out: Record<string, string[]> = {};
  for (const name of ['prerouting', 'forward', 'input']) {
    const body = fill.split(`\tchain ${name} {\n`)[1];
    if (body)
      out[name] = body
        .split('\t}')[0]!
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
  }
  return out;
}

/** The first rule of the chain where the guard is, by chain name (the port-macs chain is jumped to). */
function guarded(text: string, table: string): Record<string, string> {
  const chains = hooked(text, table);
  const out: Record<string, string> = {};
  for (const [name, rules] of Object.entries(chains)) {
    if (rules[0]!.endsWith('jump port-macs')) {
      const first = text.split(`table bridge ${table} {\n`)[2]!.split('\tchain port-macs {\n')[1]!.split('\n')[0]!;
      out['port-macs'] = first.trim();
    } else out[name] = rules[0]!;
  }
  return out;
}

/** Each config, with the hooks its bridge table has: none that would have nothing to do. */
const HOOKS: Record<string, string[]> = {
  '': ['prerouting'],
  '[bridge]\nisolate_ports = true\nport_security = off\n': ['forward'],
  '[bridge]\nmode = bridged\nuplink = eth0\n': ['forward', 'prerouting'],
  '[bridge]\nport_security = strict\n': ['prerouting'],
};
const CONFIGS = Object.keys(HOOKS);

t.test('meta: every hooked chain of the bridge table begins with the bridge guard', async (t) => {
  for (const conf of CONFIGS) {
    const text = renderL2(parse(conf), { guard: true, scope: META })!;
    const chains = hooked(text, 'brmgr-br0');
    t.strictSame(Object.keys(chains).sort(), HOOKS[conf], conf || 'basic');
    for (const [name, rule] of Object.entries(guarded(text, 'brmgr-br0')))
      t.equal(rule, `meta ibrname != "br0" ${name === 'port-macs' ? 'accept' : 'return'}`, name);
    t.notMatch(text, /bridge-ports/, 'no port set');
  }
});

t.test('ports: the guard by the set, filled with the bridge ports in the same text', async (t) => {
  for (const conf of CONFIGS) {
    const text = renderL2(parse(conf), { guard: true, scope: PORTS })!;
    for (const [name, rule] of Object.entries(guarded(text, 'brmgr-br0')))
      t.equal(
        rule,
        name === 'forward'
          ? 'iifname != @bridge-ports oifname != @bridge-ports return'
          : `iifname != @bridge-ports ${name === 'port-macs' ? 'accept' : 'return'}`,
        `${conf || 'basic'}: ${name}${name === 'forward' ? ', either port known' : ''}`,
      );
    t.match(text, /\tset bridge-ports \{\n\t\ttypeof iifname\n/);
    t.match(
      text,
      /\nflush set bridge brmgr-br0 bridge-ports\nadd element bridge brmgr-br0 bridge-ports \{ "veth-a", "veth-b" \}\n$/,
      'flushed, then only this bridge’s ports, each once',
    );
  }
  const none = renderL2(parse(''), { guard: true, scope: { bridgeMeta: false, ports: [] } })!;
  t.match(none, /flush set bridge brmgr-br0 bridge-ports\n$/, 'no ports: an empty set, no empty element list');
});

t.test('strict: its bridge table guarded too; its inet table takes only what comes through the bridge', async (t) => {
  const cfg = parse('[bridge]\nport_security = strict\n');
  for (const [scope, guard] of [
    [META, 'meta ibrname != "br0" return'],
    [PORTS, 'iifname != @bridge-ports return'],
  ] as const) {
    const text = renderStrict(cfg, [], scope)!;
    const pre = text
      .split('\tchain prerouting {\n')[2]!
      .split('\t}')[0]!
      .trim()
      .split('\n')
      .map((r) => r.trim());
    // the strict ports' own frames pass first: only this bridge's are in bound4 and bound6
    t.match(pre.slice(0, 2).join('\n'), /@bound4 .* accept\n.*@bound6 .* accept/, 'its strict ports’ frames first');
    t.equal(pre[2], guard, 'then the bridge table’s prerouting guard');
    t.match(text, /hook prerouting priority dstnat \+ 10; policy accept;\n\t\tiifname "br0" meta mark/);
  }
  t.match(renderStrict(cfg, [], PORTS)!, /add element bridge brmgr-strict-br0 bridge-ports \{ "veth-a", "veth-b" \}/);
});

t.test('l2Change passes the scope to both tables', async (t) => {
  const change = l2Change(parse('[bridge]\nport_security = strict\n'), undefined, false, PORTS)!;
  t.equal(change.text.match(/iifname != @bridge-ports /g)?.length, 2, 'its one hooked chain and strict’s one');
});

t.test('scopePort: the port in each table that exists; a port gone leaves both', async (t) => {
  const strict = parse('[bridge]\nport_security = strict\n');
  t.equal(
    scopePort(strict, 'tap1', true),
    'add element bridge brmgr-br0 bridge-ports { "tap1" }\nadd element bridge brmgr-strict-br0 bridge-ports { "tap1" }\n',
  );
  const gone = scopePort(strict, 'tap1', false);
  t.match(gone, /add element bridge brmgr-br0 bridge-ports \{ "tap1" \}\ndelete element bridge brmgr-br0/);
  t.equal(gone.match(/delete element/g)?.length, 2);
  t.equal(scopePort(parse('[bridge]\nport_security = off\n'), 'tap1', true), '', 'nothing without a bridge table');
});
