import { readFileSync } from 'node:fs';

/** Set by the bundler for installed copies; read from package.json in the source tree. */
declare const BRMGR_VERSION: string | undefined;

export function brmgrVersion(): string {
  return typeof BRMGR_VERSION === 'string'
    ? BRMGR_VERSION
    : (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
