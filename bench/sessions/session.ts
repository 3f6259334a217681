/**
 * One cluster as the runner sees it, whatever it runs on: shells on the load generator and the
 * nodes, pods on demand, and the facts to record with every result. Implemented for AWS k3s
 * stacks (aws-k3s.ts: SSH + Kubernetes API), the local lab (lab.ts: network namespaces)
 * and loopback (loopback.ts: local processes, for tests).
 */
import type { MeasurementId } from "../measure/ids";
import type { Target } from "../targets";
import type { Environment } from "../measure/environment";
import type { Shell } from "./shell";
import type { CpuCgroup } from "../measure/commands";
import type { ServiceProxyMode } from "../../components/serviceProxy";

/** What a session records with every result, defined where it is measured. */
export type { Environment, ImageRecord, NodeEnvironment } from "../measure/environment";

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
    /** Present when the target's Service count can be changed (lab: rule sets; aws-k3s: Services through the API). */
    readonly serviceProxy?: ServiceProxyControl;
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

/** A target's Service proxy, scaled by the runner's Service-count axis (issue 23). */
export interface ServiceProxyControl {
    readonly mode: ServiceProxyMode;
    /** Makes exactly `count` extra Services, each with endpoints, exist, and returns once the proxy has programmed them. */
    setServices(count: number, signal?: AbortSignal): Promise<void>;
    /** What the proxy has installed now, read back from node 1's kernel, e.g. { "iptables nat rules": 40123, "KUBE-SVC-* chains": 10001 }. */
    installed(signal?: AbortSignal): Promise<Readonly<Record<string, number>>>;
}

/** Opens the session a target needs; the runner's default, replaceable in BenchOptions. */
export type SessionFactory = (target: Target, signal?: AbortSignal) => Promise<ClusterSession>;
