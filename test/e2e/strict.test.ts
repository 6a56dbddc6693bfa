/**
 * `port_security = strict` with `brmgr run`: a guest that leased keeps working (the outside, its
 * neighbour); what a guest sends from a MAC its port is not bound to, or from an address it was not
 * given, reaches nothing, and it cannot claim another guest's address in ARP; it reaches only the host
 * ports it is allowed (a listener on tcp:2222 only once `host_ports` names it); `[host.NAME]
 * port_security = off` lets a router VM send from other addresses. scapy forges the frames; the
 * outside counts what reaches it (nft counters by ICMP id).
 *
 * host ── bridge 10.0.1.1/24 ── victim   (52:54:00:00:00:b1)
 *                          ├── attacker (52:54:00:00:00:b2)
 *                          └── router   (52:54:00:00:00:b3, [host.router] port_security = off)
 * host ── uplink 192.0.2.1/24 ~ outside 192.0.2.2/24
 */
import t from 'tap';
import { chmodSync } from 'node:fs';
import { exec, ip, Lab, must, ping, tcpConnect, tcpEchoPeer, topology, type Topology } from '../helpers/netns.js';
import {
  dnsmasqReady,
  follow,
  plugGuest,
  type PortGuest,
  PYTHON,
  scapyMissing,
  skipReason,
  udhcpcRun,
} from '../helpers/e2e.js';

const VICTIM_MAC = '52:54:00:00:00:b1';
const ATTACKER_MAC = '52:54:00:00:00:b2';
const ROUTER_MAC = '52:54:00:00:00:b3';

const why = skipReason() ?? scapyMissing();
if (why) t.plan(0, why);

/**
 * ping: echo requests to DST, in a frame to DST_MAC (the gateway's, or a neighbour's) from SRC_MAC/SRC_IP with
 * ICMP id ID, tagged with VLAN VID if given; garp: claim an address.
 */
const FORGE = `
import sys, time
from scapy.all import ARP, ICMP, IP, Dot1Q, Ether, conf, sendp
conf.verb = 0
cmd, iface = sys.argv[1], sys.argv[2]
mine = open(f'/sys/class/net/{iface}/address').read().strip()
if cmd == 'ping':
    src_mac, src_ip, dst_mac, dst, icmp_id = sys.argv[3:8]
    frame = Ether(src=src_mac, dst=dst_mac)
    if len(sys.argv) > 8:
        frame = frame / Dot1Q(vlan=int(sys.argv[8]))
    frame = frame / IP(src=src_ip, dst=dst) / ICMP(type=8, id=int(icmp_id), seq=1)
    for _ in range(5):
        sendp(frame, iface=iface); time.sleep(0.2)
elif cmd == 'garp':
    claimed = sys.argv[3]
    frame = Ether(src=mine, dst='ff:ff:ff:ff:ff:ff') / ARP(op=2, hwsrc=mine, psrc=claimed, hwdst='ff:ff:ff:ff:ff:ff', pdst=claimed)
    for _ in range(5):
        sendp(frame, iface=iface); time.sleep(0.3)
`;

/** A lease from the bridge, configured on the guest with the default route. */
async function lease(g: PortGuest): Promise<string> {
  const r = await udhcpcRun(g.ns, g.ifname, { tries: 6 });
  const got = /lease of (\S+) obtained from 10\.0\.1\.1,/.exec(r.output)?.[1];
  if (!got) throw new Error(`no lease: ${r.output}`);
  await ip(g.ns, 'address', 'add', `${got}/24`, 'dev', g.ifname);
  await ip(g.ns, 'route', 'replace', 'default', 'via', '10.0.1.1');
  return got;
}

const CONFIG = (extra = '') =>
  '[bridge]\nfirewall = nftables\nport_security = strict\n' +
  extra +
  `[ipv4]\naddress = 10.0.1.1/24\n[host.router]\nmac = ${ROUTER_MAC}\nip = 10.0.1.20\nport_security = off\n`;

/** The ICMP ids the outside counts echo requests of. */
const IDS = { control: 4101, spoofedMac: 4102, notGiven: 4103, router: 4104 } as const;

async function countOutside(top: Topology): Promise<void> {
  const rules = Object.values(IDS)
    .map((id) => `add rule ip count in icmp type echo-request icmp id ${id} counter`)
    .join('; ');
  await must(top.outside, 'nft', [
    `add table ip count; add chain ip count in { type filter hook input priority 0; }; ${rules}`,
  ]);
}

async function counted(top: Topology): Promise<Record<number, number>> {
  const text = await must(top.outside, 'nft', ['list', 'chain', 'ip', 'count', 'in']);
  const out: Record<number, number> = {};
  for (const m of text.matchAll(/icmp id (\d+) counter packets (\d+)/g)) out[Number(m[1])] = Number(m[2]);
  return out;
}

for (const _ of why ? [] : [1]) {
  t.test('port_security = strict: bound ports, given addresses, allowed host ports', async (t) => {
    const lab = Lab.create(t);
    // dnsmasq, unprivileged, reads the static hosts in the run dir below
    chmodSync(lab.dir, 0o711);
    const top = await topology(lab);
    await countOutside(top);
    top.brmgr.config(CONFIG());
    const proc = top.brmgr.run();
    await dnsmasqReady(follow(proc));
    const bridgeMac = JSON.parse(await ip(top.host, '-json', 'link', 'show', top.bridge))[0].address as string;
    const forge = (g: PortGuest, ...args: string[]) =>
      exec(g.ns, PYTHON, [lab.file('forge.py', FORGE), args[0]!, g.ifname, ...args.slice(1)], { timeout: 30_000 });

    const victim = await plugGuest(top, 'victim', VICTIM_MAC);
    const attacker = await plugGuest(top, 'attacker', ATTACKER_MAC);
    const router = await plugGuest(top, 'router', ROUTER_MAC);

    // guests that leased keep working
    const victimIp = await lease(victim);
    const attackerIp = await lease(attacker);
    t.ok(await ping(victim.ns, '192.0.2.2', 10), 'a guest that leased reaches the outside');
    t.ok(await ping(victim.ns, attackerIp, 10), 'and its neighbour');
    t.ok(await ping(attacker.ns, victimIp, 10), 'and its neighbour it');
    // what passes a strict port's frames at one lookup: its own MAC and lease
    const bound4 = await must(top.host, 'nft', ['list', 'set', 'bridge', `brmgr-strict-${top.bridge}`, 'bound4']);
    t.ok(bound4.includes(`"${victim.port}" . ${VICTIM_MAC} . ${victimIp}`), "the victim's port, MAC and lease", {
      bound4,
    });
    t.match(
      (await exec(victim.ns, 'dig', ['@10.0.1.1', 'router', '+short', '+time=2', '+tries=2'])).stdout,
      /^10\.0\.1\.20$/m,
      'DNS on the host answers',
    );

    // the attacker's own frame is counted (the counters work); a spoofed MAC and an address not given are not
    await forge(attacker, 'ping', ATTACKER_MAC, attackerIp, bridgeMac, '192.0.2.2', String(IDS.control));
    await forge(attacker, 'ping', '52:54:00:66:66:66', attackerIp, bridgeMac, '192.0.2.2', String(IDS.spoofedMac));
    await forge(attacker, 'ping', ATTACKER_MAC, '10.0.1.99', bridgeMac, '192.0.2.2', String(IDS.notGiven));
    let seen = await counted(top);
    t.ok((seen[IDS.control] ?? 0) > 0, 'control: what the attacker sends as itself reaches the outside', { seen });
    t.equal(seen[IDS.spoofedMac], 0, 'from a MAC its port is not bound to: nothing reaches the outside', { seen });
    t.equal(seen[IDS.notGiven], 0, 'from an address it was not given: nothing reaches the outside', { seen });

    // its own MAC and address in a VLAN tag (into a VLAN of the LAN, in bridged mode): dropped as another
    // frame type; the victim counts what reaches it, tagged and untagged, by the frames' ICMP id
    await must(victim.ns, 'nft', [
      `add table netdev count; add chain netdev count in { type filter hook ingress device ${victim.ifname} priority 0; }; ` +
        `add rule netdev count in vlan id 5 counter; add rule netdev count in ether type ip icmp id ${IDS.control} counter`,
    ]);
    await forge(attacker, 'ping', ATTACKER_MAC, attackerIp, VICTIM_MAC, victimIp, String(IDS.control));
    await forge(attacker, 'ping', ATTACKER_MAC, attackerIp, VICTIM_MAC, victimIp, String(IDS.control), '5');
    const atVictim = [
      ...(await must(victim.ns, 'nft', ['list', 'chain', 'netdev', 'count', 'in'])).matchAll(/packets (\d+)/g),
    ].map((m) => Number(m[1]));
    t.ok((atVictim[1] ?? 0) > 0, 'control: its untagged frames to its neighbour arrive', { atVictim });
    t.equal(atVictim[0], 0, 'in a VLAN tag, from its own MAC and address: nothing arrives', { atVictim });

    // the host itself: only DHCP, DNS, TFTP, NTP, plus host_ports
    const listener = await tcpEchoPeer(lab, top.host, 2222);
    t.notOk((await tcpConnect(victim.ns, '10.0.1.1', 2222)).ok, 'a listener on the bridge address is out of reach');
    // a listener of its own: busybox nc serves one connection, and this one must not find it taken
    await tcpEchoPeer(lab, top.host, 2223);
    t.notOk((await tcpConnect(victim.ns, '192.0.2.1', 2223)).ok, 'and on the uplink address');
    t.ok(await ping(victim.ns, '10.0.1.1'), 'the gateway answers pings');

    // an ARP claim on the victim's address leaves the host's entry for it alone
    t.ok(await ping(top.host, victimIp), 'the host reaches the victim');
    await new Promise((r) => setTimeout(r, 1200)); // past the neighbour entry's locktime
    await forge(attacker, 'garp', victimIp);
    const neigh = await ip(top.host, 'neigh', 'show', victimIp, 'dev', top.bridge);
    t.match(neigh, new RegExp(`lladdr ${VICTIM_MAC}`), 'the host still has the victim’s MAC for its address', {
      neigh,
    });

    // [host.router] port_security = off: its own lease, then anything it sends
    const routerIp = await lease(router);
    t.equal(routerIp, '10.0.1.20', 'the router VM gets its static lease');
    t.ok((await tcpConnect(router.ns, '10.0.1.1', 2222)).ok, 'the router VM reaches every host port');
    await forge(router, 'ping', ROUTER_MAC, '10.0.1.99', bridgeMac, '192.0.2.2', String(IDS.router));
    seen = await counted(top);
    t.ok((seen[IDS.router] ?? 0) > 0, 'and what it sends from another address reaches the outside', { seen });

    // status: each port's guest and level
    const status = JSON.parse((await top.brmgr.cli('status', top.bridge, '--json')).stdout) as {
      guests: { port: string; mac?: string; level: string; addresses: string[] }[];
    };
    const of = (g: PortGuest) => status.guests?.find((p) => p.port === g.port);
    t.match(of(victim), { mac: VICTIM_MAC, level: 'strict' }, 'status: the victim’s port, strict');
    t.ok(of(victim)?.addresses.includes(victimIp), 'with its lease');
    t.match(of(router), { mac: ROUTER_MAC, level: 'off' }, 'the router VM’s, off');

    // host_ports opens the listener; the guests stay bound through the reload
    listener.proc.kill();
    await listener.proc.catch(() => undefined);
    const again = await tcpEchoPeer(lab, top.host, 2222);
    top.brmgr.config(CONFIG('host_ports = tcp:2222\n'));
    const reload = await top.brmgr.cli('reload', top.bridge);
    t.equal(reload.exitCode, 0, 'reload', { output: reload.output });
    t.ok((await tcpConnect(victim.ns, '10.0.1.1', 2222)).ok, 'host_ports = tcp:2222: the victim reaches it');
    again.proc.kill();
    await again.proc.catch(() => undefined);
    t.ok(await ping(victim.ns, '192.0.2.2'), 'and still the outside: the reload kept its binding');

    proc.kill('SIGTERM');
    t.equal((await proc).exitCode, 0, 'brmgr run stops cleanly');
    for (const g of [victim, attacker, router]) await ip(top.host, 'link', 'set', g.port, 'nomaster');
    await top.brmgr.down();
    for (const family of ['bridge', 'inet'])
      t.equal(
        (await exec(top.host, 'nft', ['list', 'table', family, `brmgr-strict-${top.bridge}`])).exitCode,
        1,
        `post removes the ${family} strict table`,
      );
  });
}
