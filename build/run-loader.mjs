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

// the launcher's malloc thresholds (build/launcher.sh) are for this process, read by glibc as it started:
// dnsmasq, the watches and the lease hook start without them
const TUNABLES = 'glibc.malloc.trim_threshold=65536:glibc.malloc.mmap_threshold=65536';
if (process.env.GLIBC_TUNABLES === TUNABLES) delete process.env.GLIBC_TUNABLES;

const lib = dirname(fileURLToPath(import.meta.url));
const bundle = join(lib, 'brmgr-run.cjs');
const cacheFile = join(lib, 'brmgr-run.cache');
const building = process.argv[2] === '--build-cache';

/** What a cache is made for: this node and its flags, and this bundle file (V8 itself checks only its length). */
function keyOf(st) {
  return JSON.stringify([
    process.version,
    process.arch,
    process.execArgv,
    `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`,
  ]);
}
const digest = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** The cache's bytes, when it was made for `key` and is whole: a line `KEY SHA256`, then the bytes. */
function readCache(key) {
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
function writeCache(key, payload) {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([Buffer.from(`${key} ${digest(payload)}\n`), payload]));
    renameSync(tmp, cacheFile);
  } catch {
    rmSync(tmp, { force: true });
  }
}

/**
 * The bundle compiled (with the cache where it fits) and its modules evaluated (nothing in them reads the
 * host), the cache made anew where it did not fit; its exports. Nothing here outlives the call but what
 * V8 keeps of the script: a supervisor holds no second copy of the source, nor the cache's bytes.
 */
function load() {
  const fd = openSync(bundle, 'r');
  const key = keyOf(fstatSync(fd));
  const source = readFileSync(fd, 'utf8');
  closeSync(fd);
  const cachedData = building ? undefined : readCache(key);
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    ...(cachedData ? { cachedData } : {}),
  });
  const cjs = { exports: {} };
  script.runInThisContext()(cjs.exports, createRequire(bundle), cjs, bundle, lib);
  if (!cachedData || script.cachedDataRejected) writeCache(key, script.createCachedData());
  return cjs.exports;
}

const { runMain } = load();
if (!building) process.exitCode = await runMain(process.argv.slice(2));
