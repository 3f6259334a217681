/**
 * The lab's own small mode table: the five cluster modes come from components/modes.ts (their
 * ports, VNIs and overheads are read from there, never restated), plus the two single-machine
 * baselines of the first field report (SEEDS.md §1) that exist only in the lab.
 */
import { ec2NicMtu, isNetworkMode, modeFacts, networkModes, podMtu, type NetworkMode } from "../components/modes";

/** The two baseline rows of the first field report that have no Kubernetes stack. */
export const baselineModes = ["host", "bridge"] as const;
export type BaselineMode = (typeof baselineModes)[number];

/** Every mode the lab can build: the five cluster modes first, then the baselines. */
export const labModes = [...networkModes, ...baselineModes] as const;
export type LabMode = NetworkMode | BaselineMode;

/** How pods reach their node, as the real plugin wires it. */
export type PodAttachment =
    /** flannel's CNI: veth pairs on a `cni0` bridge that owns the subnet's .1 (k3s flannel). */
    | "cni-bridge"
    /** Calico's CNI: one routed veth per pod (`cali…`), /32 host route, gateway 169.254.1.1. */
    | "calico-veth"
    /** Docker's default network: veth pairs on `docker0`, published ports through DNAT. */
    | "docker-bridge"
    /** No pods: processes run in the node's own namespace (the VM / Marathon HOST rows). */
    | "host-network";

export interface LabModeFacts {
    readonly mode: LabMode;
    /** One line for reports. */
    readonly description: string;
    readonly attachment: PodAttachment;
    /** The port clients use on each node: the NodePort, or the published port of a baseline. */
    readonly servicePort: number;
}

/** The NodePort every cluster-mode lab uses: the stacks' default (Pulumi.yaml `nodePort`). */
export const labNodePort = 30099;

/** The seed's ports for the baselines: 8080 host networking / VM, 8081 Docker bridge (SEEDS.md §1). */
const hostPort = 8080;
const bridgePort = 8081;

/** The node "NIC" MTU of the lab's underlay: EC2's jumbo frames, so MTU effects match AWS. */
export const underlayMtu = ec2NicMtu;

export const labModeFacts: Readonly<Record<LabMode, LabModeFacts>> = {
    ...(Object.fromEntries(
        networkModes.map((mode) => [
            mode,
            {
                mode,
                description: modeFacts[mode].description,
                attachment: modeFacts[mode].plugin === "flannel" ? "cni-bridge" : "calico-veth",
                servicePort: labNodePort,
            },
        ]),
    ) as Record<NetworkMode, LabModeFacts>),
    host: {
        mode: "host",
        description: "Baseline: no pod network, processes on the node itself (the seed's cloud VM / Mesos host row)",
        attachment: "host-network",
        servicePort: hostPort,
    },
    bridge: {
        mode: "bridge",
        description: "Baseline: Docker-style bridge with published ports through iptables DNAT (the seed's Mesos bridge row)",
        attachment: "docker-bridge",
        servicePort: bridgePort,
    },
};

export function isLabMode(value: string): value is LabMode {
    return (labModes as readonly string[]).includes(value);
}

export function isClusterMode(mode: LabMode): mode is NetworkMode {
    return isNetworkMode(mode);
}

/**
 * The MTU of a pod's interface. Cluster modes: `podMtu` from the mode table. The bridge baseline
 * has no encapsulation; the lab runs it like `dockerd --mtu 9001` (Docker's own default is 1500,
 * which would measure the MTU, not the datapath).
 */
export function labPodMtu(mode: LabMode): number {
    return isClusterMode(mode) ? podMtu(mode, underlayMtu) : underlayMtu;
}

/** Parses a `--modes` list ("vxlan,calico" or "all"); throws naming the flag, value and allowed set. */
export function parseLabModes(text: string): LabMode[] {
    const items = text
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
    if (items.length === 1 && items[0] === "all") return [...labModes];
    if (items.length === 0) {
        throw new Error(`--modes: ${JSON.stringify(text)} is empty; allowed: all, or a comma list of ${labModes.join(", ")}`);
    }
    const unknown = items.filter((s) => !isLabMode(s));
    if (unknown.length > 0) {
        throw new Error(`--modes: ${unknown.map((s) => JSON.stringify(s)).join(", ")} not a lab mode; allowed: all, ${labModes.join(", ")}`);
    }
    return [...new Set(items as LabMode[])];
}
