/**
 * What every result is recorded with (`Environment`), and how it is measured: kernel, CPUs, the
 * MTU actually on the NIC and on a pod's interface (MTU is the biggest single cause of wrong
 * conclusions: docs/facts.md, "Measurement references").
 */
import { environmentCommand } from "./commands";
import { parseKeyValues, parseMtus, type PathMtu } from "./parse";
import { runChecked, type Shell } from "../sessions/shell";
import type { HostKeyRecord } from "../sessions/ssh";
import type { MtuOutput, Target, VersionsOutput } from "../targets";
import type { CiliumDatapath } from "./cilium-status";

export interface NodeEnvironment {
    readonly name: string;
    readonly kernel: string;
    readonly cpus: number;
    /** USER_HZ, for /proc/stat jiffies. */
    readonly clkTck: number;
    /** Interface that carries node-to-node traffic, and the MTU measured on that path: the
     * smaller of the interface's and the route's (`measureNode`, parse.ts parseMtus). */
    readonly nicInterface: string;
    readonly nicMtu: number;
    /** The interface's own MTU, and the route's where it carries one (absent in results from before they were recorded). */
    readonly nicLinkMtu?: number;
    readonly nicRouteMtu?: number;
    readonly instanceType?: string;
    readonly availabilityZone?: string;
    readonly k3sVersion?: string;
    /** What AWS documents for the instance type's network (`networkBandwidth` below). */
    readonly networkBandwidth?: NetworkBandwidth;
    /** The SSH host key the runner accepted for this node, and how (ssh.ts). */
    readonly sshHostKey?: HostKeyRecord;
    /** Cilium stacks: the host routing and masquerading this node's agent reports (cilium-status.ts). */
    readonly cilium?: CiliumDatapath;
}

/** One container of the workload as it actually ran: the tag asked for and the digest pulled. */
export interface ImageRecord {
    readonly pod: string;
    readonly node?: string;
    readonly container: string;
    /** The image reference in the pod spec (a mutable tag). */
    readonly image: string;
    /** The digest the runtime pulled (status.containerStatuses[].imageID). */
    readonly imageID: string;
}

/** Recorded with every repetition of every target. */
export interface Environment {
    readonly platform: Target["platform"];
    readonly mode: string;
    readonly nodes: readonly NodeEnvironment[];
    /** Measured MTU of a pod's path toward the other node: the smaller of its interface's and its
     * route's (cilium gives the veth the device MTU and the route the tunnel-reduced one). */
    readonly podMtu?: number;
    readonly podInterface?: string;
    /** The pod interface's own MTU, and its route's where it carries one. */
    readonly podLinkMtu?: number;
    readonly podRouteMtu?: number;
    /** What the stack says it configured (outputs.mtu). */
    readonly configuredMtu: MtuOutput;
    readonly versions?: Partial<VersionsOutput>;
    /** True when all "nodes" share one kernel (lab, loopback): CPU is sampled once, not per node. */
    readonly sharedKernel: boolean;
    /** The guestbook's containers with the digests they ran (AWS/k3s; the lab runs no images). */
    readonly images?: readonly ImageRecord[];
    readonly loadGeneratorHostKey?: HostKeyRecord;
}

const environmentTimeoutMs = 20_000;

/** Kernel, CPUs and measured NIC MTU of one node, toward `peerIp`. */
export async function measureNode(name: string, shell: Shell, peerIp: string, signal?: AbortSignal): Promise<NodeEnvironment> {
    const kv = parseKeyValues((await runChecked(shell, environmentCommand(peerIp), { timeoutMs: environmentTimeoutMs, signal })).stdout);
    const path = parseMtus(kv);
    return {
        name,
        kernel: kv.kernel ?? "unknown",
        cpus: Number(kv.cpus),
        clkTck: Number(kv.clkTck) || 100,
        nicInterface: path.iface,
        nicMtu: path.mtu,
        nicLinkMtu: path.linkMtu,
        ...(path.routeMtu !== undefined ? { nicRouteMtu: path.routeMtu } : {}),
    };
}

/** The measured MTU of a pod's path toward `peerIp`: its interface's, and its route's where it has one. */
export async function measurePodMtu(shell: Shell, peerIp: string, signal?: AbortSignal): Promise<PathMtu> {
    return parseMtus(parseKeyValues((await runChecked(shell, environmentCommand(peerIp), { timeoutMs: environmentTimeoutMs, signal })).stdout));
}

/** A pod's measured path as an Environment records it (nothing when no pod was measured). */
export function podPathFields(pod: PathMtu | undefined): Pick<Environment, "podMtu" | "podInterface" | "podLinkMtu" | "podRouteMtu"> {
    if (!pod) return {};
    return { podMtu: pod.mtu, podInterface: pod.iface, podLinkMtu: pod.linkMtu, ...(pod.routeMtu !== undefined ? { podRouteMtu: pod.routeMtu } : {}) };
}

/**
 * What AWS documents for an instance type's network: a baseline it can hold, and a burst it
 * reaches only while it has network I/O credits. Instances with 16 vCPUs or fewer are documented
 * as "up to" a bandwidth: they "can use burst bandwidth for a limited time, typically from 5 to
 * 60 minutes, depending on the instance size" (EC2 User Guide, "Amazon EC2 instance network
 * bandwidth", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-network-bandwidth.html).
 */
export interface NetworkBandwidth {
    /** Sustained bandwidth, Gbit/s. */
    readonly baselineGbps: number;
    /** The "up to" figure, reachable while burst credits last, Gbit/s. */
    readonly burstGbps: number;
    readonly source: string;
}

const instanceTypesGuide = "EC2 Instance Types guide, compute optimized, network specifications (https://docs.aws.amazon.com/ec2/latest/instancetypes/co.html#co_network)";

/**
 * The 16 vCPU / 32 GiB types the stacks allow (components/settings.ts). Baselines: the
 * baseline-bandwidth table of AWS's compute-optimized network specifications, as
 * aws/karpenter-provider-aws reads it (hack/code/bandwidth_gen.go scrapes that page into
 * pkg/providers/instancetype/zz_generated.bandwidth.go: c5/c5a/c5d.4xlarge 5000,
 * c6i/c6a/c7i/c7a.4xlarge 6250 Mbit/s). Burst: the "Network performance" column, "Up to 10
 * Gigabit" (c5 family) and "Up to 12.5 Gigabit" (c6i, c6a, c7i, c7a; docs/facts.md, "AWS").
 */
export const networkBandwidth: Readonly<Record<string, NetworkBandwidth>> = {
    "c5.4xlarge": { baselineGbps: 5, burstGbps: 10, source: instanceTypesGuide },
    "c5a.4xlarge": { baselineGbps: 5, burstGbps: 10, source: instanceTypesGuide },
    "c5d.4xlarge": { baselineGbps: 5, burstGbps: 10, source: instanceTypesGuide },
    "c6i.4xlarge": { baselineGbps: 6.25, burstGbps: 12.5, source: instanceTypesGuide },
    "c6a.4xlarge": { baselineGbps: 6.25, burstGbps: 12.5, source: instanceTypesGuide },
    "c7i.4xlarge": { baselineGbps: 6.25, burstGbps: 12.5, source: instanceTypesGuide },
    "c7a.4xlarge": { baselineGbps: 6.25, burstGbps: 12.5, source: instanceTypesGuide },
};

/** The documented class of an instance type; undefined for types not in the table (it says so in the report). */
export function networkBandwidthOf(instanceType: string | undefined): NetworkBandwidth | undefined {
    return instanceType ? networkBandwidth[instanceType] : undefined;
}
