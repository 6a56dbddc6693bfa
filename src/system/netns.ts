import { readdirSync } from 'node:fs';

/** The named network namespaces (`ip netns add`'s), from /run/netns. */
export function namedNetns(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}
