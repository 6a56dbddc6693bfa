/**
 * brmgr --help and each command's --help come from one declaration per
 * command (src/cli/usage.ts): every option a usage names is described, and
 * every form is listed in the overall help.
 */
import t from 'tap';
import { HELP as OVERALL_HELP } from '../../src/cli/entry.js';
import { type CommandUsage, USAGES } from '../../src/cli/usage.js';

for (const [name, declared] of Object.entries(USAGES) as [string, CommandUsage][]) {
  t.test(name, async (t) => {
    const named = new Set(declared.forms.flatMap((f) => [...f.usage.matchAll(/--([a-z-]+)/g)].map((m) => m[1])));
    t.same([...named].sort(), Object.keys(declared.options ?? {}).sort(), 'the usage names the options described');
    for (const form of declared.forms) {
      // the options at the end of a usage follow the summary
      const synopsis = form.usage.replace(/(\s\[--[^[\]]*\])+$/, '');
      t.ok(OVERALL_HELP.includes(`\n  ${synopsis}`), `brmgr --help lists ${synopsis}`);
      t.ok(OVERALL_HELP.includes(form.summary), 'with its summary');
    }
  });
}
