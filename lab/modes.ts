/**
 * The lab's own small mode table. Every stack mode is a lab mode: the pod networks and the first
 * field report's two baselines (docs/field-reports.md §1) all come from components/modes.ts, whose ports,
 * VNIs, overheads and frontend ports are read from there, never restated.
 */
import { baselineFrontendPorts, frontendPortOnNodes, guestbookMtu, isBaseline, modeFacts, networkModes, podMtu, ec2NicMtu, type NetworkMode } from "../components/modes";
import { readProject } from "../components/project";

/** Every mode the lab can build (or say why not): the stacks' modes, in their order. */
export const labModes = networkModes;
export type LabMode = NetworkMode;

/** A mode whose guestbook runs on a pod network (k3s and a CNI plugin), not a baseline attachment
 * (the mode table keys the baselines' frontend ports by baseline). */
export type ClusterMode = Exclude<NetworkMode, keyof typeof baselineFrontendPorts>;

/** How pods reach their node, as the real plugin wires it. */
export type PodAttachment =
    /** flannel's CNI: veth pairs on a `cni0` bridge that owns the subnet's .1 (k3s flannel). */
    | "cni-bridge"
    /** Calico's CNI: one routed veth per pod (`cali…`), /32 host route, gateway 169.254.1.1. */
    | "calico-veth"
    /** Cilium's CNI: its datapath is eBPF programs its agent compiles and attaches; the lab builds
     * none (see `awsOnlyReason`). */
    | "cilium-ebpf"
    /** Published ports through DNAT on the node, the containers on a bridge (Docker `-p`, the
     * stacks' portmap hostPort). */
    | "docker-bridge"
    /** No pods: processes run in the node's own namespace (the VM / Marathon HOST rows). */
    | "host-network";

export interface LabModeFacts {
    readonly mode: LabMode;
    /** One line for reports. */
    readonly description: string;
    readonly attachment: PodAttachment;
    /** The port clients use on each node: the NodePort, or the baseline's frontend port. */
    readonly servicePort: number;
}

/** The NodePort every cluster-mode lab uses: the stacks' default, read from where it is defined
 * (Pulumi.yaml, config `nodePort`). */
export const labNodePort = projectNodePort();

function projectNodePort(): number {
    const text = readProject().defaults.nodePort;
    const port = Number(text);
    if (text === undefined || !Number.isInteger(port)) {
        throw new Error(`Pulumi.yaml: config nodePort default ${JSON.stringify(text)} is not a whole number; the lab takes its NodePort from it`);
    }
    return port;
}

/** The node "NIC" MTU of the lab's underlay: EC2's jumbo frames, so MTU effects match AWS. */
export const underlayMtu = ec2NicMtu;

function attachmentOf(mode: NetworkMode): PodAttachment {
    const guestbook = modeFacts[mode].guestbook;
    if (guestbook.kind === "host-network") return "host-network";
    if (guestbook.kind === "published-ports") return "docker-bridge";
    return ({ flannel: "cni-bridge", calico: "calico-veth", cilium: "cilium-ebpf" } as const)[modeFacts[mode].plugin];
}

export const labModeFacts: Readonly<Record<LabMode, LabModeFacts>> = Object.fromEntries(
    labModes.map((mode) => [mode, { mode, description: modeFacts[mode].description, attachment: attachmentOf(mode), servicePort: frontendPortOnNodes(mode, labNodePort) }]),
) as Record<LabMode, LabModeFacts>;

/** Why the lab never builds a mode, whatever the kernel: Cilium's datapath is not a set of
 * kernel devices and routes but eBPF programs its agent generates per node and endpoint; a
 * hand-made stand-in would measure something else under Cilium's name. */
export function awsOnlyReason(mode: LabMode): string | undefined {
    return labModeFacts[mode].attachment === "cilium-ebpf"
        ? "AWS only: Cilium's datapath is eBPF programs that its agent compiles and attaches per node and endpoint, which the lab cannot reproduce honestly (no stand-in is built)"
        : undefined;
}

export function isClusterMode(mode: LabMode): mode is ClusterMode {
    return !isBaseline(mode);
}

/**
 * The MTU of a pod's interface: the mode table's, on the lab's 9001-byte underlay. The bridge
 * baseline's containers get what the stack's do (a veth on flannel's cni0: the vxlan backend's
 * MTU), the host baseline's processes the NIC's.
 */
export function labPodMtu(mode: LabMode): number {
    return isClusterMode(mode) ? podMtu(mode, underlayMtu) : guestbookMtu(mode, underlayMtu);
}
