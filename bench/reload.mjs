// A reload, from its cause to the new config served, against a bare dnsmasq told the same:
// (a) a static host added ([host.NAME] with an IP): until a guest's DNS query for NAME answers that IP;
//     brmgr: `brmgr reload` after the edit (and when it returns), SIGHUP of `brmgr run`, the edit alone
//     (the config watch, which waits CONFIG_SETTLE_MS, 500, for the file to settle); the peer: a bare
//     dnsmasq started with the config brmgr rendered, its hosts files rewritten with the new host, SIGHUP.
// (b) a change that restarts dnsmasq, until a [dns] wildcard record only the new config has answers:
//     lease_time and the record (dnsmasq's config alone: `dnsmasq --test` tries it, dnsmasq is restarted;
//     a tree from before that converged the bridge first), (b2) the conf_file's contents alone (a
//     restart), (b3) `guest_conns` and the record (brmgr-pre's firewall changes: the bridge is converged,
//     then dnsmasq restarted); the peer: the bare dnsmasq stopped and started again with its new config.
// Each probe is a guest querying every 2 ms; RUNS (9) rounds, alternating whether brmgr or the peer goes
// first; medians, spread and the load average.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BRIDGE, invocation, Lab, median, ms, percentile } from './lib/lab.mjs';

const RUNS = Number(process.env.RUNS ?? 9);
// after each measurement: the config watch's own reload of the edit (500 ms later) is done
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 900);

// A guest's probe: on a line "T NAME A.B.C.D" on stdin (T a process.hrtime value, the same monotonic
// clock in every process) it asks for NAME every 2 ms, and prints how many ns after T the first answer
// with that address came; a new line replaces the question.
const probeSource = (server) => `
const dgram = require('node:dgram');
const encode = (name) => Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, 1, 0, 1])]);
let ask = null; let id = 0; let timer;
const s = dgram.createSocket('udp4');
s.on('error', () => {});
s.on('message', (m) => {
  const now = process.hrtime.bigint();
  if (!ask || !ask.ids.has(m.readUInt16BE(0)) || (m[3] & 15) !== 0 || m.readUInt16BE(6) === 0) return;
  if (!m.subarray(m.length - 4).equals(ask.ip)) return;
  console.log(String(now - ask.since)); ask = null; clearInterval(timer);
});
const send = () => { id = (id + 1) & 0xffff; ask.ids.add(id); s.send(Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ask.name])); };
s.connect(53, ${JSON.stringify(server)}, () => {
  require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
    const [since, name, ip] = l.split(' ');
    clearInterval(timer);
    ask = { since: BigInt(since), name: encode(name), ip: Buffer.from(ip.split('.').map(Number)), ids: new Set() };
    send(); timer = setInterval(send, 2);
  });
});
`;

function startProbe(lab, ns, server) {
  const proc = lab.exec(ns, process.execPath, ['-e', probeSource(server)], {
    stdin: 'pipe',
    stdout: 'pipe',
    buffer: false,
  });
  lab.children.push(proc);
  const answers = [];
  proc.stdout.on('data', (d) => answers.push(...String(d).trim().split('\n').map(Number)));
  return {
    /** ms after `since` that `name` answered `ip` (asked from now on, every 2 ms) */
    answered: async (since, name, ip, timeoutMs = 15_000) => {
      const n = answers.length;
      proc.stdin.write(`${since} ${name} ${ip}\n`);
      const deadline = Date.now() + timeoutMs;
      while (answers.length === n) {
        if (Date.now() > deadline) throw new Error(`${name} did not answer ${ip} within ${timeoutMs} ms`);
        await sleep(2);
      }
      return answers.at(-1) / 1e6;
    },
  };
}

// the config: state the measurements change one thing of at a time
let serial = 0;
const state = { lease: 60, conns: 2048, wildcard: 'r0:10.68.0.0', host: undefined, extra: 'c0' };
const lab = new Lab('rl');
const extraConf = join(lab.dir, 'extra.conf');
const config = () => `[bridge]
firewall = nftables
guest_conns = ${state.conns}
[ipv4]
address = 10.67.0.1/24
lease_time = ${state.lease}m
[dns]
domain = bench
upstream = 127.0.0.1
wildcard = ${state.wildcard}
[dnsmasq]
conf_file = ${extraConf}
[host.probe]
mac = 52:54:00:67:00:01
ip = 10.67.0.9
${state.host ? `[host.${state.host.name}]\nmac = ${state.host.mac}\nip = ${state.host.ip}\n` : ''}`;
const extraText = (name) => `address=/${name}.bench/10.69.0.${serial % 250}\n`;

/** a new static host, a new wildcard record, a new conf_file record: each a name only the new config has */
const nextHost = () => {
  serial++;
  return {
    name: `h${serial}`,
    mac: `52:54:00:68:${((serial >> 8) & 255).toString(16).padStart(2, '0')}:${(serial & 255).toString(16).padStart(2, '0')}`,
    ip: `10.67.0.${10 + (serial % 200)}`,
  };
};
const nextWildcard = () => {
  serial++;
  return { name: `r${serial}.bench`, ip: `10.68.${(serial >> 8) & 255}.${serial & 255}` };
};

const results = {};
const record = (key, value) => {
  results[key] ??= [];
  results[key].push(value);
};
const stats = (xs) =>
  `median ${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)}, p90 ${percentile(xs, 90).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n ${xs.length})`;

/** `brmgr reload` in the host namespace: resolves with its exit code and the ms it took */
async function reloadCommand() {
  const start = process.hrtime.bigint();
  const r = await lab.exec(lab.host, ...invocation('brmgr.mjs', 'reload', BRIDGE));
  if (r.exitCode !== 0) throw new Error(`brmgr reload: ${r.exitCode} ${r.stderr}`);
  return ms(start);
}

/** One change to brmgr's config, applied by `how` (cli, hup, edit); the ms until `name` answered `ip`. */
async function brmgrChange(supervisor, probe, change, how) {
  const since = process.hrtime.bigint();
  const { name, ip } = change();
  const answered = probe.answered(since, name, ip);
  let returned;
  if (how === 'cli') returned = await reloadCommand();
  else if (how === 'hup') process.kill(supervisor.pid, 'SIGHUP');
  const took = await answered.catch((err) => {
    for (const e of supervisor.events.slice(-15)) console.error(`  brmgr run: ${e.event ?? ''} ${e.msg}`);
    throw err;
  });
  await sleep(SETTLE_MS);
  return { took, returned };
}

async function brmgrRound(probe) {
  const supervisor = await lab.run();
  await sleep(300);
  const addHost = () => {
    state.host = nextHost();
    lab.config(BRIDGE, config());
    return { name: `${state.host.name}.bench`, ip: state.host.ip };
  };
  const restart = (what) => () => {
    const w = nextWildcard();
    if (what === 'lease') state.lease = state.lease === 60 ? 120 : 60;
    else state.conns = state.conns === 2048 ? 2047 : 2048;
    state.wildcard = `${w.name.replace(/\.bench$/, '')}:${w.ip}`;
    lab.config(BRIDGE, config());
    return w;
  };
  const confFile = () => {
    serial++;
    state.extra = `c${serial}`;
    writeFileSync(extraConf, extraText(state.extra));
    return { name: `${state.extra}.bench`, ip: `10.69.0.${serial % 250}` };
  };
  for (const how of ['cli', 'hup', 'edit']) {
    const r = await brmgrChange(supervisor, probe, addHost, how);
    record(`a brmgr ${how}`, r.took);
    if (r.returned !== undefined) record('a brmgr reload returns', r.returned);
  }
  for (const how of ['cli', 'hup']) {
    const r = await brmgrChange(supervisor, probe, restart('lease'), how);
    record(`b brmgr ${how}`, r.took);
    if (r.returned !== undefined) record('b brmgr reload returns', r.returned);
  }
  for (const how of ['cli', 'hup']) {
    const r = await brmgrChange(supervisor, probe, restart('conns'), how);
    record(`b3 brmgr ${how}`, r.took);
    if (r.returned !== undefined) record('b3 brmgr reload returns', r.returned);
  }
  for (const how of ['cli', 'hup']) {
    // the conf_file written, brmgr's own config unchanged: the reload finds its contents changed
    const r = await brmgrChange(supervisor, probe, confFile, how);
    record(`b2 brmgr ${how}`, r.took);
    if (r.returned !== undefined) record('b2 brmgr reload returns', r.returned);
  }
  await lab.stop(supervisor.proc);
}

/** The peer: brmgr's rendered config, with its hosts files and pid file in the lab's own folder. */
function bareConfig(base, extraLines = '') {
  const dir = lab.dir;
  return `${base
    .replace(/^pid-file=.*$/m, `pid-file=${join(dir, 'bare.pid')}`)
    .replace(/^dhcp-hostsfile=.*$/m, `dhcp-hostsfile=${join(dir, 'bare.dhcp-hosts')}`)
    .replace(/^addn-hosts=.*$/m, `addn-hosts=${join(dir, 'bare.hosts')}`)}${extraLines}`;
}

async function bareRound(probe, rendered) {
  const conf = join(lab.dir, 'bare.conf');
  const hostsLines = (h) => `10.67.0.9 probe\n${h ? `${h.ip} ${h.name}\n` : ''}`;
  const dhcpLines = (h) => `52:54:00:67:00:01,10.67.0.9,probe\n${h ? `${h.mac},${h.ip},${h.name}\n` : ''}`;
  const writeHosts = (h) => {
    writeFileSync(join(lab.dir, 'bare.hosts'), hostsLines(h), { mode: 0o644 });
    writeFileSync(join(lab.dir, 'bare.dhcp-hosts'), dhcpLines(h), { mode: 0o644 });
  };
  let lease = 60;
  const confText = (w) =>
    bareConfig(rendered.replace(/,\d+m$/m, `,${lease}m`).replace(/^address=.*$/m, `address=/${w.name}/${w.ip}`));
  const start = () => {
    const proc = lab.exec(lab.host, 'dnsmasq', ['--keep-in-foreground', `--conf-file=${conf}`], {
      stdout: 'ignore',
      stderr: 'ignore',
    });
    lab.children.push(proc);
    return proc;
  };
  writeHosts(undefined);
  let w = nextWildcard();
  writeFileSync(conf, confText(w));
  let bare = start();
  await probe.answered(process.hrtime.bigint(), w.name, w.ip);

  // (a) a static host: both hosts files rewritten, SIGHUP
  const h = nextHost();
  let since = process.hrtime.bigint();
  writeHosts(h);
  const answered = probe.answered(since, `${h.name}.bench`, h.ip);
  bare.kill('SIGHUP');
  record('a bare SIGHUP', await answered);
  await sleep(SETTLE_MS);

  // (b) a restart with a new lease time and record: the config written, the old one stopped, a new one
  w = nextWildcard();
  lease = lease === 60 ? 120 : 60;
  since = process.hrtime.bigint();
  writeFileSync(conf, confText(w));
  const served = probe.answered(since, w.name, w.ip);
  bare.kill('SIGTERM');
  await bare;
  bare = start();
  record('b bare restart', await served);
  await sleep(SETTLE_MS);
  bare.kill('SIGTERM');
  await bare;
}

const loadBefore = loadavg();
try {
  writeFileSync(extraConf, extraText(state.extra), { mode: 0o644 });
  await lab.open(config());
  let supervisor = await lab.run();
  const guest = await lab.client('g', '10.67.0.50/24');
  const probe = startProbe(lab, guest, '10.67.0.1');
  await probe.answered(process.hrtime.bigint(), 'probe.bench', '10.67.0.9');
  // what brmgr rendered, for the peer (its own record lines replaced by each measurement's)
  const rendered = readFileSync(join(lab.env.BRMGR_RUN_DIR, BRIDGE, 'dnsmasq.conf'), 'utf8').replace(
    /^conf-file=.*\n/m,
    '',
  );
  copyFileSync(join(lab.env.BRMGR_RUN_DIR, BRIDGE, 'dnsmasq.conf'), join(lab.dir, 'rendered.conf'));
  await lab.stop(supervisor.proc);
  supervisor = undefined;

  for (let round = 0; round < RUNS; round++) {
    // which goes first alternates, so neither always runs on a machine the other just warmed
    if (round % 2 === 0) {
      await brmgrRound(probe);
      await bareRound(probe, rendered);
    } else {
      await bareRound(probe, rendered);
      await brmgrRound(probe);
    }
  }
  const loadAfter = loadavg();
  console.log(
    `reload → the new config served, ${RUNS} rounds alternating (load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} → ${loadAfter.map((l) => l.toFixed(2)).join(' ')}):`,
  );
  for (const [key, xs] of Object.entries(results)) console.log(`  ${key.padEnd(24)} ${stats(xs)}`);
  const ratio = (a, b) => (median(results[a]) / median(results[b])).toFixed(1);
  console.log(
    `(a) static host added, ÷ bare dnsmasq's SIGHUP: brmgr reload ${ratio('a brmgr cli', 'a bare SIGHUP')}×, ` +
      `SIGHUP of brmgr run ${ratio('a brmgr hup', 'a bare SIGHUP')}×, the edit alone ${ratio('a brmgr edit', 'a bare SIGHUP')}×; ` +
      `brmgr reload ${median(results['a brmgr cli']).toFixed(0)} ms against 150`,
  );
  console.log(
    `(b) lease_time + a record (restart), ÷ bare dnsmasq's restart: brmgr reload ${ratio('b brmgr cli', 'b bare restart')}×, ` +
      `SIGHUP ${ratio('b brmgr hup', 'b bare restart')}×; brmgr reload ${median(results['b brmgr cli']).toFixed(0)} ms against 150`,
  );
  console.log(
    `(b2) conf_file's contents (restart), ÷ bare dnsmasq's restart: brmgr reload ${ratio('b2 brmgr cli', 'b bare restart')}×, ` +
      `SIGHUP ${ratio('b2 brmgr hup', 'b bare restart')}×`,
  );
  console.log(
    `(b3) guest_conns + a record (converge + restart), ÷ bare dnsmasq's restart: brmgr reload ${ratio('b3 brmgr cli', 'b bare restart')}×, ` +
      `SIGHUP ${ratio('b3 brmgr hup', 'b bare restart')}×; brmgr reload ${median(results['b3 brmgr cli']).toFixed(0)} ms against 150`,
  );
} finally {
  await lab.close();
}
