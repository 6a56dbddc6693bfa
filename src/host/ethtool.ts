/** A link's offload features, as `ethtool -k DEV` prints them. */

export interface Feature {
  on: boolean;
  /** `[fixed]`: the driver does not let it change */
  fixed: boolean;
}

export type Features = ReadonlyMap<string, Feature>;

/** `ethtool -k DEV`'s lines `name: on|off [fixed]`, by name; the heading and any other line are skipped. */
export function parseFeatures(text: string): Features {
  const features = new Map<string, Feature>();
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z0-9_-]+):\s+(on|off)(\s+\[(?:fixed|requested \w+)\])?/.exec(line);
    if (m) features.set(m[1]!, { on: m[2] === 'on', fixed: m[3]?.includes('fixed') ?? false });
  }
  return features;
}
