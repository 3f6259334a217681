import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { InCluster } from "./k3sCluster";
import type { ModeFacts } from "./modes";

/** The Tigera operator's Helm repository (also published as OCI at quay.io/calico/charts). */
export const tigeraChartRepo = "https://docs.tigera.io/calico/charts";
export const tigeraNamespace = "tigera-operator";
/**
 * Where the operator pulls Calico's images from (Installation `spec.registry`, "must end with a
 * slash"). Left unset, tigera/operator v1.38 takes calico/node, cni, pod2daemon-flexvol, csi,
 * node-driver-registrar, typha and kube-controllers from docker.io (pkg/components/images.go
 * CalicoRegistry, references.go GetReference), and Docker Hub gives anonymous clients 10 pulls an
 * hour per IPv4 address (docs.docker.com, "Usage and limits"): a Calico node would reach that on
 * its first boot. Every Calico release is pushed to quay.io/calico as well as docker.io/calico
 * (projectcalico/calico release/pkg/manager/calico/manager.go, defaultRegistries), and the
 * operator's own image is quay.io/tigera/operator (the chart's tigeraOperator.registry).
 */
export const calicoImageRegistry = "quay.io/";
/** Calico's default; each node claims /26 blocks of the pool. */
export const calicoBlockSize = 26;

export interface CalicoNetworkArgs {
    readonly facts: ModeFacts;
    /** Chart and Calico release, e.g. v3.30.3. */
    readonly calicoVersion: string;
    /** Must equal k3s's --cluster-cidr. ipPools cannot be changed after install. */
    readonly podCidr: string;
    /** Pod interface MTU for this encapsulation on 9001-byte NICs. */
    readonly mtu: number;
    /** The node subnet: Calico autodetects each node's address inside it. */
    readonly nodeSubnetCidr: string;
    /** The cluster's provider, and deleted with the server (K3sCluster.inCluster). */
    readonly inCluster: InCluster;
    /** Calico can only start once both nodes have joined. */
    readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** The Installation the operator reconciles, as a pure function so tests read every field. */
export function calicoInstallationSpec(args: Pick<CalicoNetworkArgs, "facts" | "podCidr" | "mtu" | "nodeSubnetCidr">) {
    const calico = args.facts.calico;
    if (!calico) {
        throw new Error("calicoInstallationSpec called for a flannel mode");
    }
    return {
        registry: calicoImageRegistry,
        calicoNetwork: {
            bgp: calico.bgp,
            mtu: args.mtu,
            // k3s's kubelet forwards through the pod's interface; Calico must allow it (docs/facts.md).
            containerIPForwarding: "Enabled",
            nodeAddressAutodetectionV4: { cidrs: [args.nodeSubnetCidr] },
            ipPools: [
                {
                    name: "default-ipv4-ippool",
                    cidr: args.podCidr,
                    encapsulation: calico.encapsulation,
                    natOutgoing: "Enabled",
                    blockSize: calicoBlockSize,
                    nodeSelector: "all()",
                },
            ],
        },
    };
}

/**
 * Calico as the pod network: the Tigera operator from its pinned Helm chart, then our own
 * Installation (the chart's default one is disabled so every field is ours and reviewable).
 */
export class CalicoNetwork extends pulumi.ComponentResource {
    public readonly operator: k8s.helm.v3.Release;
    public readonly installation: k8s.apiextensions.CustomResource;

    constructor(name: string, args: CalicoNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cni-compare:calico:CalicoNetwork", name, {}, opts);
        const k8sOpts = { parent: this, ...args.inCluster };

        this.operator = new k8s.helm.v3.Release(
            `${name}-operator`,
            {
                chart: "tigera-operator",
                version: args.calicoVersion,
                repositoryOpts: { repo: tigeraChartRepo },
                namespace: tigeraNamespace,
                createNamespace: true,
                values: {
                    installation: { enabled: false },
                    // Extras that would run on the measured nodes and add CPU noise to every figure.
                    apiServer: { enabled: false },
                    goldmane: { enabled: false },
                    whisker: { enabled: false },
                },
            },
            { ...k8sOpts, dependsOn: args.dependsOn },
        );

        this.installation = new k8s.apiextensions.CustomResource(
            `${name}-installation`,
            {
                apiVersion: "operator.tigera.io/v1",
                kind: "Installation",
                metadata: { name: "default" },
                spec: calicoInstallationSpec(args),
            },
            { ...k8sOpts, dependsOn: [this.operator] },
        );

        this.registerOutputs({});
    }
}
