/**
 * What one guest can take from the others: an empty DHCP pool is said at warning, with the MAC that
 * went without (dnsmasq says it at the DISCOVER, which brmgr otherwise logs only at debug).
 */
import t from 'tap';
import { exec, waitFor } from '../helpers/netns.js';
import { serving, skipReason, udhcpc } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

for (const _ of why ? [] : [1]) {
  t.test('an empty pool is a warning naming the guest that got nothing', async (t) => {
    const { top, log } = await serving(
      t,
      '[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.0.1.1/24\nrange = 10.0.1.100-10.0.1.100\n[dns]\nupstream = 10.0.1.1\n',
    );
    t.equal(await udhcpc(top.guest, top.guestIf), '10.0.1.100', 'the first guest takes the only address');
    const late = '52:54:00:cc:00:01';
    await exec(top.guest, 'ip', ['link', 'set', top.guestIf, 'address', late]);
    t.equal(await udhcpc(top.guest, top.guestIf), undefined, 'a second MAC gets nothing');
    await waitFor('the warning', async () =>
      log.some((e) => e.level === 40 && e.mac === late && /no address available/.test(String(e.msg))),
    );
    t.pass(`logged at warning with its MAC (${late})`);
  });
}
