/**
 * [dns] cname, srv, txt, mx and wildcard, a static host's own DNS servers and
 * boot file, and `[ipv4] gateway = false`: what they parse to, the one-line
 * errors for what is wrong, and the dnsmasq lines they become.
 */
import t from 'tap';
import { renderDhcpHosts, renderDnsmasqConf } from '../../src/dnsmasq/render.js';
import { paths } from '../../src/paths.js';
import { parseConfig } from '../../src/config/validate.js';
import { configProblems } from '../helpers/config.js';

const F = '/etc/brmgr/br0.conf';
const parse = (text: string) => parseConfig(text, F, 'br0');
const conf = (text: string) =>
  renderDnsmasqConf(parse(text), paths('br0', { BRMGR_RUN_DIR: '/run/brmgr', BRMGR_STATE_DIR: '/var/lib/misc' }), {
    user: 'dnsmasq',
    group: 'nogroup',
  }).split('\n');
const problems = (text: string): string[] => configProblems(() => parse(text));

const RECORDS = `[dns]
domain = lab.test
cname = www:web, alias.example.:www, docs:web.other.example.
srv = _http._tcp:web:80, _etcd-server._tcp:etcd.example.:2380:10:5
txt = info:hello world, _dmarc:v=DMARC1; p=none
mx = lab.test.:mail:10, other:mx.example.
wildcard = apps:10.0.1.50, apps:fd42::50, crc.example.:10.0.1.51
`;

t.test('records: names relative to the domain unless they end in a dot', async (t) => {
  t.strictSame(parse(RECORDS).dns.records, {
    cname: [
      { name: 'www.lab.test', target: 'web.lab.test' },
      { name: 'alias.example', target: 'www.lab.test' },
      { name: 'docs.lab.test', target: 'web.other.example' },
    ],
    srv: [
      { name: '_http._tcp.lab.test', target: 'web.lab.test', port: 80, priority: 0, weight: 0 },
      { name: '_etcd-server._tcp.lab.test', target: 'etcd.example', port: 2380, priority: 10, weight: 5 },
    ],
    txt: [
      { name: 'info.lab.test', text: 'hello world' },
      { name: '_dmarc.lab.test', text: 'v=DMARC1; p=none' },
    ],
    mx: [
      { name: 'lab.test', host: 'mail.lab.test', preference: 10 },
      { name: 'other.lab.test', host: 'mx.example', preference: 1 },
    ],
    wildcard: [
      { domain: 'apps.lab.test', ip: '10.0.1.50' },
      { domain: 'apps.lab.test', ip: 'fd42::50' },
      { domain: 'crc.example', ip: '10.0.1.51' },
    ],
  });
  t.strictSame(
    parse('[dns]\ncname = www:web\n').dns.records?.cname,
    [{ name: 'www', target: 'web' }],
    'without a domain, names as written',
  );
  t.equal(parse('').dns.records, undefined, 'none by default');
});

t.test("records become dnsmasq's own options", async (t) => {
  const lines = conf(RECORDS);
  for (const l of [
    'cname=www.lab.test,web.lab.test',
    'cname=alias.example,www.lab.test',
    'srv-host=_http._tcp.lab.test,web.lab.test,80,0,0',
    'srv-host=_etcd-server._tcp.lab.test,etcd.example,2380,10,5',
    'txt-record=info.lab.test,"hello world"',
    'txt-record=_dmarc.lab.test,"v=DMARC1; p=none"',
    'mx-host=lab.test,mail.lab.test,10',
    'mx-host=other.lab.test,mx.example,1',
    'address=/apps.lab.test/10.0.1.50',
    'address=/apps.lab.test/fd42::50',
    'address=/crc.example/10.0.1.51',
  ])
    t.ok(lines.includes(l), l);
  t.notOk(
    conf('').some((l) => /^(cname|srv-host|txt-record|mx-host|address)=/.test(l)),
    'no record lines by default',
  );
});

t.test('bad records: one line each, naming the item', async (t) => {
  const cases: [string, string][] = [
    ['cname = www', "[dns] cname: 'www' is not NAME:TARGET (like www:web)"],
    ['cname = www:10.0.1.5', "'10.0.1.5' is not a host name (the target of a CNAME is a name, never an address)"],
    ['cname = a:b, b:c, c:a', 'CNAME loop: a.lab.test → b.lab.test → c.lab.test → a.lab.test'],
    ['cname = a:a', 'CNAME loop: a.lab.test → a.lab.test'],
    ['cname = a:b, a:c', 'a.lab.test is given a CNAME twice'],
    ['cname = we_b:web', "'we_b' is not a host name"],
    ['srv = http:web:80', "'http:web:80' is not _SERVICE._PROTO:TARGET:PORT"],
    ['srv = _http._tcp:web', "'_http._tcp:web' is not _SERVICE._PROTO:TARGET:PORT"],
    ['srv = _http._tcp:web:0', "'_http._tcp:web:0': port 0 is out of range 1-65535"],
    ['srv = _http._tcp:web:70000', 'port 70000 is out of range 1-65535'],
    ['srv = _http._tcp:web:80:x', 'priority x is out of range 0-65535'],
    ['srv = _http._tcp:web:80:1:99999', 'weight 99999 is out of range 0-65535'],
    ['srv = _http._tcp:10.0.1.5:80', 'the target of SRV is a name, never an address'],
    ['txt = info', "'info' is not NAME:TEXT"],
    ['txt = info:say "hi"', 'the text must be printable ASCII without " or \\'],
    ['mx = lab.test.', "'lab.test.' is not NAME:HOST[:PREFERENCE]"],
    ['mx = lab.test.:mail:65536', 'preference 65536 is out of range 0-65535'],
    ['mx = lab.test.:192.0.2.25', 'the mail server of MX is a name, never an address'],
    ['wildcard = apps', "'apps' is not DOMAIN:IP (like apps:10.0.1.50)"],
    ['wildcard = apps:mail', "'apps:mail' is not DOMAIN:IP"],
    ['wildcard = apps:224.0.0.1', '224.0.0.1 is not a unicast address'],
    ['wildcard = apps:10.0.1.5, apps:10.0.1.6', 'apps.lab.test already has an IPv4 address'],
  ];
  for (const [line, message] of cases) {
    const got = problems(`[dns]\ndomain = lab.test\n${line}\n`);
    t.equal(got.length, 1, line, { got });
    t.match(got[0] ?? '', `${F}:3: [dns] `, `${line}: on its line`);
    t.match(got[0] ?? '', message, `${line}: ${message}`);
  }
  t.match(
    problems('[dns]\ndomain = lab.test\nwildcard = test.:10.0.1.5\n'),
    [`${F}:3: [dns] wildcard: 'test.:10.0.1.5': test holds the guests' domain lab.test`],
    "a wildcard above the guests' domain would answer for every guest",
  );
  t.match(problems('[dns]\nenable = false\ncname = www:web\n'), [
    `${F}:3: [dns] cname: answered by dnsmasq: needs [dns] enable = true`,
  ]);
  t.match(problems('[dns]\ndomain = lab.test\ncname = web:db\n[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n'), [
    `${F}:3: [dns] cname: web.lab.test is [host.web]'s name; a name with a CNAME can have no address of its own`,
  ]);
});

t.test("a static host's own DNS servers and boot file: tagged in dhcp-hosts, told to it alone", async (t) => {
  const text = `[pxe]
tftp_root = /srv/tftp
boot_file = pxelinux.0
[host.web]
mac = 52:54:00:00:00:10
ip = 10.0.1.10
dns = 192.0.2.53, 192.0.2.54
boot_file = ipxe/web.efi
[host.db]
mac = 52:54:00:00:00:11
ip = 10.0.1.11
`;
  const c = parse(text);
  t.strictSame(c.hosts[0], {
    name: 'web',
    mac: '52:54:00:00:00:10',
    ip: '10.0.1.10',
    dns: ['192.0.2.53', '192.0.2.54'],
    bootFile: 'ipxe/web.efi',
  });
  t.equal(
    renderDhcpHosts(c),
    '52:54:00:00:00:10,set:host-web,10.0.1.10,web\n52:54:00:00:00:11,10.0.1.11,db\n',
    'only the host with options of its own is tagged',
  );
  const lines = conf(text);
  t.ok(lines.includes('dhcp-option=tag:host-web,option:dns-server,192.0.2.53,192.0.2.54'), 'option 6 for its tag');
  const boot = lines.filter((l) => l.startsWith('dhcp-boot='));
  t.strictSame(
    boot,
    ['dhcp-boot=pxelinux.0,,10.0.1.1', 'dhcp-boot=tag:host-web,ipxe/web.efi,,10.0.1.1'],
    "its boot file after [pxe]'s (dnsmasq tries the last first), from the same next server",
  );
  const bad = (line: string) =>
    problems(`[ipv4]\ndhcp = false\n[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n${line}\n`);
  t.match(bad('dns = 192.0.2.53'), [`${F}:6: [host.web] dns: told to the guest by DHCP: needs [ipv4] dhcp = true`]);
  const host = (line: string) => problems(`[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n${line}\n`);
  t.match(host('dns = resolver'), [`${F}:4: [host.web] dns: 'resolver' is not an IPv4 address`]);
  t.match(host('dns = 127.0.0.53'), [`${F}:4: [host.web] dns: 127.0.0.53 is not a unicast address`]);
  t.match(host('dns = 192.0.2.53, 192.0.2.53'), [`${F}:4: [host.web] dns: 192.0.2.53 is given twice`]);
  t.match(host('boot_file = ../etc/shadow'), [`${F}:4: [host.web] boot_file: '../etc/shadow' is not a boot file name`]);
});

t.test('gateway = false: no option 3, and no default route among the classless routes', async (t) => {
  const c = parse('[ipv4]\ngateway = false\nroutes = 192.168.100.0/24 via 10.0.1.5\n');
  t.equal(c.ipv4.gateway, false);
  const lines = conf('[ipv4]\ngateway = false\nroutes = 192.168.100.0/24 via 10.0.1.5\n');
  t.ok(lines.includes('dhcp-option=option:router'), 'an empty router option: dnsmasq sends none');
  t.ok(lines.includes('dhcp-option=option:classless-static-route,192.168.100.0/24,10.0.1.5'), 'option 121');
  t.ok(lines.includes('dhcp-option=249,192.168.100.0/24,10.0.1.5'), 'option 249');
  t.notOk(conf('').includes('dhcp-option=option:router'), 'by default the bridge is the gateway');
  t.equal(parse('[ipv4]\ngateway = true\n').ipv4.gateway, undefined, 'gateway = true is the default');
  t.match(problems('[ipv4]\ndhcp = false\ngateway = false\n'), [
    `${F}:3: [ipv4] gateway: told to guests by DHCP: needs dhcp = true`,
  ]);
});
