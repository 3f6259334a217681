/** Who implements Services on a stack's nodes (issue 23; docs/service-proxy.md). */
export const serviceProxyModes = ["iptables", "nftables", "ebpf"] as const;
export type ServiceProxyMode = (typeof serviceProxyModes)[number];
