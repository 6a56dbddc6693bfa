/**
 * brmgr's bridge-family tables filter their own bridge only: a plain bridge beside brmgr's, in the same
 * host, is left alone. Its uplink brings a LAN's DHCP server and router advertisements the host takes, its
 * two guests ping each other and one of them sources 50 MACs; meanwhile brmgr's own guests are still
 * guarded, a port plugged in while `brmgr run` serves included (where the kernel has no nft bridge meta,
 * run puts it in the tables' set of ports). A port moved from brmgr's bridge to the plain one takes nothing
 * of brmgr's with it.
 *
 * host ── brmgr's bridge 10.0.1.1/24 ── guest, victim, rogue (a DHCP server)
 * host ── lan (plain bridge) ── up ~ router (10.9.0.1/24, fd99::1/64: dnsmasq's DHCP and RAs)
 *                          ├── o1 (10.9.0.11/24)
 *                          └── o2 (10.9.0.12/24)
 */
import t from 'tap';
import { exec, ip, Lab, must, topology, waitFor } from '../helpers/netns.js';
import {
  dnsmasqReady,
  follow,
  foreignDhcp,
  plugGuest,
  PYTHON,
  scapyMissing,
  skipReason,
  udhcpcRun,
  untilGuarded,
} from '../helpers/e2e.js';

const why = skipReason() ?? scapyMissing();
if (why) t.plan(0, why);

const SCAPY = `
import json, sys, time
from scapy.all import ARP, Ether, UDP, IP, conf, sendp, sniff
conf.verb = 0
cmd, iface = sys.argv[1], sys.argv[2]
if cmd == 'macs':
    n = int(sys.argv[3])
    frames = [Ether(src='02:00:00:00:%02x:%02x' % (i // 256, i % 256), dst='ff:ff:ff:ff:ff:ff')
              / ARP(op=1, hwsrc='02:00:00:00:%02x:%02x' % (i // 256, i % 256), psrc='10.9.0.11', pdst='10.9.0.12')
              for i in range(n)]
    for _ in range(2):
        sendp(frames, iface=iface); time.sleep(0.5)
elif cmd == 'sniff':
    seen = sniff(iface=iface, timeout=float(sys.argv[3]), lfilter=lambda p: p.haslayer(UDP) and p[UDP].sport == 67)
    print(json.dumps([p[IP].src for p in seen if p.haslayer(IP)]))
`;

const MACS = 50;

for (const level of why ? [] : ['basic', 'strict']) {
  t.test(`port_security = ${level}: another bridge of the host is left alone`, async (t) => {
    const lab = Lab.create(t);
    const top = await topology(lab);
    top.brmgr.config(`[bridge]\nfirewall = nftables\nport_security = ${level}\n[ipv4]\naddress = 10.0.1.1/24\n`);
    const proc = top.brmgr.run();
    const events = follow(proc);
    await dnsmasqReady(events);
    const script = lab.file('frames.py', SCAPY);

    // the plain bridge, its LAN behind the uplink
    const lan = lab.name('l');
    await ip(top.host, 'link', 'add', lan, 'type', 'bridge');
    await must(top.host, 'sysctl', ['-q', '-w', `net.ipv6.conf.${lan}.accept_ra=2`]);
    await must(top.host, 'sysctl', ['-q', '-w', `net.ipv6.conf.${lan}.accept_dad=0`]);
    await ip(top.host, 'link', 'set', lan, 'up');
    const router = await lab.ns('router');
    const routerIf = lab.name('r');
    await lab.veth(router, routerIf, top.host, lab.name('up'), { master: lan });
    await ip(router, 'address', 'add', '10.9.0.1/24', 'dev', routerIf);
    await ip(router, '-6', 'address', 'add', 'fd99::1/64', 'dev', routerIf, 'nodad');
    await foreignDhcp(lab, router, routerIf, { range: '10.9.0.100,10.9.0.150', ra6: 'fd99::', leases: 'lan.leases' });
    const others = [];
    for (const [i, address] of ['10.9.0.11/24', '10.9.0.12/24'].entries()) {
      const ns = await lab.ns(`o${i + 1}`);
      const ifname = lab.name('n');
      const port = lab.name('o');
      await lab.veth(ns, ifname, top.host, port, { master: lan });
      await ip(ns, 'address', 'add', address, 'dev', ifname);
      others.push({ ns, ifname, port });
    }

    const dhcp = await udhcpcRun(top.host, lan, { tries: 6 });
    t.match(dhcp.output, /lease of 10\.9\.0\.1\d\d obtained from 10\.9\.0\.1,/, 'the host leases on the plain bridge', {
      output: dhcp.output,
    });
    const slaac = await waitFor(
      'an address from the LAN’s router advertisement',
      async () => (await ip(top.host, '-6', 'address', 'show', 'dev', lan)).includes('fd99:'),
      20_000,
    ).then(
      () => true,
      () => false,
    );
    t.ok(slaac, 'the host takes the router advertisement on the plain bridge');
    const ping = await exec(others[0]!.ns, 'ping', ['-c', '3', '-W', '2', '10.9.0.12']);
    t.equal(ping.exitCode, 0, 'its two guests ping each other', { output: ping.stdout });
    const sent = await exec(others[0]!.ns, PYTHON, [script, 'macs', others[0]!.ifname, String(MACS)], {
      timeout: 30_000,
    });
    t.equal(sent.exitCode, 0, 'scapy sent them', { stderr: sent.stderr });
    const fdb = JSON.parse(await must(top.host, 'bridge', ['-json', 'fdb', 'show', 'br', lan])) as {
      ifname: string;
      mac: string;
    }[];
    const learned = fdb.filter((e) => e.ifname === others[0]!.port && e.mac.startsWith('02:00:00:00:')).length;
    t.equal(learned, MACS, `one of its ports sources ${MACS} MACs, the bridge learns them all`);
    const ruleset = await must(top.host, 'nft', ['list', 'ruleset']);
    for (const o of others) t.notMatch(ruleset, new RegExp(`"${o.port}"`), `${o.port} is in none of brmgr's sets`);

    // brmgr's own guests: a DHCP server on a port plugged in now is still kept from its neighbours
    const victim = await plugGuest(top, 'victim');
    const rogue = await plugGuest(top, 'rogue');
    const l2 = `brmgr-${top.bridge}`;
    if (!(await untilGuarded(top, rogue.port)))
      t.match(await must(top.host, 'nft', ['list', 'table', 'bridge', l2]), /meta ibrname != "/, 'bridge meta');
    await ip(rogue.ns, 'address', 'add', '10.0.1.66/24', 'dev', rogue.ifname);
    await foreignDhcp(lab, rogue.ns, rogue.ifname, { range: '10.0.1.200,10.0.1.210', leases: 'rogue.leases' });
    const sniffing = exec(victim.ns, PYTHON, [script, 'sniff', victim.ifname, '8'], { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 2000));
    await udhcpcRun(victim.ns, victim.ifname, { tries: 4 });
    const sniffed = await sniffing;
    const answers = JSON.parse(sniffed.stdout || '[]') as string[];
    t.ok(answers.includes('10.0.1.1'), 'the victim hears brmgr’s DHCP server', { answers, stderr: sniffed.stderr });
    t.notOk(answers.includes('10.0.1.66'), 'and never the rogue on a port plugged in after pre', { answers });

    // the rogue's port moved to the plain bridge: what port security knew of it goes with it, and its
    // answers reach the plain bridge's guests (a port keeps its index, by which a known MAC is looked up)
    const seen = () => must(top.host, 'nft', ['list', 'set', 'bridge', l2, 'port-macs-seen']);
    // strict drops what the rogue sends from an address it was not given before the MAC cap sees it
    if (level === 'basic')
      t.match(await seen(), `"${rogue.port}" . `, 'the rogue’s port and MAC known on brmgr’s bridge');
    await ip(top.host, 'link', 'set', rogue.port, 'master', lan);
    await waitFor('the moved port forgotten', async () => !(await seen()).includes(`"${rogue.port}"`), 5000);
    t.pass('forgotten once it left');
    const lanSniff = exec(others[1]!.ns, PYTHON, [script, 'sniff', others[1]!.ifname, '8'], { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 2000));
    await udhcpcRun(others[1]!.ns, others[1]!.ifname, { tries: 4 });
    const lanAnswers = JSON.parse((await lanSniff).stdout || '[]') as string[];
    t.ok(lanAnswers.includes('10.0.1.66'), 'its DHCP answers reach the plain bridge’s guest', { lanAnswers });
    t.notMatch(await seen(), `"${rogue.port}"`, 'and brmgr’s bridge does not learn it again');
    proc.kill('SIGTERM');
    await proc;
  });
}
