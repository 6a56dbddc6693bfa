#!/usr/bin/env node
// Starts `brmgr run`, the supervisor, from its own bundle (brmgr-run.cjs: that command alone) with V8's
// code cache of it (brmgr-run.cache), which spares compiling what its start-up loads. Installed as
// brmgr-run.mjs; the launcher (build/launcher.sh) sends `brmgr run` here. `--build-cache`: makes the
// cache and exits (`make install`). A cache is used only when it was made by this node, with these flags,
// of this very bundle file, and its bytes are those written; V8 checks its version and flags again and
// rejects a cache that does not fit (compiling as without one). Otherwise the cache is made anew where
// this user may write here. A supervisor keeps no cache in memory once it is compiled.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const lib = dirname(fileURLToPath(import.meta.url));
const bundle = join(lib, 'brmgr-run.cjs');
const cacheFile = join(lib, 'brmgr-run.cache');
const building = process.argv[2] === '--build-cache';

const fd = openSync(bundle, 'r');
const st = fstatSync(fd);
const source = readFileSync(fd, 'utf8');
closeSync(fd);
// what a cache was made for: this node and its flags, and this bundle file (V8 itself checks only its length)
const key = JSON.stringify([
  process.version,
  process.arch,
  process.execArgv,
  `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`,
]);
const digest = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** The cache's bytes, when it was made for this key and is whole: a line `KEY SHA256`, then the bytes. */
function readCache() {
  let data;
  try {
    data = readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  const eol = data.indexOf(10);
  if (eol < 0) return undefined;
  const payload = data.subarray(eol + 1);
  return data.subarray(0, eol).toString() === `${key} ${digest(payload)}` ? payload : undefined;
}

/** Writes the cache by rename (a start reads the old one or the new one); quietly not where it cannot. */
function writeCache(payload) {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([Buffer.from(`${key} ${digest(payload)}\n`), payload]));
    renameSync(tmp, cacheFile);
  } catch {
    rmSync(tmp, { force: true });
  }
}

const cachedData = building ? undefined : readCache();
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: bundle,
  ...(cachedData ? { cachedData } : {}),
});
const cjs = { exports: {} };
// the bundle's modules evaluated (nothing in them reads the host): what the cache then holds is compiled
script.runInThisContext()(cjs.exports, createRequire(bundle), cjs, bundle, lib);
if (!cachedData || script.cachedDataRejected) writeCache(script.createCachedData());
if (!building) process.exitCode = await cjs.exports.runMain(process.argv.slice(2));
