/**
 * What a strict bridge tells about its ports: `brmgr events` says when each port is bound to its guest
 * (MAC, addresses, level) and unbound, the [hooks] lease hook hears of leases only; `brmgr doctor` names
 * what port security dropped of a hostile guest (an address not its lease, a MAC not its port's, a DHCP
 * server's reply), with the port's binding and the key that loosens it, and nothing of the quiet guest.
 * scapy forges the attacker's frames.
 *
 * host ── bridge 10.0.1.1/24 ── victim   (52:54:00:00:00:c1)
 *                          └── attacker (52:54:00:00:00:c2)
 */
import t from 'tap';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, ip, Lab, topology, waitFor } from '../helpers/netns.js';
import {
  dnsmasqReady,
  follow,
  plugGuest,
  type PortGuest,
  PYTHON,
  scapyMissing,
  skipReason,
  udhcpcRun,
  doctorReport,
} from '../helpers/e2e.js';

const VICTIM_MAC = '52:54:00:00:00:c1';
const ATTACKER_MAC = '52:54:00:00:00:c2';
const SPOOFED_MAC = '52:54:00:66:66:66';
const NOT_GIVEN = '10.0.1.77';

const why = skipReason() ?? scapyMissing();
if (why) t.plan(0, why);

/** ping: echo requests to the gateway from SRC_MAC/SRC_IP; offer: a DHCP server's reply to every client. */
const FORGE = `
import sys, time
from scapy.all import BOOTP, DHCP, ICMP, IP, UDP, Ether, conf, sendp
conf.verb = 0
cmd, iface = sys.argv[1], sys.argv[2]
mine = open(f'/sys/class/net/{iface}/address').read().strip()
if cmd == 'ping':
    src_mac, src_ip, gw_mac = sys.argv[3:6]
    frame = Ether(src=src_mac, dst=gw_mac) / IP(src=src_ip, dst='10.0.1.1') / ICMP(type=8, id=77, seq=1)
elif cmd == 'offer':
    src_ip = sys.argv[3]
    frame = (Ether(src=mine, dst='ff:ff:ff:ff:ff:ff') / IP(src=src_ip, dst='255.255.255.255') /
             UDP(sport=67, dport=68) / BOOTP(op=2, yiaddr='10.0.1.66', chaddr=b'\\x52\\x54\\x00\\x00\\x00\\xc1') /
             DHCP(options=[('message-type', 'offer'), ('server_id', src_ip), ('router', src_ip), 'end']))
for _ in range(4):
    sendp(frame, iface=iface); time.sleep(0.2)
`;

async function lease(g: PortGuest): Promise<string> {
  const r = await udhcpcRun(g.ns, g.ifname, { tries: 6 });
  const got = /lease of (\S+) obtained from 10\.0\.1\.1,/.exec(r.output)?.[1];
  if (!got) throw new Error(`no lease: ${r.output}`);
  await ip(g.ns, 'address', 'add', `${got}/24`, 'dev', g.ifname);
  return got;
}

for (const _ of why ? [] : [1]) {
  t.test('strict: events carry the bindings; doctor names what port security dropped', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const record = join(lab.dir, 'hook.log');
    const hook = lab.file('hook', ['#!/bin/sh', `echo "$*" >> ${record}`].join('\n'), 0o755);
    top.brmgr.config(
      `[bridge]\nfirewall = nftables\nport_security = strict\n[ipv4]\naddress = 10.0.1.1/24\n[hooks]\nlease = ${hook}\n`,
    );
    const proc = top.brmgr.run();
    await dnsmasqReady(follow(proc));

    const events = top.brmgr.start('brmgr.js', 'events', top.bridge, '--json');
    const lines: Record<string, unknown>[] = [];
    let following = false;
    events.stdout!.on('data', (c: Buffer) => {
      for (const l of c.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
    });
    events.stderr!.on('data', (c: Buffer) => (following ||= c.toString().includes('following')));
    await waitFor('the follower to connect', async () => following);

    const bridgeMac = JSON.parse(await ip(top.host, '-json', 'link', 'show', top.bridge))[0].address as string;
    const victim = await plugGuest(top, 'victim', VICTIM_MAC);
    const attacker = await plugGuest(top, 'attacker', ATTACKER_MAC);
    const victimIp = await lease(victim);
    const attackerIp = await lease(attacker);

    // events: each port bound to its guest, its lease among the addresses
    const bound = (g: PortGuest, mac: string, address: string) =>
      lines.find(
        (e) =>
          e.event === 'bind' &&
          e.port === g.port &&
          e.mac === mac &&
          e.level === 'strict' &&
          (e.addresses as string[]).includes(address),
      );
    t.ok(
      await waitFor('the victim bound with its lease', async () => bound(victim, VICTIM_MAC, victimIp), 15_000),
      'events: the victim’s port bound to its MAC and lease, strict',
    );
    t.ok(
      await waitFor('the attacker bound', async () => bound(attacker, ATTACKER_MAC, attackerIp), 15_000),
      'and the attacker’s',
    );
    t.ok(
      lines.some((e) => e.event === 'add' && e.mac === VICTIM_MAC),
      'lease events still come',
    );

    // the hostile guest: an address not its lease, a MAC not its port's, a DHCP server's reply
    const forge = async (...args: string[]) => {
      const r = await exec(
        attacker.ns,
        PYTHON,
        [lab.file('forge.py', FORGE), args[0]!, attacker.ifname, ...args.slice(1)],
        {
          timeout: 30_000,
        },
      );
      t.equal(r.exitCode, 0, `scapy forges: ${args[0]}`, { output: r.stderr });
    };
    await forge('ping', ATTACKER_MAC, NOT_GIVEN, bridgeMac);
    await forge('ping', SPOOFED_MAC, attackerIp, bridgeMac);
    await forge('offer', attackerIp);

    const doctor = async (...args: string[]) => {
      const { exitCode, report } = await doctorReport(top.brmgr, ...args);
      return { code: exitCode, found: report.findings.filter((f) => f.check === 'port security') };
    };
    const a = await doctor(ATTACKER_MAC);
    const said = (re: RegExp) => a.found.find((f) => !f.ok && re.test(f.detail));
    t.equal(a.code, 1, 'doctor for the attacker: exit 1');
    const esc = (s: string) => s.replaceAll('.', '\\.');
    const address = said(new RegExp(`^${esc(NOT_GIVEN)} from port ${attacker.port} is not its lease`));
    t.ok(address, `"${NOT_GIVEN} from port … is not its lease"`, { found: a.found });
    t.match(
      address?.detail,
      new RegExp(`port ${attacker.port} is bound to ${ATTACKER_MAC} \\(${esc(attackerIp)}, .*; strict\\)`),
      'with the port’s binding',
    );
    t.match(address?.fix, new RegExp(`extra_ips = ${esc(NOT_GIVEN)}`), 'and how to allow it');
    t.ok(
      said(new RegExp(`^MAC ${SPOOFED_MAC} on port ${attacker.port} is not the port's guest`)),
      '"MAC … on port … is not the port’s guest"',
      { found: a.found },
    );
    const offer = said(new RegExp(`^DHCP server reply from guest port ${attacker.port} dropped: \\d+ packets`));
    t.ok(offer, '"DHCP server reply from guest port … dropped"', { found: a.found });
    t.match(offer?.fix, /port_security = off/, 'a router VM’s way out');

    const v = await doctor(VICTIM_MAC);
    t.strictSame(
      v.found.map((f) => f.ok),
      [true],
      'doctor for the victim: nothing of it dropped',
      { found: v.found },
    );
    t.match(v.found[0]?.detail, new RegExp(`port ${victim.port} is bound to ${VICTIM_MAC} \\(${esc(victimIp)}`));

    const all = await doctor();
    t.ok(
      all.found.some((f) => f.detail.startsWith(`${NOT_GIVEN} from port ${attacker.port}`)),
      'doctor for the bridge: the attacker’s drops too',
    );

    // the attacker leaves: its port unbound
    await ip(top.host, 'link', 'del', attacker.port);
    t.ok(
      await waitFor('the attacker unbound', async () =>
        lines.find((e) => e.event === 'unbind' && e.port === attacker.port && e.mac === ATTACKER_MAC),
      ),
      'events: the attacker’s port unbound when it goes',
    );

    // the hook: leases only
    const runs = existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n') : [];
    t.ok(
      runs.some((r) => r.startsWith(`add ${VICTIM_MAC} ${victimIp}`)),
      'the lease hook ran for the lease',
      { runs },
    );
    t.strictSame(
      runs.filter((r) => !/^(add|old|del) /.test(r)),
      [],
      'and for nothing else',
    );

    events.kill('SIGTERM');
    await events.catch(() => undefined);
    proc.kill('SIGTERM');
    t.equal((await proc).exitCode, 0, 'brmgr run stops cleanly');
    await ip(top.host, 'link', 'set', victim.port, 'nomaster');
    await top.brmgr.down();
  });
}
