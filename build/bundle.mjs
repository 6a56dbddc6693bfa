// Bundles the three programs into dist/bundle/, so an installed brmgr needs only Node.js.
import { chmodSync, copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist/bundle', { recursive: true, force: true });
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
await build({
  entryPoints: ['src/cli/brmgr.ts', 'src/cli/brmgr-pre.ts', 'src/cli/brmgr-post.ts'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  define: { BRMGR_VERSION: JSON.stringify(version) },
  // some dependencies call require(); give the ESM bundle one
  banner: {
    js:
      "import { createRequire as brmgrCreateRequire } from 'node:module'; " +
      'const require = brmgrCreateRequire(import.meta.url);',
  },
  logLevel: 'warning',
});
// The same programs as one CommonJS script, the entry of their V8 startup snapshot (build/snapshot.mjs):
// the snapshot builder runs a single script that may require only Node's built-in modules.
/** One CommonJS script of an entry and everything it imports. */
const cjs = (entry, outfile) =>
  build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    define: { BRMGR_VERSION: JSON.stringify(version) },
    // only version.ts's fallback for the source tree reads import.meta, never reached in a bundle
    logOverride: { 'empty-import-meta': 'silent' },
    logLevel: 'warning',
  });
await cjs('src/cli/snapshot.ts', 'dist/bundle/brmgr-snapshot.cjs');
// `brmgr run` alone, the supervisor's: one CommonJS script, which build/run-loader.mjs (brmgr-run.mjs)
// compiles with V8's code cache; a lasting process loads nothing of the other commands
await cjs('src/cli/run-main.ts', 'dist/bundle/brmgr-run.cjs');
// V8 keeps a script's source for the life of the process, as two bytes a character if one of them is not
// ASCII: esbuild escapes those in code (its ASCII charset), the few left in comments go the same way
const runBundle = readFileSync('dist/bundle/brmgr-run.cjs', 'utf8');
writeFileSync(
  'dist/bundle/brmgr-run.cjs',
  runBundle.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
);
// what installs beside the bundle: the launchers (one script, named after each program) and the
// snapshot's builder; dist/bundle is what `make install` puts in LIBDIR
for (const program of ['brmgr', 'brmgr-pre', 'brmgr-post']) {
  copyFileSync('build/launcher.sh', `dist/bundle/${program}`);
  chmodSync(`dist/bundle/${program}`, 0o755);
}
copyFileSync('build/snapshot.mjs', 'dist/bundle/brmgr-snapshot-build.mjs');
copyFileSync('build/run-loader.mjs', 'dist/bundle/brmgr-run.mjs');
