// Preloaded into a `brmgr run` (node --require) by bench/startup.mjs: the process's CPU (user + system,
// ms) at its start and at each spawn, written to $BRMGR_CPU_MARKS on SIGUSR2.
const cp = require('node:child_process');
const { writeFileSync } = require('node:fs');

const cpu = () => {
  const u = process.cpuUsage();
  return ((u.user + u.system) / 1000).toFixed(1);
};
const marks = [`${cpu()}\tnode started`];
for (const name of ['spawn', 'spawnSync', 'execFileSync']) {
  const original = cp[name];
  cp[name] = function (cmd, args, ...rest) {
    const words = Array.isArray(args) ? [cmd, ...args] : [cmd];
    marks.push(`${cpu()}\t${name} ${words.slice(0, 5).join(' ')}`);
    return original.call(this, cmd, args, ...rest);
  };
}
process.on('SIGUSR2', () => writeFileSync(process.env.BRMGR_CPU_MARKS, `${[...marks, `${cpu()}\tnow`].join('\n')}\n`));
