/**
 * brmgr doctor asks the bridge's dnsmasq real questions: DNS from the host, DHCP from a throwaway port
 * (a veth pair, one end on the bridge, the other in a namespace of its own). A served bridge answers
 * both; a stopped dnsmasq (SIGSTOP) answers neither, and the doctor says so (exit 1) where it used to
 * list the sockets and call the path clear; an orphaned dnsmasq answers, as status says. No namespace or
 * port is left behind, and one a killed doctor left is removed by the next.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { exec, ip, must, nftRuleset, waitFor, type Topology } from '../helpers/netns.js';
import { serving, skipReason, udhcpc, doctorReport } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const config = `[bridge]
firewall = nftables
[ipv4]
address = 10.0.1.1/24
range = 10.0.1.100-10.0.1.150
[dns]
upstream = 10.0.1.1
`;

async function doctor(top: Topology, ...args: string[]) {
  const started = Date.now();
  const { exitCode, report, output } = await doctorReport(top.brmgr, ...args);
  const ms = Date.now() - started;
  const of = (check: string) => report.findings.find((f) => f.check === check);
  return { exitCode, report, dns: of('dns'), dhcp: of('dhcp'), ms, output };
}

/** The doctor's namespaces (all of the machine's) and its ports (in the host namespace) now. */
/** Whether a process runs (a doctor of another test, working now, is no leftover). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What doctors left behind: namespaces of doctors that are gone, and throwaway ports on this bridge. */
async function leftovers(top: Topology) {
  const namespaces = readdirSync('/run/netns').filter(
    (n) => n.startsWith('brmgr-doctor-') && !running(Number(n.slice('brmgr-doctor-'.length))),
  );
  const links = (JSON.parse(await ip(top.host, '-json', 'link', 'show')) as { ifname: string }[])
    .map((l) => l.ifname)
    .filter((n) => n.startsWith('brmgrdp'));
  return { namespaces, links };
}

const pid = (file: string) => Number(readFileSync(file, 'utf8').trim());

for (const _ of why ? [] : [1]) {
  t.test('doctor: DNS and DHCP answer on a served bridge, not when dnsmasq is stopped', async (t) => {
    const { top, proc } = await serving(t, config);
    // namespaces are the machine's: only this test's doctors' are looked at
    const mine = async () => {
      const l = await leftovers(top);
      return { links: l.links, namespaces: l.namespaces.filter((n) => !others.includes(n)) };
    };
    const others = (await leftovers(top)).namespaces;

    const rules = await nftRuleset(top.host);
    const served = await doctor(top);
    t.equal(served.exitCode, 0, 'a served bridge: exit 0', { output: served.output });
    t.match(served.dns, { ok: true, detail: /^dnsmasq answers DNS on 10\.0\.1\.1:53$/ }, 'DNS answers');
    t.match(
      served.dhcp,
      { ok: true, detail: /^dnsmasq offers 10\.0\.1\.\d+ to a throwaway port \(([0-9a-f]{2}:){5}[0-9a-f]{2}\)/ },
      'DHCP offers an address to the throwaway port',
    );
    const thrown = /\((\S+)\)/.exec(served.dhcp!.detail)![1]!;
    t.ok((Number.parseInt(thrown.slice(0, 2), 16) & 3) === 2, `${thrown} is a locally administered unicast MAC`);
    t.same(await mine(), { links: [], namespaces: [] }, 'no namespace or port is left');
    t.same(await nftRuleset(top.host), rules, 'the ruleset as before');
    t.notMatch(
      (await exec(top.host, 'nft', ['list', 'ruleset'])).stdout,
      /brmgrdp/,
      'nor a trace of the throwaway port in any set (port security forgot the DISCOVER)',
    );
    t.notMatch(
      (await exec(top.host, 'nft', ['list', 'ruleset'])).stdout,
      thrown,
      'nor of its MAC (the sets that know a port by its index)',
    );
    t.notMatch(
      readFileSync(join(top.brmgr.stateDir, `dnsmasq.${top.bridge}.leases`), 'utf8'),
      thrown,
      'the offer committed no lease',
    );
    t.comment(`doctor on a served bridge: ${served.ms} ms`);

    // the guest's own MAC: dnsmasq offers it the address it holds
    const mac = (JSON.parse(await ip(top.guest, '-json', 'link', 'show', 'dev', top.guestIf))[0] as { address: string })
      .address;
    const lease = await udhcpc(top.guest, top.guestIf);
    t.ok(lease, `the guest leased ${lease}`);
    const asGuest = await doctor(top, '--mac', mac);
    t.match(asGuest.dhcp, { ok: true, detail: `dnsmasq offers ${lease} to the guest's MAC ${mac}` });
    t.same(await mine(), { links: [], namespaces: [] }, 'nothing left');

    // a stale namespace and port, as a doctor killed with -9 leaves them: the next doctor removes them
    // above the kernel's highest pid (PID_MAX_LIMIT): no process has it
    const deadPid = 4_194_305 + Math.floor(Math.random() * 90_000);
    const staleNs = `brmgr-doctor-${deadPid}`;
    // made from the test's own mount namespace, as a doctor run from a shell makes it: it outlives the doctor
    t.teardown(() => void execa('ip', ['netns', 'delete', staleNs], { reject: false }));
    await execa('ip', ['netns', 'add', staleNs]);
    await must(top.host, 'ip', [
      'link',
      'add',
      `brmgrdp${deadPid}`,
      'type',
      'veth',
      'peer',
      'name',
      'probe0',
      'netns',
      staleNs,
    ]);
    await must(top.host, 'ip', ['link', 'set', `brmgrdp${deadPid}`, 'master', top.bridge, 'up']);
    t.same(await mine(), { links: [`brmgrdp${deadPid}`], namespaces: [staleNs] }, 'a stale namespace and port');
    const after = await doctor(top);
    t.equal(after.exitCode, 0, { output: after.output });
    t.same(await mine(), { links: [], namespaces: [] }, 'the next doctor removed them');

    // dnsmasq stopped, and its supervisor too (it would replace a dnsmasq that does not answer)
    const dnsmasq = pid(join(top.brmgr.runDir, top.bridge, 'dnsmasq.pid'));
    process.kill(proc.pid!, 'SIGSTOP');
    process.kill(dnsmasq, 'SIGSTOP');
    let stopped: Awaited<ReturnType<typeof doctor>>;
    try {
      stopped = await doctor(top);
    } finally {
      process.kill(dnsmasq, 'SIGCONT');
      process.kill(proc.pid!, 'SIGCONT');
    }
    t.equal(stopped.exitCode, 1, 'a stopped dnsmasq: exit 1', { output: stopped.output });
    t.match(
      stopped.dns,
      {
        ok: false,
        detail: /no answer to a DNS question on 10\.0\.1\.1:53 within 2 s: .*stopped or hung/,
        fix: /restart/,
      },
      'DNS: no answer within 2 s, the question unread',
    );
    t.match(stopped.dhcp, { ok: false, detail: /^no DHCP offer to a throwaway port .* within 2 s/ }, 'DHCP: no offer');
    t.match(
      stopped.report.findings.find((f) => f.check === 'dnsmasq'),
      { ok: true },
      'while its sockets are all there',
    );
    t.same(await mine(), { links: [], namespaces: [] }, 'nothing left after a failed question either');
    t.comment(`doctor on a stopped dnsmasq: ${stopped.ms} ms`);

    // brmgr run killed with -9: the orphaned dnsmasq still serves, as status says, and the doctor agrees
    await waitFor('dnsmasq answering again', async () => (await doctor(top)).dns?.ok === true, 20_000);
    const orphanPid = pid(join(top.brmgr.runDir, top.bridge, 'dnsmasq.pid'));
    proc.kill('SIGKILL');
    await proc.catch(() => undefined);
    const status = JSON.parse((await top.brmgr.cli('status', top.bridge, '--json')).stdout);
    t.same(status.dnsmasq, { pid: orphanPid, supervised: false }, 'status: dnsmasq serves without its supervisor');
    const orphan = await doctor(top);
    t.match(orphan.dns, { ok: true }, 'the doctor: it answers DNS');
    t.match(orphan.dhcp, { ok: true, detail: /offers/ }, 'and DHCP');
    t.match(
      orphan.report.findings.find((f) => f.check === 'dnsmasq'),
      { ok: false, detail: new RegExp(`^dnsmasq ${orphanPid} serves ${top.bridge} without brmgr run`) },
      'and names the missing supervisor',
    );
    await top.brmgr.down('--force');
  });
}
