/**
 * A part that hangs is treated like one that dies: a stopped dnsmasq is replaced within seconds (and
 * `status` says why), and a stopped supervisor never stalls dnsmasq, whose log it no longer reads.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, waitFor } from '../helpers/netns.js';
import { serving, skipReason, udhcpc, udhcpcRun } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const config = `[bridge]
firewall = nftables
[ipv4]
address = 10.0.1.1/24
[dns]
domain = lab.test
upstream = 10.0.1.1
`;

async function servingHere(t: Parameters<typeof serving>[0]) {
  const { lab, top, proc, log } = await serving(t, config);
  const dnsmasqPid = () => Number(readFileSync(join(top.brmgr.runDir, top.bridge, 'dnsmasq.pid'), 'utf8').trim());
  return { lab, top, proc, log, dnsmasqPid };
}

for (const _ of why ? [] : [1]) {
  t.test('a stopped dnsmasq is noticed and replaced: a new guest leases within seconds', async (t) => {
    const { top, proc, log, dnsmasqPid } = await servingHere(t);
    const hung = dnsmasqPid();
    process.kill(hung, 'SIGSTOP');
    t.teardown(() => {
      try {
        process.kill(hung, 'SIGKILL');
      } catch {
        /* replaced and gone */
      }
    });
    const started = Date.now();
    // udhcpc tries every second for up to 8 s
    const lease = await udhcpcRun(top.guest, top.guestIf, { tries: 10 });
    const took = Date.now() - started;
    t.match(lease.lease, /^10\.0\.1\.\d+$/, `a new guest leases: ${lease.output}`);
    // 2 s of unanswered questions, then a new dnsmasq: 3.3-3.8 s idle; the bound leaves room for a loaded CI
    t.ok(took <= 8000, `within seconds (${took} ms)`);
    t.ok(
      log.some((e) => e.event === 'unresponsive'),
      'logged as unresponsive',
    );
    t.not(dnsmasqPid(), hung, 'by another dnsmasq');
    const status = JSON.parse((await top.brmgr.cli('status', top.bridge, '--json')).stdout) as {
      dnsmasq: { restarts: number; lastRestart?: string };
    };
    t.equal(status.dnsmasq.restarts, 1, 'status counts the restart');
    t.match(status.dnsmasq.lastRestart, /unresponsive/, 'and says why');
    t.equal(proc.exitCode, null, 'brmgr run goes on');
  });

  t.test('a stopped supervisor does not stall dnsmasq: 400 leases in a row, and the events catch up', async (t) => {
    const { top, proc, log } = await servingHere(t);
    process.kill(proc.pid!, 'SIGSTOP');
    t.teardown(() => {
      try {
        process.kill(proc.pid!, 'SIGCONT');
      } catch {
        /* gone */
      }
    });
    const script = `ok=0; for i in $(seq 400); do busybox udhcpc -i ${top.guestIf} -n -q -f -t 2 -T 1 -s /bin/true >/dev/null 2>&1 && ok=$((ok+1)); done; echo $ok`;
    const r = await exec(top.guest, 'sh', ['-c', script]);
    t.equal(
      r.stdout.trim(),
      '400',
      'every one of 400 leases while the supervisor is stopped (its log pipe fills after about 200)',
    );
    // a guest new to the supervisor, whose DHCPACK line dnsmasq can only drop
    const mac = '52:54:00:bb:00:01';
    await exec(top.guest, 'ip', ['link', 'set', top.guestIf, 'address', mac]);
    t.ok(await udhcpc(top.guest, top.guestIf), 'a new guest leases too');
    process.kill(proc.pid!, 'SIGCONT');
    await waitFor('dnsmasq says it dropped lines', async () => log.some((e) => /log entries lost/.test(String(e.msg))));
    await waitFor('the new lease, from the lease file', async () =>
      log.some((e) => e.event === 'lease' && e.lease === 'add' && e.mac === mac && e.reason === 'missed'),
    );
    t.pass('dnsmasq dropped log lines rather than wait, and the lease it did not log is told from the lease file');
    t.ok(await udhcpc(top.guest, top.guestIf), 'and guests are served after');
  });
}
