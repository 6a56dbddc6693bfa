/**
 * brmgr-pre / brmgr-post lifecycle, for both firewall backends: bring-up,
 * idempotence, convergence after a config change, and post restoring the
 * namespace exactly (also over a host iptables FORWARD policy of DROP).
 */
import t from 'tap';
import {
  BACKENDS,
  addressesOf,
  conf,
  ip,
  iptablesSave,
  Lab,
  link,
  must,
  nftRuleset,
  snapshot,
  sysctl,
  topology,
} from '../helpers/netns.js';
import { count, expectedMac, iptablesBrmgr, label, nftTable, skipReason, table } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

for (const backend of why ? [] : BACKENDS) {
  t.test(`bring-up, second pre, post (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const { host, bridge, brmgr } = await topology(lab);
    const before = await snapshot(host);
    t.equal(before.sysctls['net.ipv4.ip_forward'], '0', 'a new namespace starts without forwarding');

    brmgr.config(conf({ firewall: backend }));
    const r = await brmgr.pre();
    t.equal(r.exitCode, 0, 'pre exits 0', { output: r.output });

    const br = await link(host, bridge);
    t.ok(br, 'the bridge exists');
    t.equal(br?.kind, 'bridge', 'it is a bridge');
    t.ok(br?.flags.includes('UP'), 'it is up');
    t.equal(br?.address, expectedMac(bridge), 'it has the stable MAC (from the name and /etc/machine-id)');
    t.match(br?.address, /^[0-9a-f][26ae]:/, 'a locally administered unicast MAC');
    t.equal(br?.stp, 0, 'STP is off');
    t.same(await addressesOf(host, bridge, 'inet'), ['10.0.1.1/24'], 'it has the configured address');
    t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '1', 'ip_forward is on');

    const nft = await nftTable(host, bridge);
    const ipt = await iptablesSave(host);
    if (backend === 'nftables') {
      t.ok(nft, `nft table inet brmgr-${bridge} is present`);
      t.match(nft, /ip saddr 10\.0\.1\.0\/24 ip daddr != 10\.0\.1\.0\/24 masquerade/, 'it masquerades the subnet');
      // the forward chain sends what comes from the bridge to its half, which accepts the subnet
      t.match(nft, new RegExp(`iifname "${bridge}" goto from-bridge`), 'what comes from the bridge goes to its half');
      const half = /\n\tchain from-bridge \{\n([\s\S]*?)\n\t\}/.exec(nft ?? '')?.[1] ?? '';
      t.match(half, /\bip saddr 10\.0\.1\.0\/24 accept/, 'it accepts the guests’ forwarded traffic');
      // no shim where the host has no iptables filter table (nothing there refuses the guests), and none
      // made; the DHCP checksum is filled in by iptables
      const rules = await iptablesBrmgr(host, bridge);
      t.notOk(
        rules.some((r) => r.includes(`BRMGR-${bridge}-FWD`) || r.includes(`BRMGR-${bridge}-IN`)),
        'no shim in iptables',
      );
      t.notOk(table(ipt, 'filter').length, 'and no filter table');
      t.ok(
        rules.includes(`-A BRMGR-${bridge}-CSUM -o ${bridge} -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill`),
        'the DHCP checksum fill (mangle)',
      );
      t.notOk(
        rules.some((r) => /MASQUERADE|DNAT/.test(r)),
        'no NAT in iptables: that is the nft table’s',
      );
    } else {
      t.notOk(nft, 'no nft table of brmgr');
      const p = `BRMGR-${bridge}-`;
      t.equal(count(table(ipt, 'filter'), `-A FORWARD -j ${p}FWD`), 1, 'one jump from FORWARD');
      t.equal(count(table(ipt, 'filter'), `-A INPUT -i ${bridge} -j ${p}IN`), 1, 'one jump from INPUT');
      t.equal(count(table(ipt, 'nat'), `-A POSTROUTING -j ${p}POST`), 1, 'one jump from nat POSTROUTING');
      t.equal(
        count(table(ipt, 'nat'), `-A ${p}POST -s 10.0.1.0/24 ! -d 10.0.1.0/24 -j MASQUERADE`),
        1,
        'it masquerades the subnet',
      );
      t.equal(
        count(table(ipt, 'filter'), `-A ${p}FWD -s 10.0.1.0/24 -i ${bridge} -j ACCEPT`),
        1,
        'it accepts the guests’ forwarded traffic',
      );
    }

    const up = await snapshot(host);
    const again = await brmgr.pre();
    t.equal(again.exitCode, 0, 'second pre exits 0', { output: again.output });
    t.same(await snapshot(host), up, 'a second pre changes nothing (links, addresses, routes, rules, sysctls)');

    const down = await brmgr.post();
    t.equal(down.exitCode, 0, 'post exits 0', { output: down.output });
    t.same(await snapshot(host), before, 'post leaves the namespace as it was before pre');
    t.equal(brmgr.state(), undefined, 'no state is left in the run dir');

    const nothing = await brmgr.post();
    t.equal(nothing.exitCode, 0, 'post with nothing there succeeds');
    t.same(await snapshot(host), before, 'and changes nothing');
  });

  t.test(`post restores a host with iptables -P FORWARD DROP (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const { host, bridge, brmgr } = await topology(lab);
    await must(host, 'iptables', ['-P', 'FORWARD', 'DROP']);
    const before = await snapshot(host);
    brmgr.config(conf({ firewall: backend }));
    await brmgr.up();

    const ipt = table(await iptablesSave(host), 'filter');
    t.ok(ipt.includes(':FORWARD DROP [0:0]'), 'the host’s DROP policy stays');
    const jump = `-A FORWARD -j BRMGR-${bridge}-FWD`;
    t.equal(count(ipt, jump), 1, 'brmgr’s accept rules are reached from FORWARD, once');

    await brmgr.up();
    t.equal(
      count(table(await iptablesSave(host), 'filter'), `-A FORWARD -j BRMGR-${bridge}-FWD`),
      1,
      'still once after a second pre',
    );

    await brmgr.down();
    t.same(await snapshot(host), before, 'post leaves the namespace as it was before pre');
  });

  t.test(`a config change converges (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const { host, bridge, brmgr } = await topology(lab);
    const before = await snapshot(host);
    brmgr.config(conf({ firewall: backend }));
    await brmgr.up();
    const mac = (await link(host, bridge))?.address;

    brmgr.config(conf({ firewall: backend, address: '10.0.2.1/24' }));
    const r = await brmgr.pre();
    t.equal(r.exitCode, 0, 'pre after the change exits 0', { output: r.output });
    t.same(await addressesOf(host, bridge, 'inet'), ['10.0.2.1/24'], 'the old address is gone, the new one present');
    t.equal((await link(host, bridge))?.address, mac, 'the bridge was not recreated (same MAC)');

    const rules =
      backend === 'nftables' ? ((await nftTable(host, bridge)) ?? '') : (await iptablesBrmgr(host, bridge)).join('\n');
    t.match(rules, /10\.0\.2\.0\/24/, 'the rules name the new subnet');
    t.notMatch(rules, /10\.0\.1\.0\/24/, 'and no longer the old one');
    if (backend === 'iptables') {
      const ipt = await iptablesSave(host);
      t.equal(count(ipt, `-A FORWARD -j BRMGR-${bridge}-FWD`), 1, 'jumps are not duplicated');
      t.equal(count(ipt, `-A POSTROUTING -j BRMGR-${bridge}-POST`), 1, 'nat jump is not duplicated');
    } else {
      t.equal((await nftRuleset(host)).filter((l) => l.startsWith('table inet brmgr-')).length, 1, 'one brmgr table');
    }

    const same = await snapshot(host);
    await brmgr.up();
    t.same(await snapshot(host), same, 'pre again with the new config changes nothing');

    await brmgr.down();
    t.same(await snapshot(host), before, 'post leaves the namespace as it was before the first pre');
  });

  t.test(`addresses brmgr did not add stay (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const { host, bridge, brmgr } = await topology(lab);
    brmgr.config(conf({ firewall: backend }));
    await brmgr.up();
    // someone else's address on the bridge: not brmgr's to remove on a config change
    // (in another subnet: removing a primary IPv4 address takes the kernel's secondaries of its subnet along)
    await ip(host, 'address', 'add', '172.31.99.1/24', 'dev', bridge);
    brmgr.config(conf({ firewall: backend, address: '10.0.2.1/24' }));
    await brmgr.up();
    t.same(
      (await addressesOf(host, bridge, 'inet')).sort(),
      ['10.0.2.1/24', '172.31.99.1/24'],
      'a config change removes only brmgr’s old address',
    );
  });
}

for (const _ of why ? [] : [1]) {
  t.test('the bridge table keeps only the hooks it needs: an older version’s forward and input go', async (t) => {
    const lab = Lab.create(t);
    const { host, bridge, brmgr } = await topology(lab);
    brmgr.config(conf({ firewall: 'nftables' }));
    await brmgr.up();
    const hooks = async () =>
      (
        JSON.parse(await must(host, 'nft', ['-j', 'list', 'chains', 'bridge'])).nftables as {
          chain?: { table: string; name: string; hook?: string };
        }[]
      )
        .flatMap((o) => (o.chain?.table === `brmgr-${bridge}` && o.chain.hook ? [o.chain.name] : []))
        .sort();
    t.strictSame(await hooks(), ['prerouting'], 'basic on a NAT bridge: prerouting alone');
    // as an older brmgr left them: port security's rules in the forward and input hooks too
    for (const hook of ['forward', 'input']) {
      await must(host, 'nft', [
        'add',
        'chain',
        'bridge',
        `brmgr-${bridge}`,
        hook,
        `{ type filter hook ${hook} priority filter; policy accept; }`,
      ]);
      await must(host, 'nft', ['add', 'rule', 'bridge', `brmgr-${bridge}`, hook, 'udp', 'dport', '53', 'drop']);
    }
    t.strictSame(await hooks(), ['forward', 'input', 'prerouting'], 'an older table, as the test made it');
    await brmgr.up();
    t.strictSame(await hooks(), ['prerouting'], 'the next pre deletes the hooks it no longer fills, rules and all');
    const before = await snapshot(host);
    await brmgr.up();
    t.same(await snapshot(host), before, 'and a pre after that changes nothing');
  });
}
