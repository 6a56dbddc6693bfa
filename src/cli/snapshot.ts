/**
 * Entry of the V8 startup snapshot (build/snapshot.mjs builds it from a CommonJS bundle of this file):
 * what the start of pre, post and the commands run beside them (wait, reload, status) loads is
 * evaluated once, when the snapshot is built, and they start from that heap instead of compiling the
 * bundle again; the rest of brmgr is in the snapshot too, compiled when first called. The supervisor
 * (`brmgr run`) starts from the bundle: node keeps the snapshot in memory for a process's whole life.
 * The snapshot's main is given the program's bundle (`node --snapshot-blob BLOB -- LIB/brmgr-pre.mjs
 * ARGS…`, see build/launcher.sh), so process.argv is what it would be without the snapshot.
 * Nothing here may read the host or the environment at load time: that would be frozen into the snapshot.
 */
import { startupSnapshot } from 'node:v8';
import './commands/down.js';
import './commands/reload.js';
import './commands/status.js';
import './commands/up.js';
import './commands/wait.js';
import { entry } from './entry.js';
import './main.js';

const FIXED: Record<string, string> = { 'brmgr-pre': 'up', 'brmgr-post': 'down' };

startupSnapshot.setDeserializeMainFunction(() => {
  const prog = (process.argv[1] ?? 'brmgr').replace(/^.*\//, '').replace(/\.mjs$/, '');
  void entry(prog, process.argv.slice(2), FIXED[prog]);
});
