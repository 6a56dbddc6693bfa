import t from 'tap';
import { journalLine } from '../../src/log.js';

t.test('under the journal each line carries its syslog priority and reads as words', async (t) => {
  const line = (o: object) => journalLine(JSON.stringify({ time: 1, name: 'brmgr', ...o }));
  t.equal(
    line({ level: 50, bridge: 'br0', event: 'reload', msg: 'config has errors; still serving the previous one' }),
    '<3>config has errors; still serving the previous one bridge=br0 event=reload\n',
    'an error: priority 3 (err)',
  );
  t.equal(
    line({ level: 40, msg: 'x', drift: 'table gone' }),
    '<4>x drift="table gone"\n',
    'a warning: 4, a value with spaces quoted',
  );
  t.equal(
    line({ level: 30, msg: 'dnsmasq is serving', pid: 7, ms: 8 }),
    '<6>dnsmasq is serving pid=7 ms=8\n',
    'info: 6',
  );
  t.equal(
    line({ level: 20, msg: 'DHCPDISCOVER', mac: '52:54:00:00:00:01' }),
    '<7>DHCPDISCOVER mac=52:54:00:00:00:01\n',
    'debug: 7',
  );
  t.equal(
    line({ level: 30, msg: 'a\nb', args: ['add', 'x'] }),
    '<6>a b args=["add","x"]\n',
    'one line; arrays as JSON',
  );
  t.equal(journalLine('not json'), 'not json', 'anything else passes as it is');
});
