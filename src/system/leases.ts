import { readFileSync } from 'node:fs';
import { type Lease, parseLeases } from '../host/leases.js';

/** dnsmasq's lease file, read; empty when it is missing or unreadable. */
export function readLeases(file: string): Lease[] {
  try {
    return parseLeases(readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
}
