// Bundles the three programs into dist/bundle/, so an installed brmgr needs only Node.js.
import { readFileSync, rmSync } from 'node:fs';
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
