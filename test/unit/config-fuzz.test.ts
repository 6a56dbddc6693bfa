/**
 * Property-based: thousands of generated configs per run, built from the real
 * sections and keys with valid, near-valid and hostile values. The parser and
 * validator never throw anything but a ConfigError, every error is one line
 * `FILE:LINE: ...`, and whatever is accepted renders (dnsmasq's config, both
 * firewall backends) with every rendered line its own, never a value's.
 * Parsing is pure: no file is read, so paths among the values are only text.
 */
import t from 'tap';
import fc from 'fast-check';
import { FLAT_KEYS, SECTION_KEYS } from '../../src/config/schema.js';
import { ConfigError, formatProblem, parseConfig } from '../../src/config/validate.js';
import { renderDhcpHosts, renderDnsmasqConf, renderHosts } from '../../src/dnsmasq/render.js';
import { iptables } from '../../src/firewall/iptables.js';
import { nftables } from '../../src/firewall/nftables.js';
import { EVERYWHERE } from '../../src/firewall/shim.js';
import { firewallIntent } from '../../src/firewall/policy.js';
import { paths } from '../../src/paths.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 5000);
const FILE = '/etc/brmgr/br0.conf';

// values that are valid somewhere, almost valid, or hostile
const VALUES = [
  'nat',
  'routed',
  'isolated',
  'bridged',
  'auto',
  'nftables',
  'iptables',
  'none',
  'true',
  'false',
  'yes',
  '0',
  '1',
  '10.0.1.1/24',
  '10.0.1.1',
  '10.0.1.0/24',
  '10.9.9.1/5',
  '192.168.7.1/30',
  '0.0.0.0/0',
  '255.255.255.0',
  '10.0.1.2-10.0.1.254',
  '10.0.1.10-10.0.1.20, 10.0.1.30-10.0.1.40',
  '10.0.1.20-10.0.1.10',
  'fd42:0:1::1/64',
  'fd42:0:1::1%up0/64',
  'fe80::1/64',
  '::1',
  'fd42:0:1::10',
  '52:54:00:00:00:10',
  '52:54:00:00:00:1',
  'ff:ff:ff:ff:ff:ff',
  '1h',
  '30m',
  '3600',
  'infinite',
  '1s',
  '99999999999999w',
  '1500',
  '68',
  '65536',
  '-1',
  '8080',
  '8000-8010',
  '10.0.1.10:80',
  'web:80',
  'tcp',
  'udp',
  'sctp',
  'example.com',
  'corp=10.0.0.53#5353',
  '10.0.0.53#0',
  '10.0.0.53#53',
  '::1#53',
  'lab.test',
  '-x',
  '--conf-file=/etc/shadow',
  '/etc/hosts',
  '/dev/zero',
  '../x',
  '/tmp',
  'self',
  '10.0.2.0/24 via 10.0.1.254',
  '0.0.0.0/0 via 10.0.1.1',
  'pxelinux.0',
  'a,b',
  'x\ny',
  'é',
  '*',
  '',
  ' ',
  '"quoted"',
  "'single'",
  'a;b',
  'a#b',
  '%s%n',
  '\u001b[2J',
  'a\u0000b',
  'x'.repeat(300),
  'br0',
  'eth0',
];

const sectionName = fc.oneof(
  fc.constantFrom(...Object.keys(SECTION_KEYS).filter((s) => !s.endsWith('*'))),
  fc
    .constantFrom('host', 'forward')
    .chain((k) => fc.constantFrom('web', 'db', 'a.b', '', 'x y').map((n) => `${k}.${n}`)),
  fc.constantFrom('bridg', 'IPV4', 'dns ', '[x]', ''),
);
const keyFor = (section: string) => {
  const kind = section.includes('.') ? `${section.split('.')[0]}.*` : section;
  const keys = SECTION_KEYS[kind] ?? [];
  return fc.oneof({ weight: 5, arbitrary: keys.length ? fc.constantFrom(...keys) : fc.constant('key') }, fc.string());
};
const value = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...VALUES) },
  fc.string(),
  fc.string({ unit: 'grapheme' }),
);
const section = sectionName.chain((name) =>
  fc
    .array(fc.tuple(keyFor(name), value), { maxLength: 6 })
    .map((entries) => `[${name}]\n${entries.map(([k, v]) => `${k} = ${v}`).join('\n')}\n`),
);
const flat = fc.array(fc.tuple(fc.constantFrom(...Object.keys(FLAT_KEYS)), value), { maxLength: 3 });
const configText = fc
  .tuple(flat, fc.array(section, { maxLength: 6 }))
  .map(([f, s]) => `${f.map(([k, v]) => `${k}="${v}"`).join('\n')}\n${s.join('')}`);

// mostly valid configs, each key now and then given a hostile value: most are accepted and rendered
const GOOD: Record<string, Record<string, string[]>> = {
  bridge: {
    mode: ['nat', 'routed', 'isolated'],
    firewall: ['auto', 'nftables', 'iptables', 'none'],
    mtu: ['1400', '1500', '9000'],
    stp: ['true', 'false'],
    mac: ['52:54:00:12:34:56'],
  },
  ipv4: {
    address: ['10.0.1.1/24', '192.168.50.1/24', '10.20.0.1/16'],
    dhcp: ['true', 'false'],
    lease_time: ['1h', '12h', 'infinite', '600'],
    ntp: ['self', '10.0.1.5, self'],
  },
  ipv6: { address: ['fd42:0:1::1/64'], ra: ['true', 'false'], dhcp: ['off', 'stateless', 'stateful'], nat: ['true'] },
  dns: {
    enable: ['true', 'false'],
    domain: ['lab.test', 'example.org'],
    upstream: ['10.0.0.53', '10.0.0.53#5353, corp.example=10.0.0.54', '2001:db8::53'],
  },
  'host.web': { mac: ['52:54:00:00:00:10'], ip: ['10.0.1.10'], lease_time: ['2h'] },
  'forward.http': { proto: ['tcp', 'udp'], port: ['8080', '8000-8001'], to: ['10.0.1.10:80', 'web:80', 'web:80-81'] },
};
const goodSection = ([name, keys]: [string, Record<string, string[]>]) =>
  fc
    .tuple(
      ...Object.entries(keys).map(([k, vs]) =>
        fc.option(
          fc
            .oneof({ weight: 12, arbitrary: fc.constantFrom(...vs) }, fc.constantFrom(...VALUES))
            .map((v) => `${k} = ${v}`),
          { freq: 2 },
        ),
      ),
    )
    .map((lines) => `[${name}]\n${lines.filter((l) => l !== null).join('\n')}\n`);
const likelyConfig = fc
  .subarray(Object.entries(GOOD))
  .chain((sections) => (sections.length ? fc.tuple(...sections.map(goodSection)) : fc.constant([])))
  .map((sections) => sections.join(''));

const OPTION = /^[a-z][a-z0-9-]*(=.*)?$/;
const account = { user: 'dnsmasq', group: 'nogroup' };

t.test(`${RUNS} generated configs: a config or one-line errors, and what is accepted renders`, async (t) => {
  let accepted = 0;
  let refused = 0;
  fc.assert(
    fc.property(fc.oneof(configText, likelyConfig), (text) => {
      let cfg: ReturnType<typeof parseConfig>;
      try {
        cfg = parseConfig(text, FILE, 'br0');
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        refused++;
        const lines = text.split('\n').length;
        for (const p of err.problems) {
          const line = formatProblem(p);
          if (line.includes('\n') || line.includes('\r')) throw new Error(`two lines: ${JSON.stringify(line)}`);
          if (!line.startsWith(`${FILE}:${p.line}: `) || p.line < 0 || p.line > lines)
            throw new Error(`not FILE:LINE: ${JSON.stringify(line)}`);
        }
        return;
      }
      accepted++;
      const conf = renderDnsmasqConf(cfg, paths('br0', { BRMGR_RUN_DIR: '/run/brmgr' }), account);
      for (const line of conf.split('\n').slice(1, -1)) {
        if (!OPTION.test(line)) throw new Error(`a rendered dnsmasq line that is no option: ${JSON.stringify(line)}`);
      }
      renderDhcpHosts(cfg);
      renderHosts(cfg);
      const intent = firewallIntent(cfg);
      for (const family of intent.families) {
        iptables.iptables(intent, family, { forwardChain: 'FORWARD', shim: {} });
        nftables.iptables(intent, family, { forwardChain: 'DOCKER-USER', shim: EVERYWHERE });
      }
      const table = nftables.nftTable(intent);
      if (table?.includes('\u0000')) throw new Error('a NUL in the nft table');
    }),
    { numRuns: RUNS },
  );
  t.ok(refused > 0 && accepted > 0, `${accepted} accepted and ${refused} refused, none threw anything else`);
});
