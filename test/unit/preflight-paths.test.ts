/**
 * The files and folders a config names are checked by the pre-flight, not by
 * parsing: each missing or wrong one is an error line naming file, line and key,
 * as a config error reads.
 */
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/validate.js';
import { pathErrors, toolFindings } from '../../src/converge/preflight.js';

const dir = mkdtempSync(join(tmpdir(), 'brmgr-paths-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const F = join(dir, 'brmgr0.conf');
const hook = join(dir, 'lease-hook');
writeFileSync(hook, '#!/bin/sh\n');
chmodSync(hook, 0o755);
const plain = join(dir, 'not-executable');
writeFileSync(plain, '#!/bin/sh\n');
chmodSync(plain, 0o644);
const folder = join(dir, 'folder');
mkdirSync(folder);

/** The config file written where its lines are read from, parsed (which never looks at the paths), checked. */
const errors = (text: string): string[] => {
  writeFileSync(F, text);
  return pathErrors(parseConfig(text, F, 'brmgr0'));
};

t.test('paths that are there and of the right kind are no error', async (t) => {
  t.same(errors(''), []);
  t.same(
    errors(
      `[dns]\nhosts_file = ${plain}\n[dnsmasq]\nconf_file = ${plain}\nhosts_file = ${plain}\n` +
        `[pxe]\ntftp_root = ${folder}\n[hooks]\nlease = ${hook}\n`,
    ),
    [],
  );
});

t.test('the lease hook: an executable file', async (t) => {
  t.same(errors(`[hooks]\nlease = ${plain}\n`), [`${F}:2: [hooks] lease: ${plain} is not executable (chmod +x it)`]);
  t.same(errors('\n[hooks]\nlease = /nonexistent/brmgr-hook\n'), [
    `${F}:3: [hooks] lease: /nonexistent/brmgr-hook does not exist`,
  ]);
  t.same(errors(`[hooks]\nlease = ${folder}\n`), [`${F}:2: [hooks] lease: ${folder} is not a regular file`]);
});

t.test('tftp_root: a folder', async (t) => {
  t.same(errors('[pxe]\ntftp_root = /nonexistent/tftp\n'), [
    `${F}:2: [pxe] tftp_root: /nonexistent/tftp does not exist`,
  ]);
  t.same(errors('[pxe]\ntftp_root = /etc/passwd\n'), [`${F}:2: [pxe] tftp_root: /etc/passwd is not a directory`]);
});

t.test('hosts files and conf_file: regular files, in either form', async (t) => {
  t.same(errors('[dns]\nhosts_file = /nonexistent/brmgr-test/hosts\n'), [
    `${F}:2: [dns] hosts_file: /nonexistent/brmgr-test/hosts does not exist`,
  ]);
  t.same(errors('[dns]\nhosts_file = /etc\n'), [`${F}:2: [dns] hosts_file: /etc is not a regular file`]);
  t.same(errors(`; the original's keys\ndhcp_conffile="${folder}"\ndhcp_hostsfile="/nonexistent/h"\n`), [
    `${F}:2: dhcp_conffile: ${folder} is not a regular file`,
    `${F}:3: dhcp_hostsfile: /nonexistent/h does not exist`,
  ]);
  t.same(errors(`[dnsmasq]\nconf_file = /nonexistent/c\nhosts_file = ${folder}\n`), [
    `${F}:2: [dnsmasq] conf_file: /nonexistent/c does not exist`,
    `${F}:3: [dnsmasq] hosts_file: ${folder} is not a regular file`,
  ]);
});

t.test('a config whose file is gone still names the key (line 0)', async (t) => {
  const cfg = parseConfig('[dns]\nhosts_file = /nonexistent/h\n', join(dir, 'gone.conf'), 'gone');
  t.same(pathErrors(cfg), [`${join(dir, 'gone.conf')}:0: [dns] hosts_file: /nonexistent/h does not exist`]);
});

t.test("they are the tool findings' errors, which stop pre before it takes the lock", async (t) => {
  writeFileSync(F, `[hooks]\nlease = ${plain}\n`);
  const cfg = parseConfig(`[hooks]\nlease = ${plain}\n`, F, 'brmgr0');
  t.ok(
    toolFindings(cfg, { serving: false }).errors.includes(
      `${F}:2: [hooks] lease: ${plain} is not executable (chmod +x it)`,
    ),
  );
});
