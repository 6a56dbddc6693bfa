/**
 * applyFirewall, removeFirewall and firewallDrift against a fake host: a Run that records every argv and
 * answers iptables-save, iptables-restore and nft from a small model of the host's tables, which starts from
 * `iptables-save` and `nft` output recorded in a throwaway network namespace (fixtures/firewall/: brmgr-pre
 * brought a bridge brt0 up there, nat mode, 10.0.1.1/24).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/validate.js';
import { Reverter } from '../../src/converge/reverter.js';
import {
  applyFirewall,
  firewallDrift,
  firewallRecord,
  hasRules,
  NO_FIREWALL,
  removeFirewall,
  type FirewallRecord,
  type IptablesFacts,
} from '../../src/firewall/index.js';
import { forwardChain, parseIptablesSave } from '../../src/firewall/iptables.js';
import { nftRuleset, nftShape } from '../../src/firewall/nftables.js';
import type { Run, RunResult } from '../../src/system/exec.js';

const BRIDGE = 'brt0';
const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', 'firewall', name), 'utf8');
const cfg = (firewall: string) =>
  parseConfig(
    `[bridge]\nmode = nat\nfirewall = ${firewall}\n[ipv4]\naddress = 10.0.1.1/24\n`,
    `/etc/brmgr/${BRIDGE}.conf`,
    BRIDGE,
  );
/** An nft-based iptables, no iptables-legacy tables, every tool installed. */
const FACTS: IptablesFacts = { defaultIsLegacy: () => false, legacyTables: () => new Set(), onPath: () => true };

// ------------------------------------------------------------------ the fake host

const BUILTIN: Record<string, string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
};
const TABLE_ORDER = ['mangle', 'filter', 'nat'];
interface Chain {
  policy: string;
  rules: string[];
}
/** iptables-nft's tables of one family: a table and a built-in chain exist in nftables once something used them. */
type Tables = Map<string, Map<string, Chain>>;

function parseTables(text: string): Tables {
  const tables: Tables = new Map();
  let table: Map<string, Chain> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      table = new Map();
      tables.set(line.slice(1), table);
    } else if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(' ');
      table!.set(name!, { policy: policy!, rules: [] });
    } else if (line.startsWith('-A ')) {
      const [, chain, ...rule] = line.split(' ');
      table!.get(chain!)!.rules.push(rule.join(' '));
    }
  }
  // what iptables-save prints of a built-in chain that nftables does not hold
  for (const [name, chains] of tables)
    for (const builtin of BUILTIN[name] ?? []) {
      const c = chains.get(builtin);
      if (c && !c.rules.length && c.policy === 'ACCEPT') chains.delete(builtin);
    }
  return tables;
}

function saveTables(tables: Tables): string {
  let out = '';
  for (const name of TABLE_ORDER.filter((n) => tables.has(n))) {
    const chains = tables.get(name)!;
    const builtins = BUILTIN[name]!.map((b) => [b, chains.get(b) ?? { policy: 'ACCEPT', rules: [] }] as const);
    const own = [...chains].filter(([c]) => !BUILTIN[name]!.includes(c)).sort(([a], [b]) => a.localeCompare(b));
    const all = [...builtins, ...own];
    out += `*${name}\n`;
    for (const [c, { policy }] of all) out += `:${c} ${policy} [0:0]\n`;
    for (const [c, { rules }] of all) for (const r of rules) out += `-A ${c} ${r}\n`;
    out += 'COMMIT\n';
  }
  return out;
}

/** iptables-restore --noflush: all of the input, or (a line that fails) none of it. */
function restoreTables(tables: Tables, input: string): Tables | string {
  const next: Tables = new Map(
    [...tables].map(([n, chains]) => [n, new Map([...chains].map(([c, ch]) => [c, { ...ch, rules: [...ch.rules] }]))]),
  );
  let name = '';
  const chain = (c: string) => {
    const chains = next.get(name)!;
    if (!chains.has(c) && BUILTIN[name]?.includes(c)) chains.set(c, { policy: 'ACCEPT', rules: [] });
    return chains.get(c);
  };
  for (const line of input.split('\n').filter((l) => l && l !== 'COMMIT')) {
    const [op, c, ...rest] = line.split(' ');
    if (op!.startsWith('*')) {
      name = op!.slice(1);
      if (!next.has(name)) next.set(name, new Map());
    } else if (op!.startsWith(':')) next.get(name)!.set(op!.slice(1), { policy: '-', rules: [] });
    else {
      const ch = chain(c!);
      if (!ch) return `iptables-restore: line "${line}": no chain ${c}`;
      if (op === '-A') ch.rules.push(rest.join(' '));
      else if (op === '-I') ch.rules.unshift(rest.slice(1).join(' '));
      else if (op === '-D') {
        const at = ch.rules.indexOf(rest.join(' '));
        if (at < 0) return `iptables-restore: line "${line}": Bad rule`;
        ch.rules.splice(at, 1);
      } else if (op === '-F') ch.rules = [];
      else if (op === '-X') next.get(name)!.delete(c!);
    }
  }
  return next;
}

const META = { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } };

function chainObject(family: string, table: string, name: string, { policy }: Chain) {
  const hook = BUILTIN[table]?.includes(name) ? name.toLowerCase() : undefined;
  return { chain: { family, table, name, ...(hook ? { type: 'filter', hook, policy: policy.toLowerCase() } : {}) } };
}

interface Host {
  /** iptables-nft's tables by family */
  iptables: Record<4 | 6, Tables>;
  /** brmgr's nft table for the bridge, as nft lists it */
  nftTable: string | undefined;
  /** nft is installed */
  nft: boolean;
}

const ok = (stdout = ''): RunResult => ({ ok: true, stdout, stderr: '', exitCode: 0, missing: false });
const failed = (stderr: string): RunResult => ({ ok: false, stdout: '', stderr, exitCode: 1, missing: false });
const MISSING: RunResult = { ok: false, stdout: '', stderr: '', missing: true };
const NO_SUCH = failed('Error: No such file or directory');

/** A Run on the fake host; `fail` picks a command (as `file args…`) to fail once. */
function fakeRun(host: Host, fail?: (argv: string) => boolean) {
  const calls: string[] = [];
  let failedOnce = false;
  const answer = (file: string, args: readonly string[], input?: string): RunResult => {
    const argv = [file, ...args].join(' ');
    if (fail && !failedOnce && fail(argv)) {
      failedOnce = true;
      return failed(`${file}: injected failure`);
    }
    const family = file.startsWith('ip6') ? 6 : 4;
    if (file === 'iptables-save' || file === 'ip6tables-save') return ok(saveTables(host.iptables[family]));
    if (file === 'iptables-restore' || file === 'ip6tables-restore') {
      const next = restoreTables(host.iptables[family], input ?? '');
      if (typeof next === 'string') return failed(next);
      host.iptables[family] = next;
      return ok();
    }
    if (file !== 'nft' || !host.nft) return MISSING;
    const inet = `inet brmgr-${BRIDGE}`;
    if (argv === `nft list table ${inet}`) return host.nftTable ? ok(host.nftTable) : NO_SUCH;
    if (argv === `nft delete table ${inet}`) {
      if (!host.nftTable) return NO_SUCH;
      host.nftTable = undefined;
      return ok();
    }
    if (argv === 'nft -f -') {
      // declare, delete, then the new table (or nothing): what is after the delete is what nft lists
      const after = input!.slice(input!.indexOf(`delete table ${inet}\n`) + `delete table ${inet}\n`.length).trim();
      host.nftTable = after || undefined;
      return ok();
    }
    // nft [-j] list chains FAMILY | list table FAMILY TABLE | delete table|chain FAMILY TABLE [CHAIN]
    const [verb, kind, fam, table, chain] = args[0] === '-j' ? args.slice(1) : args;
    const tables = fam === 'ip6' ? host.iptables[6] : host.iptables[4];
    if (verb === 'list' && kind === 'chains' && (fam === 'ip' || fam === 'ip6')) {
      const chains = [...tables].flatMap(([tn, cs]) => [...cs].map(([cn, c]) => chainObject(fam, tn, cn, c)));
      return ok(JSON.stringify({ nftables: [META, ...chains] }));
    }
    if (verb === 'list' && kind === 'table' && tables.has(table!)) {
      const cs = [...tables.get(table!)!];
      return ok(
        JSON.stringify({
          nftables: [
            META,
            { table: { family: fam, name: table } },
            ...cs.map(([cn, c]) => chainObject(fam!, table!, cn, c)),
            ...cs.flatMap(([cn, c]) => c.rules.map(() => ({ rule: { family: fam, table, chain: cn } }))),
          ],
        }),
      );
    }
    if (verb === 'delete' && kind === 'table') {
      tables.delete(table!);
      return ok();
    }
    if (verb === 'delete' && kind === 'chain') {
      if (tables.get(table!)?.get(chain!)?.rules.length) return failed('Error: Device or resource busy');
      tables.get(table!)?.delete(chain!);
      return ok();
    }
    throw new Error(`the fake host does not know: ${argv}`);
  };
  const run = (async (file, args, input) => {
    run.count++;
    calls.push([file, ...args].join(' '));
    return answer(file, args, input);
  }) as Run;
  run.count = 0;
  return { run, calls };
}

function host(iptablesSave: string, nftTable?: string): Host {
  return { iptables: { 4: parseTables(iptablesSave), 6: new Map() }, nftTable, nft: true };
}

/** The ruleset pre reads before any change (nftRuleset), from a recorded `nft -j list chains`. */
async function ruleset(listed: string) {
  const run = (async () => ok(listed)) as unknown as Run;
  return nftRuleset(run);
}

/** iptables-save's lines without its comments and counters, in order (chains sorted by iptables-save). */
const lines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .sort();

/** iptables-save's text without one table's section. */
const withoutTable = (text: string, table: string) =>
  text.replace(new RegExp(`(# Generated[^\n]*\n)?\\*${table}\n[^]*?COMMIT\n(# Completed[^\n]*\n)?`), '');

const STATE_NFTABLES = JSON.parse(fixture('nftables.state.json'));
const STATE_IPTABLES = JSON.parse(fixture('iptables.state.json'));

// ------------------------------------------------------------------ the tests

t.test('the fake host answers as the recorded one did', async (t) => {
  const h = host(fixture('nftables.iptables-save.txt'));
  t.strictSame(lines(saveTables(h.iptables[4])), lines(fixture('nftables.iptables-save.txt')), 'iptables-save');
  const { run } = fakeRun(h);
  const shape = (text: string) =>
    (JSON.parse(text).nftables as Record<string, { table: string; name: string; hook?: string }>[])
      .flatMap((o) => (o.chain ? [`${o.chain.table} ${o.chain.name} ${o.chain.hook ?? ''}`] : []))
      .sort();
  t.strictSame(
    shape((await run('nft', ['-j', 'list', 'chains', 'ip'])).stdout),
    shape(fixture('nftables.nft-chains-ip.json')),
    'nft -j list chains ip: the tables and built-in chains iptables-nft made',
  );
  const rules = (text: string) => (JSON.parse(text).nftables as object[]).filter((o) => 'rule' in o).length;
  t.equal(
    rules((await run('nft', ['-j', 'list', 'table', 'ip', 'mangle'])).stdout),
    rules(fixture('nftables.nft-table-ip-mangle.json')),
    'nft -j list table ip mangle: as many rules',
  );
});

t.test('first apply with nftables: the shim and checksum chains, then the table; two processes', async (t) => {
  const h = host(fixture('fresh.iptables-save.txt'));
  const { run, calls } = fakeRun(h);
  const revert = new Reverter();
  const told: FirewallRecord[] = [];
  const applied = await applyFirewall(run, cfg('nftables'), NO_FIREWALL, revert, {
    ruleset: await ruleset(fixture('fresh.nft-chains.json')),
    iptables: FACTS,
    beforeChange: (r) => told.push(r),
  });
  t.strictSame(calls, ['iptables-restore --noflush', 'nft -f -'], 'what pre read spares nft list and iptables-save');
  t.strictSame(
    lines(saveTables(h.iptables[4])),
    lines(withoutTable(fixture('nftables.iptables-save.txt'), 'filter')),
    'the checksum chain as pre made it, and no filter table: nothing there refuses the guests, no shim',
  );
  t.strictSame(nftShape(h.nftTable!), nftShape(fixture('nftables.nft-table.txt')), 'the table as pre made it');
  // pre also kept the text of the bridge table (port security), which this apply is not given
  const { applied: text, ...record } = applied.record;
  const { applied: recorded, ...wrote } = firewallRecord(STATE_NFTABLES);
  t.strictSame(record, wrote, 'the record as pre wrote it');
  t.equal(text!.inet, recorded!.inet, 'the same inet table text as pre applied and kept');
  t.ok(recorded!.l2 && !text!.l2, 'and pre kept its bridge table, which this apply has none of');
  t.strictSame(nftShape(text!.inet!), nftShape(h.nftTable!), 'the text applied is kept: what a rollback puts back');
  t.strictSame(applied.warnings, []);
  t.ok(told.length >= 2 && told.every((r) => r.backend === 'nftables'), 'told before each change');
  t.equal(revert.size, 2, 'an undo for each change');
});

t.test(
  'again with the text it applied recorded: the table is not listed, and a rollback puts that text back',
  async (t) => {
    const h = host(fixture('fresh.iptables-save.txt'));
    const first = await applyFirewall(fakeRun(h).run, cfg('nftables'), NO_FIREWALL, new Reverter(), {
      ruleset: await ruleset(fixture('fresh.nft-chains.json')),
      iptables: FACTS,
    });
    const { run, calls } = fakeRun(h);
    const revert = new Reverter();
    await applyFirewall(run, cfg('nftables'), first.record, revert, {
      ruleset: await ruleset(fixture('nftables.nft-chains.json')),
      iptables: FACTS,
    });
    t.notOk(
      calls.some((c) => c.startsWith('nft list')),
      'no nft list: the ruleset shows the table, the record has its text',
    );
    h.nftTable = undefined;
    t.strictSame(await revert.fail(), []);
    t.strictSame(nftShape(h.nftTable!), nftShape(first.record.applied!.inet!), 'the table as the record had it');
  },
);

t.test('first apply with iptables: the whole policy in chains, no nft table', async (t) => {
  const h = host(fixture('fresh.iptables-save.txt'));
  const { run, calls } = fakeRun(h);
  const revert = new Reverter();
  const applied = await applyFirewall(run, cfg('iptables'), NO_FIREWALL, revert, {
    ruleset: await ruleset(fixture('fresh.nft-chains.json')),
    iptables: FACTS,
  });
  t.strictSame(calls, ['iptables-restore --noflush']);
  t.strictSame(lines(saveTables(h.iptables[4])), lines(fixture('iptables.iptables-save.txt')));
  t.equal(h.nftTable, undefined);
  // the only text pre kept is its bridge table's (port security), which this apply is not given
  const { applied: recorded, ...wrote } = firewallRecord(STATE_IPTABLES);
  t.strictSame(applied.record, wrote, 'the record as pre wrote it, no text applied');
  t.ok(recorded?.l2 && !recorded.inet, 'pre kept its bridge table, and no inet table: iptables holds the policy');
  t.equal(revert.size, 1);
});

t.test('the backend is the one whose probe says it works', async (t) => {
  const noNft = { ...host(fixture('fresh.iptables-save.txt')), nft: false };
  const { run } = fakeRun(noNft);
  const applied = await applyFirewall(run, cfg('auto'), NO_FIREWALL, new Reverter(), { iptables: FACTS });
  t.equal(applied.record.backend, 'iptables', 'auto without nft: iptables');
  await t.rejects(
    applyFirewall(fakeRun({ ...host(''), nft: false }).run, cfg('nftables'), NO_FIREWALL, new Reverter(), {
      iptables: FACTS,
    }),
    { message: 'firewall = nftables, but nft does not work here (is it installed?)' },
  );
  const { run: withNft } = fakeRun(host(fixture('fresh.iptables-save.txt')));
  const chosen = await applyFirewall(withNft, cfg('auto'), NO_FIREWALL, new Reverter(), {
    ruleset: await ruleset(fixture('fresh.nft-chains.json')),
    iptables: FACTS,
  });
  t.equal(chosen.record.backend, 'nftables', 'auto with nft: nftables');
});

t.test('a failure midway: the reverter takes back every change, newest first, leaving nothing', async (t) => {
  const h = host(fixture('fresh.iptables-save.txt'));
  const { run, calls } = fakeRun(h, (argv) => argv === 'nft -f -');
  const revert = new Reverter();
  const order: string[] = [];
  revert.add('an earlier step', () => void order.push('earlier step'));
  await t.rejects(
    applyFirewall(run, cfg('nftables'), NO_FIREWALL, revert, {
      ruleset: await ruleset(fixture('fresh.nft-chains.json')),
      iptables: FACTS,
      beforeChange: () => order.push('recorded'),
    }),
    /nft: injected failure/,
  );
  t.equal(revert.size, 2, "the earlier step's undo and the chains'; none for the table that failed");
  t.strictSame(await revert.fail(), [], 'every undo succeeds');
  t.equal(order.at(-1), 'earlier step', "the firewall's undo ran before the earlier step's");
  t.equal(saveTables(h.iptables[4]), '', "iptables as it was: brmgr's chains and the tables they made are gone");
  t.equal(h.nftTable, undefined, 'no nft table');
  t.ok(calls.includes('nft delete table ip mangle'), 'the tables iptables-nft made for brmgr removed');
});

t.test('remove: what the recorded state names, nothing left', async (t) => {
  for (const [name, state, table] of [
    ['nftables', STATE_NFTABLES, fixture('nftables.nft-table.txt')],
    ['iptables', STATE_IPTABLES, undefined],
  ] as const) {
    const h = host(fixture(`${name}.iptables-save.txt`), table);
    const { run } = fakeRun(h);
    await removeFirewall(run, BRIDGE, firewallRecord(state));
    t.equal(saveTables(h.iptables[4]), '', `${name}: no chains, no tables brmgr made`);
    t.equal(h.nftTable, undefined, `${name}: no nft table`);
  }
});

t.test('drift: in words, from what the host shows now', async (t) => {
  const record = firewallRecord(STATE_NFTABLES);
  const intact = fakeRun(host(fixture('nftables.iptables-save.txt'), fixture('nftables.nft-table.txt')));
  t.equal(await firewallDrift(intact.run, cfg('nftables'), record, FACTS), undefined, 'all in place');
  const drifted = fakeRun(host(fixture('nftables.iptables-save.txt'), fixture('nftables-drifted.nft-table.txt')));
  t.equal(
    await firewallDrift(drifted.run, cfg('nftables'), record, FACTS),
    `nftables table inet brmgr-${BRIDGE}: chain postrouting is gone`,
    'a chain deleted from the table',
  );
  const gone = fakeRun(host(fixture('nftables.iptables-save.txt')));
  t.equal(await firewallDrift(gone.run, cfg('nftables'), record, FACTS), `nftables table inet brmgr-${BRIDGE} is gone`);
  const noPost = host(fixture('iptables.iptables-save.txt'));
  noPost.iptables[4].get('nat')!.get('POSTROUTING')!.rules = [];
  t.equal(
    await firewallDrift(fakeRun(noPost).run, cfg('iptables'), firewallRecord(STATE_IPTABLES), FACTS),
    `iptables (IPv4): the rule \`-j BRMGR-${BRIDGE}-POST\` in nat POSTROUTING is gone`,
  );
  t.equal(await firewallDrift(intact.run, cfg('none'), NO_FIREWALL, FACTS), undefined, 'no rules, no drift');
});

t.test('a FORWARD DROP after pre: drift names it and why, apply adds the shim, remove leaves the DROP', async (t) => {
  const h = host(fixture('fresh.iptables-save.txt'));
  const { run } = fakeRun(h);
  const first = await applyFirewall(run, cfg('nftables'), NO_FIREWALL, new Reverter(), {
    ruleset: await ruleset(fixture('fresh.nft-chains.json')),
    iptables: FACTS,
  });
  t.notOk(h.iptables[4].has('filter'), 'no filter table made');
  t.equal(first.record.shim, undefined, 'no shim recorded');
  t.equal(await firewallDrift(run, cfg('nftables'), first.record, FACTS), undefined, 'no drift');

  // `iptables -P FORWARD DROP`: iptables-nft makes the table and the chain
  h.iptables[4].set('filter', new Map([['FORWARD', { policy: 'DROP', rules: [] }]]));
  t.equal(
    await firewallDrift(run, cfg('nftables'), first.record, FACTS),
    "iptables (IPv4): the filter table could refuse the guests now (filter FORWARD has policy DROP), and brmgr's accepts are not there",
    'a drift, with why',
  );
  const again = await applyFirewall(run, cfg('nftables'), first.record, new Reverter(), { iptables: FACTS });
  const filter = h.iptables[4].get('filter')!;
  t.strictSame(filter.get('FORWARD'), { policy: 'DROP', rules: [`-j BRMGR-${BRIDGE}-FWD`] }, 'the jump, first');
  t.ok(filter.has(`BRMGR-${BRIDGE}-FWD`) && !filter.has(`BRMGR-${BRIDGE}-IN`), 'the FORWARD part only');
  t.notOk(filter.has('INPUT'), 'INPUT not brought into existence');
  t.strictSame(again.record.shim, { 4: ['filter FORWARD has policy DROP'] }, 'why, recorded');
  t.equal(await firewallDrift(run, cfg('nftables'), again.record, FACTS), undefined, 'then no drift');
  filter.get('FORWARD')!.rules = [];
  t.equal(
    await firewallDrift(run, cfg('nftables'), again.record, FACTS),
    `iptables (IPv4): the rule \`-j BRMGR-${BRIDGE}-FWD\` in filter FORWARD is gone (the shim is needed: filter FORWARD has policy DROP)`,
    'a flushed FORWARD: the jump is gone',
  );
  filter.get('FORWARD')!.rules = [`-j BRMGR-${BRIDGE}-FWD`];

  await removeFirewall(run, BRIDGE, again.record);
  t.strictSame(
    [...h.iptables[4]].map(([name, chains]) => [name, [...chains]]),
    [['filter', [['FORWARD', { policy: 'DROP', rules: [] }]]]],
    "the host's DROP stays, nothing of brmgr's",
  );
});

t.test('a Docker host: the shim hangs from DOCKER-USER, and post leaves Docker as it was', async (t) => {
  t.equal(forwardChain(parseIptablesSave(fixture('docker.iptables-save.txt'), BRIDGE)), 'DOCKER-USER');
  t.equal(forwardChain(parseIptablesSave(fixture('nftables.iptables-save.txt'), BRIDGE)), 'FORWARD');
  const h = host(fixture('docker.iptables-save.txt'));
  const { run, calls } = fakeRun(h);
  const applied = await applyFirewall(run, cfg('nftables'), NO_FIREWALL, new Reverter(), {
    ruleset: await ruleset(fixture('docker.nft-chains.json')),
    iptables: FACTS,
  });
  t.strictSame(calls, ['iptables-restore --noflush', 'nft -f -'], 'Docker seen in what pre read');
  // Docker leaves INPUT empty with policy ACCEPT: the shim has no INPUT part here
  t.strictSame(
    lines(saveTables(h.iptables[4])),
    lines(fixture('docker-after.iptables-save.txt')).filter((l) => !l.includes('BRMGR-brt0-IN')),
  );
  t.strictSame(applied.record.shim, { 4: ["Docker's DOCKER-USER chain is there"] }, 'why, recorded for status');
  t.strictSame(applied.record.existed, { 4: ['filter', 'filter FORWARD'] }, "Docker's objects recorded");
  t.equal(await firewallDrift(run, cfg('nftables'), applied.record, FACTS), undefined);
  await removeFirewall(run, BRIDGE, applied.record);
  t.strictSame(
    lines(saveTables(h.iptables[4])),
    lines(fixture('docker.iptables-save.txt')),
    "Docker's chains as they were",
  );
});

t.test('the record reader: versioned, old records still read, anything else refused', async (t) => {
  t.strictSame(firewallRecord(undefined), NO_FIREWALL, 'no state: no firewall');
  const old = { backend: 'nftables', iptables: [4], existed: { 4: ['filter'] } };
  t.strictSame(
    firewallRecord({ firewall: old }),
    { version: 1, ...old },
    'a record from before the version number (an upgrade with bridges up)',
  );
  t.strictSame(firewallRecord({ firewall: { backend: 'iptables' } }).iptables, [], 'without families');
  t.ok(hasRules(firewallRecord(STATE_NFTABLES)));
  t.notOk(hasRules(NO_FIREWALL));
  for (const [firewall, why] of [
    [undefined, /not an object/],
    [{ backend: 'pf', iptables: [] }, /backend "pf"/],
    [{ version: 2, backend: 'nftables', iptables: [] }, /version 2/],
    [{ backend: 'nftables', iptables: [5] }, /families/],
    [{ backend: 'nftables', iptables: [4], existed: { 4: 'filter' } }, /existed/],
  ] as const)
    t.throws(() => firewallRecord({ firewall }), why);
});
