/**
 * `brmgr run`'s core without root: events in, what it does to a fake host out. The fake effects record
 * each call; the config is typed from text as readConfig would.
 */
import t from 'tap';
import type { Loaded } from '../../src/config/load.js';
import type { BridgeConfig } from '../../src/config/types.js';
import { parseConfig } from '../../src/config/validate.js';
import { fdbFromLine, learnedMacs, portFromLinkLine } from '../../src/host/ports.js';
import { PortTable } from '../../src/plan/ports.js';
import { readPorts } from '../../src/system/bridge.js';
import type { Run } from '../../src/system/exec.js';
import { resolve, type HostFacts } from '../../src/plan/resolve.js';
import { initialState, step, TAKEN_DOWN } from '../../src/supervisor/core.js';
import type { DnsmasqExit } from '../../src/supervisor/dnsmasq-process.js';
import type { Rendered } from '../../src/supervisor/dnsmasq-files.js';
import { type Effects, Supervisor } from '../../src/supervisor/supervisor.js';

const loaded = (text: string): Loaded => ({
  bridge: 'br0',
  file: '/etc/brmgr/br0.conf',
  text,
  auto: /address = auto/.test(text),
  draft: parseConfig(text, '/etc/brmgr/br0.conf', 'br0'),
});
const NFT = '[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.0.1.1/24\n';
const NONE = '[bridge]\nfirewall = none\n[ipv4]\naddress = 10.0.1.1/24\n';
const AUTO = '[ipv4]\naddress = auto\n';
const render = (cfg: BridgeConfig): Rendered => {
  const { hosts, file, hooks, ...network } = cfg;
  // dnsmasq's config has nothing of the firewall (as the real one)
  const { firewall, ...served } = network;
  return {
    conf: JSON.stringify(served),
    dhcpHosts: JSON.stringify(hosts),
    hosts: '',
    network: JSON.stringify(network),
    confFileHash: '',
    hostsFilesHash: '',
  };
};
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

interface Fake {
  fx: Effects;
  calls: string[];
  /** the configs pre converged, in order */
  converged: BridgeConfig[];
  file: { text: string };
  host: { damage?: string; drift?: string; foreign: string[] };
  /** the promise pre's first run waits on */
  release: () => void;
}

function fake(first: string, opts: { holdPre?: boolean; subnet?: string } = {}): Fake {
  const calls: string[] = [];
  const converged: BridgeConfig[] = [];
  const file = { text: first };
  const host: Fake['host'] = { foreign: [] };
  let release = () => {};
  let gate: Promise<void> = opts.holdPre ? new Promise((r) => (release = r)) : Promise.resolve();
  const logged = (level: string) => (fields: { event?: string }, msg: string) =>
    calls.push(`log ${level} ${fields.event}: ${msg}`);
  const fx: Effects = {
    log: { ...quiet, warn: logged('warn'), error: logged('error'), info: logged('info') } as never,
    readConfig: () => loaded(file.text),
    converge: async (l, held: HostFacts, o) => {
      await gate;
      gate = Promise.resolve();
      if (o?.signal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
      const r = resolve(l, { held: held.held ?? opts.subnet }, []);
      converged.push(r.cfg);
      calls.push(`converge ${r.cfg.firewall} ${r.cfg.ipv4.address}`);
      return r;
    },
    render,
    refuses: async () => undefined,
    writeFiles: () => calls.push('write files'),
    bridgeDamage: async () => host.damage,
    firewallDrift: async () => ({ drift: host.drift, foreign: host.foreign }),
    dnsmasq: {
      isRunning: true,
      start: async () => void calls.push('dnsmasq start'),
      restart: async () => void calls.push('dnsmasq restart'),
      hup: () => void calls.push('dnsmasq hup'),
    },
    serve: async () => void calls.push('serve'),
    watch: () => calls.push('watch'),
    tellResolved: async () => {},
    portState: (g) => {
      calls.push(`port ${g.port} ${g.mac ?? '-'} ${g.addresses.join(',') || '-'}${g.removed ? ' removed' : ''}`);
    },
    notify: (state) => calls.push(`notify ${state}`),
    shutdown: async (code) => void calls.push(`shutdown ${code}`),
    leases: () => [],
    rehook: () => void calls.push('rehook'),
  };
  return { fx, calls, converged, file, host, release: () => release() };
}

/** Lets the supervisor's queue run dry. */
const settle = () => new Promise((r) => setTimeout(r, 20));

t.test('SIGHUP during start-up: acted on once pre is done, with the config as it is then', async (t) => {
  const f = fake(NFT, { holdPre: true });
  const sup = new Supervisor('br0', loaded(NFT), f.fx);
  const started = sup.start();
  sup.dispatch({ kind: 'reload', why: 'SIGHUP' });
  f.file.text = NONE;
  await settle();
  t.same(f.calls, [], 'nothing happens while pre waits');
  f.release();
  await started;
  await settle();
  t.same(
    f.converged.map((c) => c.firewall),
    ['nftables', 'none'],
    'pre, then the reload converges the change',
  );
  t.ok(f.calls.indexOf('serve') < f.calls.indexOf('converge none 10.0.1.1'), 'the reload comes after serving');
  t.equal(f.calls.at(-1), 'notify ready', 'ready again after the reload');
});

t.test('SIGTERM while pre waits for the lock: nothing changed, exit 0', async (t) => {
  const f = fake(NFT, { holdPre: true });
  const sup = new Supervisor('br0', loaded(NFT), f.fx);
  const started = sup.start();
  sup.dispatch({ kind: 'stop' });
  f.release();
  await started;
  t.equal(await sup.done, 0);
  t.same(f.converged, [], 'pre gave up');
  t.notOk(f.calls.includes('serve'), 'never served');
});

t.test('a reload to firewall = none converges; dnsmasq, whose config is the same, keeps serving', async (t) => {
  const f = fake(NFT);
  const sup = new Supervisor('br0', loaded(NFT), f.fx);
  await sup.start();
  await settle();
  f.calls.length = 0;
  f.file.text = NONE;
  sup.dispatch({ kind: 'reload', why: 'br0.conf changed' });
  await settle();
  t.same(f.calls, [
    'notify reloading',
    'converge none 10.0.1.1',
    'write files',
    'watch',
    'log info reload: reload applied: [bridge] firewall nftables → none; nothing to change for dnsmasq',
    'notify ready',
  ]);
  t.equal(sup.cfg.firewall, 'none');
});

t.test('SIGHUP and brmgr reload tell the lease hook every lease again; a config file change does not', async (t) => {
  const f = fake(NFT);
  const sup = new Supervisor('br0', loaded(NFT), f.fx);
  await sup.start();
  await settle();
  for (const why of ['SIGHUP', 'brmgr reload', 'br0.conf changed']) {
    f.calls.length = 0;
    sup.dispatch({ kind: 'reload', why });
    await settle();
    const told = f.calls.indexOf('rehook');
    if (why === 'br0.conf changed') t.equal(told, -1, `${why}: not`);
    else
      t.ok(
        told > f.calls.indexOf('notify reloading') && told < f.calls.indexOf('notify ready'),
        `${why}: after the reload, with the config as it is then`,
        { calls: f.calls },
      );
  }
  // a broken config is not applied; dnsmasq, SIGHUPed with it, would still tell its script
  f.calls.length = 0;
  f.file.text = '[ipv4]\naddress = nonsense\n';
  sup.dispatch({ kind: 'reload', why: 'SIGHUP' });
  await settle();
  t.ok(f.calls.includes('rehook'), 'also when the config is refused');
});

t.test('a reload with errors keeps the running config', async (t) => {
  const f = fake(NFT);
  const sup = new Supervisor('br0', loaded(NFT), f.fx);
  await sup.start();
  await settle();
  f.calls.length = 0;
  f.file.text = '[ipv4]\naddress = nonsense\n';
  sup.dispatch({ kind: 'reload', why: 'SIGHUP' });
  await settle();
  t.notOk(
    f.calls.some((c) => c.startsWith('converge') || c.startsWith('dnsmasq')),
    'nothing applied',
  );
  t.ok(f.calls.includes('log error reload: config has errors; still serving the previous one'));
  t.equal(sup.cfg.firewall, 'nftables');
});

t.test('address = auto: a reload keeps the subnet the bridge has, recorded or not', async (t) => {
  const f = fake(AUTO, { subnet: '10.42.7.1/24' });
  const sup = new Supervisor('br0', loaded(AUTO), f.fx);
  await sup.start();
  await settle();
  t.equal(sup.cfg.ipv4.address, '10.42.7.1');
  // a change that converges again: the record file is not asked, the running subnet is held
  f.file.text = `${AUTO}[bridge]\nstp = true\n`;
  sup.dispatch({ kind: 'reload', why: 'SIGHUP' });
  await settle();
  t.equal(f.converged.length, 2, 'converged again');
  t.equal(f.converged[1]!.ipv4.address, '10.42.7.1', 'on the same subnet');
});

t.test('a deleted bridge is brought back, and dnsmasq rebinds to the new one', async (t) => {
  const f = fake(NFT);
  const sup = new Supervisor('br0', loaded(NFT), f.fx);
  await sup.start();
  await settle();
  f.calls.length = 0;
  f.host.damage = 'was deleted';
  sup.dispatch({ kind: 'link-changed' });
  await settle();
  t.same(f.calls, [
    'log warn bridge: br0 was deleted while brmgr run serves it; bringing it back',
    'converge nftables 10.0.1.1',
    'dnsmasq restart',
  ]);
  f.calls.length = 0;
  f.host.damage = undefined;
  sup.dispatch({ kind: 'link-changed' });
  await settle();
  t.same(f.calls, [], 'an intact bridge: nothing');
});

t.test('a flushed ruleset: the rules put back; another table said once', async (t) => {
  const f = fake(NFT);
  const sup = new Supervisor('br0', loaded(NFT), f.fx);
  await sup.start();
  await settle();
  f.calls.length = 0;
  f.host.drift = 'nftables table inet brmgr-br0 is gone';
  f.host.foreign = ['table inet other drops forwarded traffic'];
  sup.dispatch({ kind: 'ruleset-changed' });
  await settle();
  f.host.drift = undefined;
  sup.dispatch({ kind: 'ruleset-changed' });
  await settle();
  t.same(f.calls, [
    'log warn foreign-firewall: table inet other drops forwarded traffic',
    "log warn firewall: nftables table inet brmgr-br0 is gone; putting brmgr's rules back",
    'converge nftables 10.0.1.1',
  ]);
  f.calls.length = 0;
  f.host.drift = TAKEN_DOWN;
  sup.dispatch({ kind: 'ruleset-changed' });
  await settle();
  t.ok(f.calls[0]!.includes('taken down while brmgr run serves it'), 'brmgr-post by hand: brought back up');
  t.same(f.calls.slice(1), ['converge nftables 10.0.1.1', 'dnsmasq restart']);
});

t.test('a port appearing before its lease: its guest is known once the lease comes', async (t) => {
  const text = `${NFT}[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n`;
  const f = fake(text);
  const sup = new Supervisor('br0', loaded(text), f.fx);
  await sup.start();
  await settle();
  f.calls.length = 0;
  sup.dispatch({ kind: 'port', fact: { kind: 'port-added', port: 'veth1' } });
  sup.dispatch({ kind: 'port', fact: { kind: 'fdb', port: 'veth1', mac: '52:54:00:AA:00:01' } });
  sup.dispatch({ kind: 'port', fact: { kind: 'lease', mac: '52:54:00:aa:00:01', ip: '10.0.1.77' } });
  sup.dispatch({ kind: 'port', fact: { kind: 'port-added', port: 'veth2' } });
  sup.dispatch({ kind: 'port', fact: { kind: 'fdb', port: 'veth2', mac: '52:54:00:00:00:10' } });
  // the bridge forgets the MAC before the port goes
  sup.dispatch({ kind: 'port', fact: { kind: 'fdb', port: 'veth1', mac: '52:54:00:aa:00:01', gone: true } });
  sup.dispatch({ kind: 'port', fact: { kind: 'port-removed', port: 'veth1' } });
  await settle();
  t.same(f.calls, [
    'port veth1 - -',
    'port veth1 52:54:00:aa:00:01 -',
    'port veth1 52:54:00:aa:00:01 10.0.1.77',
    'port veth2 - -',
    'port veth2 52:54:00:00:00:10 10.0.1.10',
    'port veth1 - -',
    // gone, with the guest it last had: its flows are forgotten
    'port veth1 52:54:00:aa:00:01 10.0.1.77 removed',
  ]);
  t.same(sup.guests, [{ port: 'veth2', mac: '52:54:00:00:00:10', addresses: ['10.0.1.10'], name: 'web' }]);
});

t.test('dnsmasq exits: restarted with a backoff, given up on a crash loop or a start failure', async (t) => {
  const exit = (wasReady: boolean): DnsmasqExit => ({ exitCode: 1, signal: null, wasReady }) as DnsmasqExit;
  let s = { ...initialState('br0'), phase: 'serving' as const };
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = step(s, { kind: 'dnsmasq-exited', exit: exit(true) }, 1000 + i);
    s = r.state;
    const start = r.actions.find((a) => a.kind === 'start-dnsmasq');
    delays.push(start?.kind === 'start-dnsmasq' ? start.delayMs : -1);
  }
  t.same(delays, [0, 250, 500, 1000, 2000]);
  t.equal(s.restarts, 5);
  const loop = step(s, { kind: 'dnsmasq-exited', exit: exit(true) }, 1010);
  t.same(loop.actions.at(-1), { kind: 'shutdown', code: 1 }, 'the sixth crash within a minute: give up');
  const never = step({ ...initialState('br0'), phase: 'serving' }, { kind: 'dnsmasq-exited', exit: exit(false) }, 0);
  t.same(never.actions.at(-1), { kind: 'shutdown', code: 1 }, 'never ready: a start failure');
  const inotify = step(
    { ...initialState('br0'), phase: 'serving' },
    {
      kind: 'dnsmasq-exited',
      exit: { ...exit(false), lastError: 'failed to create inotify: Too many open files' } as DnsmasqExit,
    },
    0,
  );
  t.match(
    JSON.stringify(inotify.actions[0]),
    /dnsmasq failed to start: failed to create inotify: Too many open files; .*fs\.inotify\.max_user_instances/,
    'out of inotify instances (many bridges): which limit, and how to raise it',
  );
  t.same(step(loop.state, { kind: 'reload', why: 'SIGHUP' }, 0).actions, [], 'nothing after stopping');
});

t.test('ports and guests as ip and bridge monitors tell them', async (t) => {
  t.same(
    portFromLinkLine('7: veth0@if2: <BROADCAST,MULTICAST,UP> mtu 1500 master br0 state UP \\    link/ether x', 'br0'),
    { kind: 'port-added', port: 'veth0' },
  );
  t.same(portFromLinkLine('Deleted 7: veth0@NONE: <BROADCAST> mtu 1500 master br0 state DOWN', 'br0'), {
    kind: 'port-removed',
    port: 'veth0',
  });
  t.same(
    portFromLinkLine('7: veth0@if2: <BROADCAST> mtu 1500 master br01 state DOWN', 'br0'),
    {
      kind: 'port-removed',
      port: 'veth0',
    },
    "another bridge's port is not this one's",
  );
  t.equal(portFromLinkLine('5: br0: <BROADCAST,MULTICAST,UP> mtu 1500 state UP', 'br0'), undefined, 'the bridge');
  t.same(fdbFromLine('dev va lladdr ba:89:34:d7:e0:2f REACHABLE ', 'br0'), {
    kind: 'fdb',
    port: 'va',
    mac: 'ba:89:34:d7:e0:2f',
  });
  t.same(fdbFromLine('Deleted dev va lladdr ba:89:34:d7:e0:2f REACHABLE ', 'br0'), {
    kind: 'fdb',
    port: 'va',
    mac: 'ba:89:34:d7:e0:2f',
    gone: true,
  });
  t.equal(fdbFromLine('dev va lladdr f6:dd:da:15:91:c2 PERMANENT ', 'br0'), undefined, "the port's own MAC");
  t.equal(fdbFromLine('10.0.1.5 dev br0 lladdr 02:00:00:00:00:05 REACHABLE', 'br0'), undefined, 'an IP neighbour');
  t.same(
    learnedMacs(
      [
        { mac: '33:33:00:00:00:01', ifname: 'br0', flags: ['self'], state: 'permanent' },
        { mac: '02:00:00:00:00:09', ifname: 'tap1', state: '' },
      ],
      'br0',
    ),
    [{ kind: 'fdb', port: 'tap1', mac: '02:00:00:00:00:09' }],
  );
  const table = new PortTable();
  t.same(table.apply({ kind: 'fdb', port: 'other', mac: '02:00:00:00:00:09' }), [], "another bridge's port: ignored");
  table.apply({ kind: 'port-added', port: 'a' });
  table.apply({ kind: 'port-added', port: 'b' });
  table.apply({ kind: 'fdb', port: 'a', mac: '02:00:00:00:00:01' });
  t.same(
    table.apply({ kind: 'fdb', port: 'b', mac: '02:00:00:00:00:01' }),
    [
      { port: 'a', addresses: [] },
      { port: 'b', mac: '02:00:00:00:00:01', addresses: [] },
    ],
    'a MAC that moves leaves its old port',
  );
});

t.test('a lease file written back: dnsmasq restarts to reopen it, counted with why', async (t) => {
  const s = { ...initialState('br0'), phase: 'serving' as const };
  const r = step(s, { kind: 'lease-file-restored' }, 0);
  t.same(r.actions, [{ kind: 'restart-dnsmasq' }]);
  t.equal(r.state.restarts, 1);
  t.match(r.state.lastRestart, /lease file/);
});

t.test(
  'what it counts for the exporter: reloads by outcome, config errors, restarts and repairs by cause',
  async (t) => {
    const f = fake(NFT);
    const sup = new Supervisor('br0', loaded(NFT), f.fx);
    await sup.start();
    await settle();
    f.file.text = '[ipv4]\naddress = nonsense\n';
    sup.dispatch({ kind: 'reload', why: 'SIGHUP' });
    await settle();
    f.file.text = NONE;
    sup.dispatch({ kind: 'reload', why: 'SIGHUP' });
    await settle();
    const exit: DnsmasqExit = { signal: 'SIGKILL', missing: false, wasReady: true };
    sup.dispatch({ kind: 'dnsmasq-exited', exit });
    sup.dispatch({ kind: 'dnsmasq-unresponsive', why: 'does not answer' });
    f.host.drift = 'nftables table inet brmgr-br0 is gone';
    sup.dispatch({ kind: 'ruleset-changed' });
    await settle();
    f.host.drift = undefined;
    sup.dispatch({ kind: 'ruleset-changed' });
    await settle();
    t.same(sup.counts.now, {
      dnsmasqRestarts: { exited: 1, unresponsive: 1 },
      firewallRepairs: { table_gone: 1 },
      reloads: { refused: 1, applied: 1 },
      configErrors: 1,
      // each ruleset change read once, the one that found drift and the one that found none
      firewallChecks: { all: 2 },
      dhcp: {},
    });
  },
);

t.test('dnsmasq failing to start while serving is reached: never ready, exit 1', async (t) => {
  const f = fake(NFT);
  const sup = new Supervisor('br0', loaded(NFT), f.fx);
  f.fx.serve = async () => {
    f.calls.push('serve');
    sup.dispatch({
      kind: 'dnsmasq-exited',
      exit: { exitCode: 127, wasReady: false, lastError: 'cannot start' } as never,
    });
  };
  await sup.start();
  await settle();
  t.equal(await sup.done, 1, 'exit 1');
  t.notOk(f.calls.includes('notify ready'), `systemd is never told it is ready: ${f.calls.join(', ')}`);
});

t.test('a stop while serving is reached: what serve does ends before the stop undoes it', async (t) => {
  const f = fake(NFT);
  let finish: () => void = () => {};
  f.fx.serve = async () => {
    f.calls.push('serve');
    await new Promise<void>((r) => (finish = r));
    f.calls.push('served');
  };
  const sup = new Supervisor('br0', loaded(NFT), f.fx);
  await sup.start();
  await settle();
  sup.dispatch({ kind: 'stop' });
  await settle();
  finish();
  t.equal(await sup.done, 0);
  t.ok(f.calls.indexOf('served') < f.calls.indexOf('shutdown 0'), `served, then the shutdown: ${f.calls.join(', ')}`);
});

t.test("the bridge's ports and learned MACs: one bridge process; a bridge gone has none", async (t) => {
  const links = '[{"ifname":"tap1","master":"br0","state":"forwarding"}]';
  const fdb = '[{"mac":"02:00:00:00:00:09","ifname":"tap1","master":"br0","state":""}]';
  const calls: string[] = [];
  const run = (ok: boolean, stdout: string): Run =>
    Object.assign(
      async (file: string, args: readonly string[], input?: string) => {
        calls.push(`${file} ${args.join(' ')} | ${input}`);
        return { ok, stdout, stderr: '', missing: false };
      },
      { count: 0 },
    );
  t.same(await readPorts(run(true, `${links}\n${fdb}\n`), 'br0'), [
    { kind: 'port-added', port: 'tap1' },
    { kind: 'fdb', port: 'tap1', mac: '02:00:00:00:00:09' },
  ]);
  t.same(calls, ['bridge -json -batch - | link show master br0\nfdb show br br0\n']);
  // `link show master` of a missing bridge lists every bridge's ports before fdb fails
  t.same(await readPorts(run(false, `${links}\nCannot find bridge device "br0"\n`), 'br0'), []);
});
