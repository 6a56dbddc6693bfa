/**
 * qemu-bridge-helper's ACL file as `brmgr check` reads it: allow, deny,
 * all, include, comments and lines the helper refuses.
 */
import t from 'tap';
import { BRIDGE_CONF, qemuBridgeWarnings } from '../../src/plan/qemu.js';

const files = (map: Record<string, string>) => (file: string) => map[file];
const warn = (map: Record<string, string>, bridge = 'brmgr0') => qemuBridgeWarnings(bridge, files(map));

t.test('allowed: no warning', async (t) => {
  t.same(warn({ [BRIDGE_CONF]: 'allow brmgr0\n' }), [], 'allow NAME');
  t.same(warn({ [BRIDGE_CONF]: 'allow all\n' }), [], 'allow all');
  t.same(
    warn({ [BRIDGE_CONF]: '# bridges for guests\n\n   allow   brmgr0  \r\nallow virbr0' }),
    [],
    'comments, blank lines, spaces, CRLF and no final newline',
  );
  t.same(warn({ [BRIDGE_CONF]: 'allow\tbrmgr0\n' }), [], 'a tab between command and name');
  t.same(
    warn({ [BRIDGE_CONF]: 'include /etc/qemu/brmgr.conf\n', '/etc/qemu/brmgr.conf': 'allow brmgr0\n' }),
    [],
    'through an include',
  );
  t.same(
    warn({
      [BRIDGE_CONF]: 'include /etc/qemu/a.conf\n',
      '/etc/qemu/a.conf': 'include /etc/qemu/b.conf\n',
      '/etc/qemu/b.conf': 'allow brmgr0\n',
    }),
    [],
    'through nested includes',
  );
});

t.test('not allowed: the warning shows the line to add', async (t) => {
  const expected = [
    `${BRIDGE_CONF} does not allow brmgr0: QEMU's -netdev bridge,br=brmgr0 ` +
      `fails with "access denied by acl file"; add the line \`allow brmgr0\` to ${BRIDGE_CONF}`,
  ];
  t.same(warn({ [BRIDGE_CONF]: 'allow virbr0\n' }), expected, 'another bridge only');
  t.same(warn({ [BRIDGE_CONF]: '' }), expected, 'an empty file');
  t.same(warn({ [BRIDGE_CONF]: '# allow brmgr0\n' }), expected, 'a commented-out allow');
  t.same(warn({ [BRIDGE_CONF]: 'allow brmgr00\n' }), expected, 'a longer name that starts like it');
  t.same(
    warn({ [BRIDGE_CONF]: 'include /etc/qemu/missing.conf\n' }),
    expected,
    'an include that does not exist adds nothing',
  );
  t.same(
    qemuBridgeWarnings('br1', files({})),
    [
      `${BRIDGE_CONF} does not exist: QEMU's -netdev bridge,br=br1 is refused; ` +
        `add the line \`allow br1\` to ${BRIDGE_CONF}`,
    ],
    'no file at all',
  );
});

t.test('deny wins over allow', async (t) => {
  t.same(warn({ [BRIDGE_CONF]: 'allow all\ndeny brmgr0\n' }), [
    `${BRIDGE_CONF}:2: \`deny brmgr0\` refuses brmgr0 to QEMU's -netdev bridge (a deny wins over any allow); remove it`,
  ]);
  t.same(
    warn({ [BRIDGE_CONF]: 'deny all\ninclude /etc/qemu/x.conf\n', '/etc/qemu/x.conf': 'allow brmgr0\n' }),
    [`${BRIDGE_CONF}:1: \`deny all\` refuses brmgr0 to QEMU's -netdev bridge (a deny wins over any allow); remove it`],
    'deny all, whatever comes after',
  );
  t.same(warn({ [BRIDGE_CONF]: 'deny virbr0\nallow brmgr0\n' }), [], "another bridge's deny does not matter");
});

t.test('lines the helper does not understand', async (t) => {
  t.same(
    warn({ [BRIDGE_CONF]: 'allow brmgr0\npermit all\n' }),
    [
      `${BRIDGE_CONF}:2: qemu-bridge-helper does not understand \`permit all\` (unknown command 'permit') ` +
        'and refuses every -netdev bridge',
    ],
    'in the main file, the helper refuses everything even after an allow',
  );
  t.same(
    warn({ [BRIDGE_CONF]: 'allow\t brmgr0\n' }),
    [
      `${BRIDGE_CONF}:1: qemu-bridge-helper does not understand \`allow\t brmgr0\` (unknown command 'allow\t') ` +
        'and refuses every -netdev bridge',
    ],
    'a tab then a space: the helper splits at the space',
  );
  t.same(
    warn({ [BRIDGE_CONF]: 'allow\n' }),
    [
      `${BRIDGE_CONF}:1: qemu-bridge-helper does not understand \`allow\` (a command without an argument) ` +
        'and refuses every -netdev bridge',
    ],
    'a command alone',
  );
  t.same(
    warn({ [BRIDGE_CONF]: 'include /etc/qemu/x.conf\n', '/etc/qemu/x.conf': 'allow brmgr0\nbogus\nallow virbr0\n' }),
    [
      `/etc/qemu/x.conf:2: qemu-bridge-helper does not understand \`bogus\` (a command without an argument) ` +
        'and ignores the rest of that file',
    ],
    'in an include: the rules before it still count',
  );
  t.same(
    warn({ [BRIDGE_CONF]: 'include /etc/qemu/x.conf\n', '/etc/qemu/x.conf': 'bogus\nallow brmgr0\n' }),
    [
      `/etc/qemu/x.conf:1: qemu-bridge-helper does not understand \`bogus\` (a command without an argument) ` +
        'and ignores the rest of that file',
      `${BRIDGE_CONF} does not allow brmgr0: QEMU's -netdev bridge,br=brmgr0 ` +
        `fails with "access denied by acl file"; add the line \`allow brmgr0\` to ${BRIDGE_CONF}`,
    ],
    'in an include: the rules after it are lost',
  );
  t.same(warn({ [BRIDGE_CONF]: 'include /etc/qemu/bridge.conf\nallow brmgr0\n' }), [], 'an include loop ends');
});
