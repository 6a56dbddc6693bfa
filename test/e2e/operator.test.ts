/**
 * What the person running a host meets: `down` while the service serves, what `run` leaves up when
 * stopped, and `status` telling what each bridge is, stopped ones and a broken config included.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { addressesOf, Brmgr, ip, link, sysctl, waitFor } from '../helpers/netns.js';
import { nftTable, serving, skipReason, udhcpc } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const CONFIG = `[bridge]
firewall = nftables
[ipv4]
address = 10.0.1.1/24
range = 10.0.1.100-10.0.1.149, 10.0.1.200-10.0.1.249
lease_time = 2h
[ipv6]
address = fd42:0:1::1/64
nat = true
[dns]
domain = lab.test
; never forward out of the test's namespaces
upstream = 10.0.1.1
[host.web]
mac = 52:54:00:00:00:10
ip = 10.0.1.10
[forward.http]
port = 8080
to = web:80
`;

t.test(
  'down refuses while brmgr run serves the bridge; stopped, run leaves it up and says so; then down removes it',
  { skip: why },
  async (t) => {
    const { top, proc, log } = await serving(t, CONFIG);
    const { host, bridge, brmgr } = top;

    for (const r of [await brmgr.cli('down', bridge), await brmgr.post()]) {
      const prog = r.command.includes('brmgr-post') ? 'brmgr-post' : 'brmgr';
      t.equal(r.exitCode, 2, `${prog} down while the service serves: exit 2`, { output: r.output });
      t.match(
        r.stderr,
        new RegExp(`^${prog}: brmgr run serves ${bridge} \\(pid ${proc.pid}\\) and would bring it back at once; `),
        'naming the service and its pid',
      );
      t.match(r.stderr, `systemctl stop brmgr@${bridge}`, 'saying how to stop it');
      t.match(r.stderr, /or add --force$/m, 'and how to insist');
      t.equal(r.stderr.trimEnd().split('\n').length, 1, 'in one line');
    }
    await sleep(300);
    t.same(await addressesOf(host, bridge, 'inet'), ['10.0.1.1/24'], 'the bridge is untouched');
    t.ok(await nftTable(host, bridge), "and so is brmgr's nft table");
    t.notOk(
      log.some((e) => String(e.msg).includes('taken down while brmgr run serves it')),
      'the service had nothing to bring back',
    );

    proc.kill('SIGINT');
    t.equal((await proc).exitCode, 0, 'Ctrl-C stops brmgr run, exit 0');
    await waitFor('the last log line', async () => log.some((e) => e.event === 'stopped'), 5_000);
    const last = log.find((e) => e.event === 'stopped')!;
    t.match(
      String(last.msg),
      `left up: the bridge ${bridge}, its addresses, firewall/NAT rules and sysctls (ip_forward); brmgr down ${bridge} removes them`,
      'its last line says what it left up and how to remove it',
    );
    t.same(await addressesOf(host, bridge, 'inet'), ['10.0.1.1/24'], 'and it did leave the bridge with its address');
    t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '1', 'ip_forward = 1');
    t.match(await nftTable(host, bridge), /masquerade/, 'and the NAT rules');

    const stopped = await brmgr.cli('status', bridge);
    t.equal(stopped.exitCode, 0, 'status of the bridge left up: exit 0', { output: stopped.output });
    t.match(stopped.stdout, `${bridge}: up, brmgr run is not running (brmgr down ${bridge} removes it)\n`);

    await ip(host, 'link', 'set', top.port, 'nomaster');
    const down = await brmgr.cli('down', bridge);
    t.equal(down.exitCode, 0, 'down with the service stopped: exit 0', { output: down.output });
    t.notOk(await link(host, bridge), 'the bridge is gone');
    t.notOk(await nftTable(host, bridge), 'and its table');
    t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '0', 'ip_forward is back to 0');
    const gone = await brmgr.cli('status', bridge);
    t.equal(gone.exitCode, 1, 'status of the configured bridge not up: exit 1', { output: gone.output });
    t.match(gone.stdout, new RegExp(`^${bridge}: stopped\\n  config     ${join(brmgr.confDir, bridge)}\\.conf\\n`));
  },
);

t.test(
  'status: what each bridge is (mode, addresses, ranges, DNS, hosts, forwards, IPv6), stopped and broken ones too',
  { skip: why },
  async (t) => {
    const { lab, top, log } = await serving(t, CONFIG);
    const { host, bridge, brmgr, guest, guestIf, port } = top;
    const idle = new Brmgr(lab, host, lab.name('st'));
    idle.config('[bridge]\nmode = isolated\n[ipv4]\naddress = 10.0.9.1/24\ndhcp = false\n[dns]\nenable = false\n');
    const broken = new Brmgr(lab, host, lab.name('bk'));
    broken.config('[ipv4]\nadress = 10.0.8.1/24\n');
    t.match(
      await udhcpc(guest, guestIf),
      /^10\.0\.1\.(1[0-4]\d|2[0-4]\d)$/,
      'a guest leases from the first range or the second',
    );

    const text = await brmgr.cli('status');
    t.equal(text.exitCode, 0, 'status: exit 0', { output: text.output });
    const block = (name: string) => text.stdout.split('\n\n').find((b) => b.startsWith(`${name}: `)) ?? '';
    const served = block(bridge);
    t.match(served, new RegExp(`^${bridge}: up, served by brmgr run \\(pid \\d+\\)\\n`), 'the headline: up and served');
    for (const line of [
      `  config     ${join(brmgr.confDir, bridge)}.conf`,
      '  mode       nat, firewall nftables, port security basic',
      '  ipv4       10.0.1.1/24, DHCP 10.0.1.100-10.0.1.149 10.0.1.200-10.0.1.249, lease 2h',
      '  ipv6       fd42:0:1::1/64, RA on, DHCPv6 off, NAT on',
      '  dns        domain lab.test, upstream 10.0.1.1',
      '  hosts      web 52:54:00:00:00:10 10.0.1.10',
      '  forwards   http: tcp 8080 → 10.0.1.10:80',
      '  addresses  10.0.1.1/24 fd42:0:1::1/64',
      `  ports      ${port}`,
      "  firewall   nftables (no iptables shim: nothing in iptables' filter table refuses the guests)",
      '  leases     1',
    ]) {
      t.ok(served.split('\n').includes(line), `shows: ${line.trim()}`, { served });
    }
    t.match(served, /\n {2}dnsmasq {4}pid \d+, up \d+s, 0 restarts/, 'and its dnsmasq');
    t.match(
      block(idle.bridge),
      new RegExp(
        `^${idle.bridge}: stopped\\n.*\\n  mode       isolated, port security basic\\n  ipv4       10\\.0\\.9\\.1/24, no DHCP\\n  dns        off$`,
      ),
      'a configured bridge not up is listed as stopped, with its config',
    );
    t.match(
      block(broken.bridge),
      new RegExp(
        `^${broken.bridge}: stopped\\n  config     error: .*${broken.bridge}\\.conf:2: \\[ipv4\\] adress: unknown key`,
      ),
      'and one whose config is broken, with the error',
    );

    const all = await brmgr.cli('status', '--json');
    const reports = JSON.parse(all.stdout) as Record<string, unknown>[];
    t.same(
      reports.map((r) => r.bridge),
      [bridge, broken.bridge, idle.bridge].sort(),
      'status --json: every configured bridge',
    );
    const mine = reports.find((r) => r.bridge === bridge)!;
    t.match(
      mine,
      {
        state: 'up',
        service: 'serving',
        leases: 1,
        ports: [port],
        configError: null,
        config: {
          mode: 'nat',
          ipv4: { address: '10.0.1.1/24', ranges: ['10.0.1.100-10.0.1.149', '10.0.1.200-10.0.1.249'], leaseTime: '2h' },
          ipv6: { address: 'fd42:0:1::1/64', ra: true, dhcp: 'off', nat: true },
          dns: { domain: 'lab.test', upstream: ['10.0.1.1'] },
          hosts: [{ name: 'web', mac: '52:54:00:00:00:10', ip: '10.0.1.10' }],
          forwards: [{ name: 'http', proto: 'tcp', port: '8080', to: '10.0.1.10:80' }],
        },
      },
      'carrying the same',
    );
    t.match(
      reports.find((r) => r.bridge === idle.bridge),
      { state: 'absent', service: 'stopped', config: { mode: 'isolated' } },
    );

    // a broken edit: the old config serves on, and status says both
    writeFileSync(join(brmgr.confDir, `${bridge}.conf`), `${CONFIG}bogus = 1\n`);
    await waitFor('the edit refused', async () => log.some((e) => e.event === 'reload' && e.level === 50), 10_000);
    const one = await brmgr.cli('status', bridge);
    t.equal(one.exitCode, 0, 'status BRIDGE: exit 0', { output: one.output });
    t.match(
      one.stdout,
      new RegExp(
        `^${bridge}: up, served by brmgr run \\(pid \\d+\\)\\n  config     error; brmgr run serves the config it read before:\\n {13}/.*${bridge}\\.conf:\\d+: `,
      ),
      'a config error while the old config serves: both are said',
    );
    const json = JSON.parse((await brmgr.cli('status', bridge, '--json')).stdout) as Record<string, unknown>;
    t.match(json, { service: 'serving', config: null, configError: /conf:\d+: / }, 'and in JSON');
  },
);
