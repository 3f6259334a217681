/**
 * One cluster as the runner sees it, whatever it runs on: shells on the load generator and the
 * nodes, pods on demand, and the facts to record with every result. Implemented for AWS k3s
 * stacks (aws-k3s.ts: SSH + Kubernetes API), the local lab (lab.ts: network namespaces)
 * and loopback (loopback.ts: local processes, for tests).
 */
import type { MeasurementId } from "../measure/measurements";
import type { MtuOutput, Target, VersionsOutput } from "../targets";
import type { NetworkBandwidth } from "../measure/environment";
import type { Shell } from "./shell";
import type { CpuCgroup } from "../measure/commands";
import type { HostKeyRecord } from "./ssh";
import type { CiliumDatapath } from "../measure/cilium-status";

/** A place a server or client runs: a pod, or a hostNetwork pod / the node itself (baseline). */
export interface Endpoint {
    /** Pod name or namespace, for raw-output headers. */
    readonly name: string;
    /** Address other endpoints reach it at. */
    readonly ip: string;
    /** Node index (0-based, node order of the target). */
    readonly node: number;
    /** True for the host-network baseline. */
    readonly hostNetwork: boolean;
    readonly shell: Shell;
}

export interface PodRequest {
    /** What the pods are for; pods with the same role and node are reused between calls. */
    readonly role: string;
    readonly node: number;
    readonly count: number;
    /** Host-network pods: the baseline without the pod network. */
    readonly hostNetwork?: boolean;
}

/** URLs of the guestbook frontend, as the load generator reaches them. */
export interface HttpEndpoints {
    /** Through the load balancer; undefined when the cluster has none (e.g. the lab). */
    readonly loadBalancer?: string;
    /** Straight to one node's NodePort (the LB's share is the difference). */
    readonly nodePort?: string;
}

export interface NodeEnvironment {
    readonly name: string;
    readonly kernel: string;
    readonly cpus: number;
    /** USER_HZ, for /proc/stat jiffies. */
    readonly clkTck: number;
    /** Interface that carries node-to-node traffic, and the MTU measured on that path: the
     * smaller of the interface's and the route's (environment.ts, parse.ts parseMtus). */
    readonly nicInterface: string;
    readonly nicMtu: number;
    /** The interface's own MTU, and the route's where it carries one (absent in results from before they were recorded). */
    readonly nicLinkMtu?: number;
    readonly nicRouteMtu?: number;
    readonly instanceType?: string;
    readonly availabilityZone?: string;
    readonly k3sVersion?: string;
    /** What AWS documents for the instance type's network (environment.ts `networkBandwidth`). */
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

export interface ClusterSession {
    readonly target: Target;
    readonly loadGenerator: Shell;
    /** One shell per node, in node order. */
    readonly hosts: readonly Shell[];
    /** Node addresses, in node order (for MTU route lookups). */
    readonly hostIps: readonly string[];
    readonly http: HttpEndpoints;
    /** True when all hosts share one kernel (lab, loopback). */
    readonly sharedKernel: boolean;
    /** A control group counting the CPU time of everything this target runs (the lab); tools
     * started in it are counted too. Undefined where the nodes are whole machines. */
    readonly cpuCgroup?: CpuCgroup;
    /**
     * Why this session cannot run `measurement` (undefined: it can). The runner asks before each
     * measurement and skips what a session cannot do, recording the reason in summary.json and
     * the report instead of a failure — as k8s-netperf's drivers answer IsTestSupported() before
     * a test runs. Absent: the session can run every measurement.
     */
    cannotMeasure?(measurement: MeasurementId): string | undefined;
    /** Pods (or host-network endpoints) on a node, created on first request, reused after. */
    pods(request: PodRequest): Promise<Endpoint[]>;
    /** Removes the pods of one role (the scaling run's); later requests for it create new ones. */
    releasePods(role: string): Promise<void>;
    environment(): Promise<Environment>;
    /** Removes every pod and process the session started. Safe to call twice. */
    close(): Promise<void>;
}

/** Opens the session a target needs; the runner's default, replaceable in BenchOptions. */
export type SessionFactory = (target: Target, signal?: AbortSignal) => Promise<ClusterSession>;
