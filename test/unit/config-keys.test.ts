/**
 * The key table (src/config/schema.ts) against the parser and the SPEC: every
 * key in it reaches its parser, every key the SPEC documents and the code has
 * parses with the SPEC's own value, and every path key is found for the pre-flight.
 */
import t from 'tap';
import { namedPaths } from '../../src/config/files.js';
import { KEYS, PATH_KEYS, keySpec, sectionKind } from '../../src/config/schema.js';
import { parseConfig } from '../../src/config/validate.js';
import { configProblems } from '../helpers/config.js';

const F = '/etc/brmgr/brmgr0.conf';
/** A section of each per-name kind, as a config names it. */
const SECTION_OF: Record<string, string> = { 'host.*': 'host.web', 'forward.*': 'forward.http' };
const sectionOf = (kind: string) => SECTION_OF[kind] ?? kind;

const problems = (text: string): string[] => configProblems(() => parseConfig(text, F, 'brmgr0'));

/** Every key of the table with its example, one config; `override` replaces one key's value. */
function everyKey(override?: { kind: string; key: string; value: string }): {
  text: string;
  lines: Map<string, number>;
} {
  const lines = new Map<string, number>();
  const out: string[] = [];
  for (const [kind, keys] of Object.entries(KEYS)) {
    out.push(`[${sectionOf(kind)}]`);
    for (const [key, spec] of Object.entries(keys)) {
      const value = override?.kind === kind && override.key === key ? override.value : spec.example;
      out.push(`${key} = ${value}`);
      lines.set(`${kind} ${key}`, out.length);
    }
  }
  return { text: `${out.join('\n')}\n`, lines };
}

t.test("a config of every key's example parses", async (t) => {
  const cfg = parseConfig(everyKey().text, F, 'brmgr0');
  t.equal(cfg.uplink, 'eth0');
  t.equal(cfg.hosts[0]?.ip6, 'fd42:0:1::10', 'the host with its DHCPv6 address');
  t.equal(cfg.forwards[0]?.toIp, '10.0.1.10');
  t.equal(cfg.vxlan?.peers[0], '192.0.2.2');
  t.equal(cfg.hooks?.lease, KEYS.hooks.lease.example);
});

t.test('every key of the table reaches its parser: a bad value is reported on its line', async (t) => {
  for (const [kind, keys] of Object.entries(KEYS)) {
    for (const key of Object.keys(keys)) {
      const { text, lines } = everyKey({ kind, key, value: '!' });
      const where = `${F}:${lines.get(`${kind} ${key}`)}: [${sectionOf(kind)}] ${key}: `;
      t.ok(
        problems(text).some((p) => p.startsWith(where)),
        `[${kind}] ${key} = ! is refused`,
      );
    }
  }
});

/** The SPEC's config reference (its ini block), each section and key with its documented value, comments left out. */
const SPEC_REFERENCE = `[bridge]
name = brmgr0
mode = nat
uplink =
mtu =
mac =
stp = false
firewall = auto
port_security = basic
host_ports =
guest_conns = 2048
port_macs = 32
isolate_ports = false
guest_ingress =
guest_egress =
multicast_snooping = true
host_access = true
[ipv4]
address = 10.0.1.1/24
dhcp = true
range = 10.0.1.2-10.0.1.254
lease_time = 1h
max_leases =
routes =
ntp =
gateway = true
nat_address =
[ipv6]
address =
ra = true
dhcp = off
nat = false
[dns]
enable = true
domain =
upstream =
hosts_file =
resolved = false
cname = www:web
srv = _http._tcp:web:80
txt = info:hello world
mx = lab.:mail:10
wildcard = apps.lab:10.0.1.50
[dnsmasq]
conf_file =
hosts_file =
[host.NAME]
mac = 52:54:00:00:00:10
ip = 10.0.1.10
ip6 =
lease_time =
dns =
boot_file =
extra_ips =
ingress =
egress =
port_security =
port_macs =
[pxe]
tftp_root =
boot_file =
boot_file_efi =
next_server =
[hooks]
lease =
[vxlan]
id =
peers =
local =
port = 4789
[forward.NAME]
proto = tcp
port = 8080
to = 10.0.1.10:80
`;

function documentedKeys(): { kind: string; key: string; value: string }[] {
  const keys: { kind: string; key: string; value: string }[] = [];
  let kind = '';
  for (const line of SPEC_REFERENCE.split('\n')) {
    const header = /^\[([^\]]+)\]/.exec(line);
    if (header) kind = sectionKind(header[1]!);
    const entry = /^([a-z_0-9]+) =\s*(.*)$/.exec(line);
    if (entry) keys.push({ kind, key: entry[1]!, value: entry[2]! });
  }
  return keys;
}

/** What a key needs beside it to be read at all: a static host its mac and ip, a forward its port and target. */
const CONTEXT: Record<string, string[]> = {
  'host.*': ['mac', 'ip'],
  'forward.*': ['port', 'to'],
  vxlan: ['id', 'peers'],
  ipv6: ['address'],
  pxe: ['boot_file'],
};

/** Keys the code has that the SPEC's reference does not list yet. */
const UNDOCUMENTED = ['vxlan learning', 'forward.* shadow'];

t.test('every key the SPEC documents and the code has parses with its documented value', async (t) => {
  const documented = documentedKeys();
  t.ok(documented.length > 40, `${documented.length} documented keys found`);
  for (const { kind, key, value } of documented) {
    const spec = keySpec(sectionOf(kind), key);
    if (!spec) continue; // documented, not yet in the code
    const given = value || spec.example;
    const context = (CONTEXT[kind] ?? []).filter((k) => k !== key);
    const lines = [...context.map((k) => `${k} = ${keySpec(sectionOf(kind), k)!.example}`), `${key} = ${given}`];
    const v6 = kind === 'host.*' ? '[ipv6]\naddress = fd42:0:1::1/64\ndhcp = stateful\n' : '';
    t.same(problems(`${v6}[${sectionOf(kind)}]\n${lines.join('\n')}\n`), [], `[${kind}] ${key} = ${given}`);
  }
  for (const [kind, keys] of Object.entries(KEYS)) {
    for (const key of Object.keys(keys)) {
      if (UNDOCUMENTED.includes(`${kind} ${key}`)) continue;
      t.ok(
        documented.some((d) => d.kind === kind && d.key === key),
        `[${kind}] ${key} is in the SPEC's reference`,
      );
    }
  }
});

t.test('every path key is found for the pre-flight, in its section or its flat form', async (t) => {
  const { text, lines } = everyKey();
  const named = namedPaths(parseConfig(text, F, 'brmgr0'), text);
  t.same(
    named.map((n) => `${n.where.line} [${n.where.section}] ${n.where.key} ${n.kind}`),
    PATH_KEYS.map((p) => `${lines.get(`${p.section} ${p.key}`)} [${p.section}] ${p.key} ${p.kind}`),
  );
  const flat = 'dhcp_conffile="/etc/brmgr/extra.conf"\ndhcp_hostsfile="/etc/brmgr/dhcp-hosts"\n';
  t.same(
    namedPaths(parseConfig(flat, F, 'brmgr0'), flat).map((n) => `${n.where.line} ${n.where.key} ${n.path}`),
    ['1 dhcp_conffile /etc/brmgr/extra.conf', '2 dhcp_hostsfile /etc/brmgr/dhcp-hosts'],
  );
});
