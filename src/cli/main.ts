import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, loadOtherConfigs } from '../config/load.js';
import { ConfigError, formatProblem, isInterfaceName } from '../config/validate.js';
import { paths } from '../paths.js';
import { supervise } from '../supervisor/index.js';
import { leases, lookup, status } from './inspect.js';
import { UsageError } from '../errors.js';
import { logger } from '../log.js';
import { renderPlan } from '../converge/render.js';
import { down as post } from '../converge/down.js';
import { preflight } from '../converge/preflight.js';
import { up as pre } from '../converge/up.js';
import { runner } from '../system/exec.js';
import { machineId } from '../system/machine.js';
import { tapAdd, tapDel } from '../converge/tap.js';

function oneBridge(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} needs exactly one BRIDGE (see --help)`);
  return positionals[0]!;
}

async function check(bridge: string): Promise<number> {
  const cfg = loadConfig(bridge);
  const { errors, warnings } = await preflight(cfg, { run: runner(), paths: paths(bridge), others: loadOtherConfigs(bridge) });
  for (const w of warnings) console.log(`warning: ${w}`);
  for (const e of errors) console.log(`error: ${e}`);
  if (!errors.length) console.log(`${cfg.file}: ok`);
  return errors.length ? 2 : 0;
}

/** Runs one brmgr command; returns the exit code. */
export async function main(argv: string[], prog: string): Promise<number> {
  const [command = '', ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        force: { type: 'boolean' },
        backend: { type: 'string' },
        json: { type: 'boolean' },
        wait: { type: 'string' },
        'pid-file': { type: 'string' },
        owner: { type: 'string' },
      },
    });
  } catch (err) {
    // an unknown or malformed option: the message names it
    process.stderr.write(`${prog}: ${(err as Error).message} (see --help)\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const log = logger(prog);
  try {
    switch (command) {
      case 'up':
      case 'pre':
        await pre(oneBridge(positionals, command), { log });
        return 0;
      case 'down':
      case 'post':
        await post(oneBridge(positionals, command), { log, force: !!values.force });
        return 0;
      case 'render': {
        const cfg = loadConfig(oneBridge(positionals, command));
        const backend = values.backend ?? (cfg.firewall === 'iptables' ? 'iptables' : 'nftables');
        if (backend !== 'nftables' && backend !== 'iptables') throw new UsageError('--backend is nftables or iptables');
        process.stdout.write(renderPlan(cfg, machineId(), backend));
        return 0;
      }
      case 'check':
        return await check(oneBridge(positionals, command));
      case 'run':
        return await supervise(oneBridge(positionals, command), { log, ...(values['pid-file'] ? { pidFile: values['pid-file'] } : {}) });
      case 'leases':
        return leases(oneBridge(positionals, command), !!values.json);
      case 'lookup': {
        if (positionals.length !== 2) throw new UsageError('lookup needs BRIDGE and a MAC or HOSTNAME (see --help)');
        const wait = Number(values.wait ?? 0);
        if (!Number.isFinite(wait) || wait < 0) throw new UsageError('--wait takes a number of seconds');
        return await lookup(positionals[0]!, positionals[1]!, wait);
      }
      case 'tap': {
        const [verb, ...args] = positionals;
        if (verb === 'add' && args.length === 2) {
          await tapAdd(args[0]!, args[1]!, values.owner, { log });
          return 0;
        }
        if (verb === 'del' && args.length === 1 && values.owner === undefined) {
          await tapDel(args[0]!, { log });
          return 0;
        }
        throw new UsageError('usage: brmgr tap add BRIDGE TAP [--owner USER] | brmgr tap del TAP');
      }
      case 'demo':
        if (positionals.length) throw new UsageError('demo takes no arguments');
        return await (await import('../demo/index.js')).demo();
      case 'status':
        if (positionals.length > 1) throw new UsageError('status takes at most one BRIDGE');
        return await status(positionals[0], !!values.json);
      default:
        // the original's form: `brmgr BRIDGE [--pid-file FILE]`
        if (isInterfaceName(command) && positionals.length === 0 && existsSync(paths(command).config)) {
          return await supervise(command, { log, ...(values['pid-file'] ? { pidFile: values['pid-file'] } : {}) });
        }
        throw new UsageError(`unknown command '${command}' (see --help)`);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
      return 2;
    }
    const message = (err as Error).message;
    process.stderr.write(`${prog}: ${message}\n`);
    if (err instanceof UsageError) return 2;
    log.error({ err: message }, 'failed');
    return 1;
  }
}
