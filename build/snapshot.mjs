#!/usr/bin/env node
// Builds brmgr's V8 startup snapshot next to this script, from brmgr-snapshot.cjs, with the node binary
// given (the one the launchers find in PATH; this script's own by default), and records what it was
// built with in brmgr.snapshot.key, which the launchers (build/launcher.sh) check before using it.
// Installed as brmgr-snapshot-build.mjs; run by `make install` and, in the background, by a launcher
// that finds no snapshot matching. Never fails loudly: without a snapshot brmgr starts from its bundle.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const lib = dirname(fileURLToPath(import.meta.url));
const node = process.argv[2] || process.execPath;
const source = join(lib, 'brmgr-snapshot.cjs');
const snapshot = join(lib, 'brmgr.snapshot');
const key = `${snapshot}.key`;
const lock = `${snapshot}.lock`;
const tmp = `${snapshot}.${process.pid}.tmp`;
// a build takes about a second; a lock older than this was left by a build that was killed
const STALE_LOCK_MS = 10 * 60 * 1000;

/** The identities the launcher compares, in its own words: `stat -L --printf '%d:%i:%s:%Y:%Z;'`. */
function identities() {
  const r = spawnSync('stat', ['-L', '--printf', '%d:%i:%s:%Y:%Z;', '--', node, snapshot, source], {
    encoding: 'utf8',
  });
  return r.stdout.trimEnd();
}

/** Writes the key by rename, so that a launcher reads the old one or the new one. */
function record(text) {
  writeFileSync(`${key}.${process.pid}.tmp`, `${text}\n`);
  renameSync(`${key}.${process.pid}.tmp`, key);
}

function takeLock() {
  try {
    closeSync(openSync(lock, 'wx'));
    return true;
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
    if (Date.now() - statSync(lock).mtimeMs < STALE_LOCK_MS) return false;
    rmSync(lock, { force: true });
    return takeLock();
  }
}

function build() {
  const made = spawnSync(node, ['--snapshot-blob', tmp, '--build-snapshot', source], {
    cwd: lib,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  if (made.status !== 0) return `building it failed: ${made.stderr || made.error?.message || made.signal}`;
  // load it once: a node that cannot (another build, another CPU) crashes here, not in a start of brmgr
  const tried = spawnSync(node, ['--snapshot-blob', tmp, '--', join(lib, 'brmgr.mjs'), '--version'], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  if (tried.status !== 0 || !tried.stdout.startsWith('brmgr ')) {
    return `it does not load: ${tried.stderr.split('\n').find((l) => l.trim()) ?? tried.signal ?? tried.status}`;
  }
  renameSync(tmp, snapshot);
  return undefined;
}

if (takeLock()) {
  let problem;
  try {
    problem = build();
  } catch (err) {
    problem = err.message;
  } finally {
    rmSync(tmp, { force: true });
  }
  try {
    record(problem ? `failed ${identities()}` : identities());
  } finally {
    rmSync(lock, { force: true });
  }
  if (problem) {
    process.stderr.write(`brmgr: no startup snapshot (brmgr starts from its bundle): ${problem}\n`);
    process.exitCode = 1;
  }
}
