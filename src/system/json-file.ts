import { readFileSync } from 'node:fs';

/** A JSON file brmgr wrote (the supervisor's status), or undefined when it is missing or unreadable. */
export function readJsonFile<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
