import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { InCluster } from "./k3sCluster";
import type { ModeFacts } from "./modes";

/** Cilium's Helm repository. */
export const ciliumChartRepo = "https://helm.cilium.io/";
export const ciliumNamespace = "kube-system";

/** The port the k3s server's Kubernetes API listens on for the agents (docs/facts.md). */
export const kubernetesApiPort = 6443;

export interface CiliumNetworkArgs {
    readonly facts: ModeFacts;
    /** Chart and Cilium release, e.g. 1.18.12. */
    readonly ciliumVersion: string;
    /** k3s's --cluster-cidr: with IPAM "kubernetes" Cilium takes each node's podCIDR from it. */
    readonly podCidr: string;
    /** The nodes' NIC MTU; Cilium derives the pod MTU from it (minus its tunnel overhead). */
    readonly nodeMtu: number;
    /** The k3s server's private address: the agents reach the API there (no kube-proxy). */
    readonly apiServerHost: pulumi.Input<string>;
    /** The cluster's provider, and deleted with the server (K3sCluster.inCluster). */
    readonly inCluster: InCluster;
    /** Cilium can only start once both nodes have joined. */
    readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

/**
 * The chart values, as a pure function so tests read every one. Keys and defaults are those of
 * the cilium chart 1.18 (values.yaml) and Cilium's "Kubernetes Without kube-proxy" and k3s guides.
 */
export function ciliumValues(args: Pick<CiliumNetworkArgs, "facts" | "podCidr" | "nodeMtu"> & { apiServerHost: string }) {
    const cilium = args.facts.cilium;
    if (!cilium) throw new Error("ciliumValues called for a mode without Cilium");
    const native = cilium.routingMode === "native";
    return {
        // The chart accepts only true/false here ("strict" was removed and fails the render).
        kubeProxyReplacement: true,
        // Without kube-proxy nothing answers the kubernetes Service VIP until Cilium runs, so the
        // agent and operator are pointed at the API server itself.
        k8sServiceHost: args.apiServerHost,
        k8sServicePort: kubernetesApiPort,
        // IPAM "kubernetes": pod IPs from each Node's spec.podCIDR, which k3s's controller
        // manager allocates from --cluster-cidr, so the pod range is the other stacks' (the
        // chart's default cluster-pool would hand out 10.0.0.0/8 instead).
        ipam: { mode: "kubernetes" },
        routingMode: cilium.routingMode,
        ...(native
            ? {
                  // Routes to the peer's pod subnet via its node IP (the nodes share one subnet),
                  // and no masquerading inside the pod range (the agent refuses to start without it).
                  autoDirectNodeRoutes: true,
                  ipv4NativeRoutingCIDR: args.podCidr,
              }
            : { tunnelProtocol: "vxlan" }),
        // eBPF host routing, which the mode table's "Cilium eBPF" promises, needs eBPF masquerading:
        // the 1.18 chart enables IPv4 masquerading with `bpf.masquerade` off, and the agent then logs
        // "BPF host routing requires enable-bpf-masquerade. Falling back to legacy host routing"
        // (daemon/cmd/kube_proxy_replacement.go, finishKubeProxyReplacementInit: with
        // kubeProxyReplacement true, iptables masquerading is the one reason left to fall back).
        // Documentation/operations/performance/tuning.rst, "eBPF Host-Routing": kernel >= 5.10
        // (Ubuntu 24.04: 6.8), tunnel or direct routing, eBPF kube-proxy replacement, eBPF
        // masquerading. BPF masquerading needs IPv4 masquerading on and BPF NodePort (on with the
        // kube-proxy replacement), and no masquerade interfaces (daemon/cmd/daemon.go). Host legacy
        // routing is left at its default (off). What each agent actually runs is read per run
        // (bench/measure/cilium-status.ts) and shown in the report.
        enableIPv4Masquerade: true,
        bpf: { masquerade: true },
        // The underlay MTU, stated rather than auto-detected so every run is configured alike.
        MTU: args.nodeMtu,
        // One operator: the chart's two replicas require two nodes up at install time.
        operator: { replicas: 1 },
        // Hubble would run on the measured nodes and add CPU noise to every figure.
        hubble: { enabled: false },
    };
}

/** Cilium as the pod network and Service proxy: the pinned chart with our values. */
export class CiliumNetwork extends pulumi.ComponentResource {
    public readonly release: k8s.helm.v3.Release;

    constructor(name: string, args: CiliumNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cni-compare:cilium:CiliumNetwork", name, {}, opts);
        this.release = new k8s.helm.v3.Release(
            `${name}-release`,
            {
                chart: "cilium",
                version: args.ciliumVersion,
                repositoryOpts: { repo: ciliumChartRepo },
                namespace: ciliumNamespace,
                values: pulumi.output(args.apiServerHost).apply((apiServerHost) => ciliumValues({ ...args, apiServerHost })),
            },
            { parent: this, ...args.inCluster, dependsOn: args.dependsOn },
        );
        this.registerOutputs({});
    }
}
