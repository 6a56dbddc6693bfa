/** The parts of `nft -j list ruleset` read here. */
export interface NftChain {
  family: string;
  table: string;
  name: string;
  hook?: string;
  policy?: string;
}
export interface NftRule {
  family: string;
  table: string;
  chain: string;
  handle?: number;
  expr: Record<string, unknown>[];
}
export type NftObject = { chain?: NftChain; rule?: NftRule } & Record<string, unknown>;
