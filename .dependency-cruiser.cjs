/**
 * The floors of src/ (ARCHITECTURE.md): an import may only go down.
 *   ground  config/ net/ host/ errors paths log   the config, the host's facts as types
 *   pure    plan/ dnsmasq/ firewall/policy         config + facts → what to apply
 *   system  system/                                the thin layer that touches the host
 *   wings   firewall/ converge/                    apply plans through system/
 *   top     supervisor/ doctor/ cli/ demo/ metrics/
 */
const floor = (dirs) => `^src/(${dirs.join('|')})(/|\\.ts$)`;
const ground = ['config', 'net', 'host', 'errors', 'paths', 'log'];
const rule = (name, from, to, comment) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'no import cycles', from: {}, to: { circular: true } },
    rule('ground-stays-down', floor(ground), floor(['plan', 'dnsmasq', 'firewall', 'system', 'converge', 'supervisor', 'cli', 'demo', 'metrics']),
      'the config and the host facts know nothing above them'),
    rule('plan-is-pure', floor(['plan']), floor(['system', 'firewall', 'converge', 'supervisor', 'cli', 'demo', 'metrics']),
      'plans are pure: config and facts in, steps out'),
    rule('policy-is-pure', '^src/firewall/policy\\.ts$', floor(['system', 'converge', 'supervisor', 'cli', 'demo', 'metrics']),
      'the firewall policy is decided without touching the host'),
    rule('system-is-thin', floor(['system']), floor(['plan', 'dnsmasq', 'firewall', 'converge', 'supervisor', 'cli', 'demo', 'metrics']),
      'system/ runs tools and reads the host; it decides nothing'),
    rule(
      'wings-below-top',
      floor(['firewall', 'converge']),
      floor(['supervisor', 'doctor', 'cli', 'demo', 'metrics']),
      'converge and firewall serve the commands',
    ),
    rule('supervisor-no-metrics', floor(['supervisor']), '^src/metrics/|(^|/)node_modules/prom-client/',
      'a brmgr run never loads the exporter or its library: the exporter is its own process'),
    rule('supervisor-below-cli', floor(['supervisor']), floor(['cli', 'demo']), 'the CLI starts the supervisor, not the reverse'),
    {
      name: 'only-system-spawns',
      comment: 'every process brmgr starts goes through system/exec.ts: argument arrays, never a shell',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/system/' },
      to: { path: ['^child_process$', '(^|/)node_modules/execa/'] },
    },
    rule('doctor-reads-through-system', '^src/doctor/', '^fs(/promises)?$',
      'the doctor reads the host only through system/'),
    rule('pure-reads-nothing', '^src/(plan|dnsmasq|host|net)/|^src/firewall/policy\\.ts$|^src/config/(?!load\\.ts$)',
      '^fs(/promises)?$', 'plans, parsers and the config (but the one file load.ts reads) touch no file'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
