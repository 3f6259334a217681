/** Who implements Services on a stack's nodes (issue 23; docs/service-proxy.md). */
export const serviceProxyModes = ["iptables", "nftables", "ebpf"] as const;
export type ServiceProxyMode = (typeof serviceProxyModes)[number];

/**
 * Who runs each proxy mode: k3s's embedded kube-proxy with that `--proxy-mode` (k3s-io/k3s
 * pkg/daemons/agent/agent_linux.go kubeProxyArgs: "proxy-mode" defaults to "iptables", and
 * `--kube-proxy-arg` entries override the defaults), or Cilium's eBPF kube-proxy replacement, with
 * which k3s runs no kube-proxy at all (--disable-kube-proxy).
 */
export const serviceProxyRunner: Readonly<Record<ServiceProxyMode, "kube-proxy" | "cilium">> = {
    iptables: "kube-proxy",
    nftables: "kube-proxy",
    ebpf: "cilium",
};

export function isServiceProxyMode(value: string): value is ServiceProxyMode {
    return (serviceProxyModes as readonly string[]).includes(value);
}

/** Whether k3s runs its embedded kube-proxy under this proxy mode. */
export function runsKubeProxy(proxy: ServiceProxyMode): boolean {
    return serviceProxyRunner[proxy] === "kube-proxy";
}
