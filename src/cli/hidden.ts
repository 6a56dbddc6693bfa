/**
 * brmgr's hidden command that sends `brmgr doctor`'s DHCPDISCOVER from inside its throwaway namespace
 * (system/dhcp-probe.ts): brmgr itself, so that it works however brmgr is installed (bundled or not).
 */
export const DHCP_DISCOVER = '__dhcp-discover';
