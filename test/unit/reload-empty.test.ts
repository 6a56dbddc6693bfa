/** A config file emptied while `brmgr run` serves is taken for one being rewritten, not for the defaults. */
import t from 'tap';
import type { Loaded } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/validate.js';
import { resolve } from '../../src/plan/resolve.js';
import type { Rendered } from '../../src/supervisor/dnsmasq-files.js';
import type { ReloadOutcome } from '../../src/supervisor/events-socket.js';
import { type Effects, Supervisor } from '../../src/supervisor/supervisor.js';

const FILE = '/etc/brmgr/br0.conf';
const loaded = (text: string): Loaded => ({
  bridge: 'br0',
  file: FILE,
  text,
  auto: false,
  draft: parseConfig(text, FILE, 'br0'),
});
const FULL = '[bridge]\nfirewall = none\n[ipv4]\naddress = 10.0.7.1/24\n';

function fake(file: { text: string }) {
  const calls: string[] = [];
  const logged = (level: string) => (_: unknown, msg: string) => calls.push(`${level}: ${msg}`);
  const fx: Effects = {
    log: { debug() {}, info() {}, warn: logged('warn'), error: logged('error') } as never,
    readConfig: () => loaded(file.text),
    converge: async (l) => {
      calls.push('converge');
      return resolve(l, {}, []);
    },
    render: (cfg): Rendered => ({
      conf: JSON.stringify(cfg.ipv4),
      dhcpHosts: '',
      hosts: '',
      network: JSON.stringify(cfg.ipv4),
      confFileHash: '',
      hostsFilesHash: '',
    }),
    refuses: async () => undefined,
    writeFiles: () => {},
    bridgeDamage: async () => undefined,
    firewallDrift: async () => ({ drift: undefined, foreign: [] }),
    dnsmasq: {
      isRunning: true,
      start: async () => {},
      restart: async () => void calls.push('dnsmasq restart'),
      hup: () => {},
    },
    serve: async () => {},
    watch: () => {},
    tellResolved: async () => {},
    portState: () => {},
    notify: () => {},
    shutdown: async () => {},
  };
  return { fx, calls };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

async function reload(sup: Supervisor, why: string): Promise<ReloadOutcome> {
  const outcome = new Promise<ReloadOutcome>((reply) => sup.dispatch({ kind: 'reload', why, reply }));
  await settle();
  return outcome;
}

t.test('an emptied config is refused, by the watch and by brmgr reload, until it changes again', async (t) => {
  const file = { text: FULL };
  const { fx, calls } = fake(file);
  const sup = new Supervisor('br0', loaded(FULL), fx);
  await sup.start();
  await settle();
  calls.length = 0;

  file.text = '';
  const watched = await reload(sup, `${FILE} changed`);
  t.match(watched, { outcome: 'refused', reason: /was emptied; it is not applied until it changes again/ });
  t.match(calls, [/^warn: .*was emptied/], 'a warning, nothing changed');
  t.equal(sup.cfg.ipv4.address, '10.0.7.1', 'the previous config serves');

  file.text = ' \n\n';
  t.match(await reload(sup, 'brmgr reload'), { outcome: 'refused' }, 'blank is empty; an explicit reload too');
  t.notOk(calls.includes('converge'), 'never converged');

  file.text = '# the defaults\n';
  t.match(await reload(sup, `${FILE} changed`), { outcome: 'applied' }, 'a comment in it applies the defaults');
  t.equal(sup.cfg.ipv4.address, '10.0.1.1');

  file.text = '';
  t.match(await reload(sup, 'brmgr reload'), { outcome: 'refused' }, 'emptied again after content: refused');
});

t.test('a run started from an empty file reloads an empty file as it is', async (t) => {
  const file = { text: '' };
  const { fx } = fake(file);
  const sup = new Supervisor('br0', loaded(''), fx);
  await sup.start();
  await settle();
  t.match(await reload(sup, 'brmgr reload'), { outcome: 'applied' });
});
