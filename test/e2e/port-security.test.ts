/**
 * Guests that attack their neighbours, under the default `port_security = basic`: a rogue DHCP
 * server, rogue router advertisements, an ARP claim on the gateway's address, a forged DHCPRELEASE
 * and a copied client-id each leave the victim as brmgr configured it; a legitimate guest still
 * leases and reaches the outside. With `isolate_ports = true` the two guests cannot reach each
 * other but both reach the gateway. What the attacker cannot send with a client, scapy forges.
 *
 * host ── bridge 10.0.1.1/24 ── victim   (52:54:00:00:00:a1)
 *                          ├── attacker (52:54:00:00:00:a2)
 *                          └── rogue    (52:54:00:00:00:a3, a DHCP server)
 * host ── uplink 192.0.2.1/24 ~ outside 192.0.2.2/24
 */
import t from 'tap';
import { exec, ip, Lab, listening, must, ping, topology, waitFor, type Topology } from '../helpers/netns.js';
import {
  dnsmasqReady,
  follow,
  foreignDhcp,
  plugGuest,
  type PortGuest,
  PYTHON,
  scapyMissing,
  skipReason,
  udhcpcRun,
} from '../helpers/e2e.js';

const VICTIM_MAC = '52:54:00:00:00:a1';
const ATTACKER_MAC = '52:54:00:00:00:a2';
const ROGUE_MAC = '52:54:00:00:00:a3';

const why = skipReason() ?? scapyMissing();
if (why) t.plan(0, why);

/** What the hostile guest forges, and what a victim sniffs, by subcommand. */
const FORGE = `
import json, sys, time
from scapy.all import ARP, BOOTP, DHCP, Dot1Q, Ether, ICMPv6ND_RA, ICMPv6NDOptPrefixInfo, IP, IPv6, UDP, conf, sendp, sniff
conf.verb = 0
cmd, iface = sys.argv[1], sys.argv[2]
mine = open(f'/sys/class/net/{iface}/address').read().strip()
if cmd == 'ra':
    prefix = sys.argv[3]
    ra = Ether(src=mine, dst='33:33:00:00:00:01') / IPv6(src='fe80::5054:ff:fe00:a2', dst='ff02::1', hlim=255) \\
        / ICMPv6ND_RA(routerlifetime=1800) / ICMPv6NDOptPrefixInfo(prefix=prefix, prefixlen=64, L=1, A=1)
    for _ in range(4):
        sendp(ra, iface=iface); time.sleep(0.5)
elif cmd == 'garp':
    gateway, victim_ip, victim_mac = sys.argv[3:6]
    frames = [
        Ether(src=mine, dst='ff:ff:ff:ff:ff:ff') / ARP(op=2, hwsrc=mine, psrc=gateway, hwdst='ff:ff:ff:ff:ff:ff', pdst=gateway),
        Ether(src=mine, dst='ff:ff:ff:ff:ff:ff') / ARP(op=1, hwsrc=mine, psrc=gateway, pdst=gateway),
        Ether(src=mine, dst=victim_mac) / ARP(op=2, hwsrc=mine, psrc=gateway, hwdst=victim_mac, pdst=victim_ip),
    ]
    for _ in range(6):
        sendp(frames, iface=iface); time.sleep(0.5)
elif cmd == 'release':
    victim_mac, victim_ip, server, server_mac = sys.argv[3:7]
    chaddr = bytes.fromhex(victim_mac.replace(':', '')) + bytes(10)
    release = Ether(src=mine, dst=server_mac) / IP(src=victim_ip, dst=server) / UDP(sport=68, dport=67) \\
        / BOOTP(op=1, ciaddr=victim_ip, chaddr=chaddr, xid=0x5ec0de) \\
        / DHCP(options=[('message-type', 'release'), ('server_id', server), 'end'])
    for _ in range(3):
        sendp(release, iface=iface); time.sleep(0.3)
elif cmd == 'offer':
    # rounds of two tagged frames: a DHCP answer from 10.77.0.1, then the same between UDP ports 1067 and 1068
    # (the control)
    vlan, rounds = int(sys.argv[3]), int(sys.argv[4])
    def offer(server, sport, dport):
        return Ether(src=mine, dst='ff:ff:ff:ff:ff:ff') / Dot1Q(vlan=vlan) / IP(src=server, dst='255.255.255.255') \\
            / UDP(sport=sport, dport=dport) / BOOTP(op=2, yiaddr='10.77.0.50', siaddr=server, chaddr=bytes(16)) \\
            / DHCP(options=[('message-type', 'offer'), ('server_id', server), 'end'])
    for _ in range(rounds):
        sendp([offer('10.77.0.1', 67, 68), offer('10.77.0.2', 1067, 1068)], iface=iface); time.sleep(0.3)
elif cmd == 'sniff-tagged':
    # until the control is heard (every answer sent before it has been heard too, if it passed)
    seconds = float(sys.argv[3])
    tagged = lambda p: p.haslayer(Dot1Q) and p.haslayer(UDP) and p.haslayer(IP)
    seen = sniff(iface=iface, timeout=seconds, lfilter=tagged, stop_filter=lambda p: p[UDP].sport == 1067)
    print(json.dumps([f'{p[IP].src}:{p[UDP].sport}' for p in seen]))
elif cmd == 'sniff':
    seconds = float(sys.argv[3])
    seen = sniff(iface=iface, timeout=seconds, lfilter=lambda p: p.haslayer(UDP) and p[UDP].sport == 67)
    print(json.dumps([p[IP].src for p in seen if p.haslayer(IP)]))
`;

/** udhcpc once: the address and the server it came from (busybox says "lease of A obtained from S"). */
async function lease(g: PortGuest, extra: string[] = []): Promise<{ ip?: string; server?: string; output: string }> {
  const r = await udhcpcRun(g.ns, g.ifname, { extra, tries: 4 });
  const from = /lease of (\S+) obtained from (\S+?),/.exec(r.output);
  return { ip: from?.[1], server: from?.[2], output: r.output };
}

async function configure(g: PortGuest, address: string): Promise<void> {
  await ip(g.ns, 'address', 'flush', 'dev', g.ifname, 'scope', 'global');
  await ip(g.ns, 'address', 'add', `${address}/24`, 'dev', g.ifname);
  await ip(g.ns, 'route', 'replace', 'default', 'via', '10.0.1.1');
}

const forge = (lab: Lab, g: PortGuest, ...args: string[]) =>
  exec(g.ns, PYTHON, [lab.file('forge.py', FORGE), args[0]!, g.ifname, ...args.slice(1)], { timeout: 30_000 });

const leases = async (top: Topology) =>
  JSON.parse((await top.brmgr.cli('leases', top.bridge, '--json')).stdout || '[]') as { mac: string; ip: string }[];

for (const _ of why ? [] : [1]) {
  t.test('port_security = basic: hostile guests change nothing their neighbours see', async (t) => {
    const lab = Lab.create(t);
    const top = await topology(lab);
    top.brmgr.config('[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.0.1.1/24\n');
    const proc = top.brmgr.run();
    const events = follow(proc);
    await dnsmasqReady(events);
    const bridgeMac = JSON.parse(await ip(top.host, '-json', 'link', 'show', top.bridge))[0].address as string;

    const victim = await plugGuest(top, 'victim', VICTIM_MAC);
    const attacker = await plugGuest(top, 'attacker', ATTACKER_MAC);
    const rogue = await plugGuest(top, 'rogue', ROGUE_MAC);

    // the legitimate guest
    const first = await lease(victim);
    t.equal(first.server, '10.0.1.1', 'the victim leases from the bridge', { output: first.output });
    await configure(victim, first.ip!);
    t.ok(await ping(victim.ns, '192.0.2.2'), 'and reaches the outside');

    // a rogue DHCP server on another guest's port
    await ip(rogue.ns, 'address', 'add', '10.66.0.1/24', 'dev', rogue.ifname);
    await foreignDhcp(lab, rogue.ns, rogue.ifname, { range: '10.66.0.100,10.66.0.150', leases: 'rogue.leases' });
    const sniffing = forge(lab, victim, 'sniff', '9');
    await new Promise((r) => setTimeout(r, 2500));
    const again = await lease(victim);
    const answers = JSON.parse((await sniffing).stdout || '[]') as string[];
    t.ok(answers.includes('10.0.1.1'), 'the victim heard the bridge’s DHCP server', { answers });
    t.notOk(answers.includes('10.66.0.1'), 'and never the rogue', { answers });
    t.equal(again.server, '10.0.1.1', 'its lease comes from 10.0.1.1', { output: again.output });
    t.equal(again.ip, first.ip, 'the same address');

    // a DHCP answer in a VLAN tag (a raw-socket DHCP client takes it though no VLAN is set up); the control, the
    // same frame between other UDP ports, shows tagged frames cross the bridge
    const tagged = forge(lab, victim, 'sniff-tagged', '25');
    await new Promise((r) => setTimeout(r, 1000));
    await forge(lab, attacker, 'offer', '5', '40');
    const heard = JSON.parse((await tagged).stdout || '[]') as string[];
    t.ok(heard.includes('10.77.0.2:1067'), 'control: a tagged frame from a guest reaches its neighbour', { heard });
    t.notOk(heard.includes('10.77.0.1:67'), 'a DHCP answer in a VLAN tag does not', { heard });

    // a rogue router advertisement
    await forge(lab, attacker, 'ra', 'fd99::');
    await new Promise((r) => setTimeout(r, 1500));
    const v6 = await ip(victim.ns, '-6', 'address', 'show', 'dev', victim.ifname);
    t.notMatch(v6, /fd99:/, 'the rogue RA gives the victim no address from its prefix');

    // an ARP claim on the gateway
    t.ok(await ping(victim.ns, '10.0.1.1'), 'the victim reaches the gateway');
    await new Promise((r) => setTimeout(r, 1200)); // past the neighbour entry's locktime
    await forge(lab, attacker, 'garp', '10.0.1.1', first.ip!, VICTIM_MAC);
    const neigh = await ip(victim.ns, 'neigh', 'show', '10.0.1.1', 'dev', victim.ifname);
    t.match(neigh, new RegExp(`lladdr ${bridgeMac}`), 'the victim’s entry for 10.0.1.1 stays the bridge’s MAC', {
      neigh,
    });
    t.ok(await ping(victim.ns, '192.0.2.2'), 'and it still reaches the outside');

    // a forged DHCPRELEASE with the victim's chaddr, from the attacker's port
    await forge(lab, attacker, 'release', VICTIM_MAC, first.ip!, '10.0.1.1', bridgeMac);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await leases(top);
    t.ok(
      after.some((l) => l.mac === VICTIM_MAC && l.ip === first.ip),
      'the forged RELEASE leaves the victim’s lease',
      { after },
    );

    // a client-id copied from the victim (busybox udhcpc sends 01 + its MAC)
    const clid = `0x3d:01${VICTIM_MAC.replaceAll(':', '')}`;
    const renewed = await lease(victim);
    t.equal(renewed.ip, first.ip, 'the victim renews its lease', { output: renewed.output });
    const stolen = await lease(attacker, ['-C', '-x', clid]);
    t.equal(stolen.server, '10.0.1.1', 'the attacker leases from the bridge', { output: stolen.output });
    t.not(stolen.ip, first.ip, 'but not the victim’s address');
    t.ok(
      (await leases(top)).some((l) => l.mac === VICTIM_MAC && l.ip === first.ip),
      'the victim keeps its lease',
    );

    // isolate_ports: each guest reaches the gateway, neither reaches the other
    await configure(attacker, stolen.ip!);
    t.ok(await ping(attacker.ns, first.ip!), 'control: without isolate_ports the guests reach each other');
    // and by TCP, the neighbour known for good (no ARP, which isolation stops too)
    await ip(
      victim.ns,
      'neigh',
      'replace',
      stolen.ip!,
      'lladdr',
      ATTACKER_MAC,
      'dev',
      victim.ifname,
      'nud',
      'permanent',
    );
    top.lab.spawn(attacker.ns, 'busybox', ['nc', '-l', '-p', '7777']);
    await listening(attacker.ns, 'tcp', 7777);
    const control = await exec(victim.ns, 'busybox', ['nc', '-w', '2', stolen.ip!, '7777'], { input: '' });
    t.equal(control.exitCode, 0, 'control: a TCP connection from one guest to the other', { output: control.stderr });
    top.brmgr.config('[bridge]\nfirewall = nftables\nisolate_ports = true\n[ipv4]\naddress = 10.0.1.1/24\n');
    const reload = await top.brmgr.cli('reload', top.bridge);
    t.equal(reload.exitCode, 0, 'reload', { output: reload.output });
    await waitFor('the isolation rule', async () =>
      /^\s*drop$/m.test(
        (await exec(top.host, 'nft', ['list', 'chain', 'bridge', `brmgr-${top.bridge}`, 'forward'])).stdout,
      ),
    );
    await ip(attacker.ns, 'neigh', 'flush', 'all');
    t.notOk(await ping(victim.ns, stolen.ip!, 2), 'isolated: the victim cannot reach the attacker');
    t.notOk(await ping(attacker.ns, first.ip!, 2), 'nor the attacker the victim');
    // TCP takes its own short way through the bridge table: with the neighbour known (no ARP), a connection
    // between the guests is refused all the same
    top.lab.spawn(attacker.ns, 'busybox', ['nc', '-l', '-p', '7777']);
    await listening(attacker.ns, 'tcp', 7777);
    const tcp = await exec(victim.ns, 'busybox', ['nc', '-w', '2', stolen.ip!, '7777'], { input: '' });
    t.not(tcp.exitCode, 0, 'isolated: no TCP connection from one guest to the other either');
    t.ok(await ping(victim.ns, '10.0.1.1'), 'both reach the gateway');
    t.ok(await ping(attacker.ns, '10.0.1.1'));
    t.ok(await ping(victim.ns, '192.0.2.2'), 'and the outside');

    proc.kill('SIGTERM');
    t.equal((await proc).exitCode, 0, 'brmgr run stops cleanly');
    for (const g of [victim, attacker, rogue]) await ip(top.host, 'link', 'set', g.port, 'nomaster');
    await top.brmgr.down();
    t.equal(
      (await exec(top.host, 'nft', ['list', 'table', 'bridge', `brmgr-${top.bridge}`])).exitCode,
      1,
      'post removes the bridge table',
    );
  });

  t.test('a guest flooding DNS with random names leaves its neighbours resolving', async (t) => {
    const lab = Lab.create(t);
    const top = await topology(lab);
    // outside: the guests' upstream resolver; it knows ok.test and asks a server that never answers the rest
    await ip(top.outside, 'address', 'add', '192.0.2.9/24', 'dev', top.outsideIf);
    lab.spawn(top.outside, 'dnsmasq', [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--user=root',
      '--pid-file=',
      '--listen-address=192.0.2.2',
      '--bind-interfaces',
      '--address=/ok.test/192.0.2.77',
      '--server=192.0.2.9',
      '--dns-forward-max=100000',
    ]);
    await must(top.outside, 'nft', [
      'add table ip blackhole; add chain ip blackhole in { type filter hook input priority 0; }; add rule ip blackhole in ip daddr 192.0.2.9 udp dport 53 drop',
    ]);
    await waitFor('the outside resolver', async () =>
      (await exec(top.outside, 'ss', ['-lunH'])).stdout.includes('192.0.2.2:53'),
    );
    top.brmgr.config('[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.0.1.1/24\n[dns]\nupstream = 192.0.2.2\n');
    const proc = top.brmgr.run();
    await dnsmasqReady(follow(proc));
    const victim = await plugGuest(top, 'victim', VICTIM_MAC);
    const attacker = await plugGuest(top, 'attacker', ATTACKER_MAC);
    await configure(victim, '10.0.1.50');
    await configure(attacker, '10.0.1.51');
    const dig = async () => (await exec(victim.ns, 'dig', ['@10.0.1.1', 'ok.test', '+time=2', '+tries=1'])).stdout;
    t.match(await dig(), /status: NOERROR[\s\S]*192\.0\.2\.77/, 'control: the victim resolves ok.test');

    // 400 random names a second for 8 s, none of them ever answered upstream
    const flood = exec(
      attacker.ns,
      PYTHON,
      [
        '-c',
        [
          'import os, socket, struct, time',
          's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
          'end = time.time() + 8',
          'while time.time() < end:',
          '    for _ in range(40):',
          "        name = b''.join(bytes([len(l)]) + l for l in [os.urandom(6).hex().encode(), b'flood', b'test']) + b'\\0'",
          "        s.sendto(struct.pack('>HHHHHH', int.from_bytes(os.urandom(2), 'big'), 0x100, 1, 0, 0, 0) + name + struct.pack('>HH', 1, 1), ('10.0.1.1', 53))",
          '    time.sleep(0.1)',
        ].join('\n'),
      ],
      { timeout: 30_000 },
    );
    await new Promise((r) => setTimeout(r, 4000));
    const during = await dig();
    t.match(during, /status: NOERROR[\s\S]*192\.0\.2\.77/, 'during the flood the victim still resolves ok.test', {
      during,
    });
    await flood;
    // the meter's drops are counted in their own chain (and by port in its set)
    const dropped = (
      await exec(top.host, 'nft', ['list', 'chain', 'bridge', `brmgr-${top.bridge}`, 'drop-dns-rate-port'])
    ).stdout;
    const packets = Number(/counter packets (\d+) bytes \d+ drop/.exec(dropped)?.[1] ?? 0);
    t.ok(packets > 1000, `the attacker's port was held to its share (${packets} queries dropped)`);

    proc.kill('SIGTERM');
    t.equal((await proc).exitCode, 0, 'brmgr run stops cleanly');
    for (const g of [victim, attacker]) await ip(top.host, 'link', 'set', g.port, 'nomaster');
    await top.brmgr.down();
  });
}
