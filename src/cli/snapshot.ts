/**
 * Entry of the V8 startup snapshot (build/snapshot.mjs builds it from a CommonJS bundle of this file):
 * what the start of pre, post and `brmgr run` loads is evaluated once, when the snapshot is built, and
 * the programs start from that heap instead of compiling the bundle again. The snapshot's main is
 * given the program's bundle (`node --snapshot-blob BLOB -- LIB/brmgr-pre.mjs ARGS…`, see
 * build/launcher.sh), so process.argv is what it would be without the snapshot.
 * Nothing here may read the host or the environment at load time: that would be frozen into the snapshot.
 */
import { startupSnapshot } from 'node:v8';
import './commands/down.js';
import './commands/run.js';
import './commands/up.js';
import { entry } from './entry.js';
import './main.js';

/** The command brmgr-pre and brmgr-post run (as src/cli/brmgr-pre.ts and brmgr-post.ts). */
const FIXED: Record<string, string> = { 'brmgr-pre': 'up', 'brmgr-post': 'down' };

startupSnapshot.setDeserializeMainFunction(() => {
  const prog = (process.argv[1] ?? 'brmgr').replace(/^.*\//, '').replace(/\.mjs$/, '');
  void entry(prog, process.argv.slice(2), FIXED[prog]);
});
