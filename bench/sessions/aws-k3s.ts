/**
 * An AWS k3s stack as a ClusterSession: SSH (ssh2, ssh.ts) to the load generator and the nodes,
 * and measurement pods created through the Kubernetes API (@kubernetes/client-node 1.4.0) with
 * the stack's kubeconfig, pinned to nodes with `nodeName`.
 *
 * Measurement pods install nothing (issue #11): each is a pause pod (the node's own sandbox
 * image, `imagePullPolicy: Never`) that only holds a network namespace on the pod network, and
 * the tools, which the nodes carry (components/nodeScripts.ts `nodeToolPackages`), run on the
 * node inside that namespace: `sudo -n nsenter --target <pid> --net` over the node's SSH
 * connection, with the pid of the pod's container from `k3s crictl inspect` (pod-netns.ts).
 * Host-network endpoints (the baseline) are the node itself, over the same connection.
 *
 * How a stack attaches its guestbook (components/modes.ts `GuestbookAttachment`) decides what a
 * pod request gets, as the lab does (lab/lab.ts `labPods`), so the runner asks the same way:
 * - "pod-network": pause pods at their pod IPs;
 * - "host-network" (`host`): no container network, so every request gets the node itself;
 * - "published-ports" (`bridge`): the first endpoint on a node is a pause pod that publishes the
 *   measurement ports with `hostPort` and is reached at its NODE's address through the portmap
 *   DNAT, as a Docker container behind `-p`; further endpoints on that node are plain pods
 *   (clients of the same-node case).
 *
 * Pods: every create uses a fresh name (a serial within the run), so a pod that failed once is
 * deleted and replaced instead of blocking its role with HTTP 409 "AlreadyExists" for the rest
 * of the run; pods that came up are kept and reused, and a kept pod that has ended, or whose
 * container is no longer the one whose pid was read, is replaced. Pods carry no probes: ready is
 * phase Running with a pod IP and the container running, read while the runner waits for the
 * pod; nothing polls the pod after that.
 *
 * Cleanup: every pod carries `managedByLabel` and this run's `runLabelKey`, and each run holds a
 * coordination.k8s.io Lease it renews while it is alive. `close()` deletes the run's pods and its
 * Lease. Opening a session deletes only pods of runs that are over: their Lease is gone or was
 * not renewed within its duration (a runner killed with SIGKILL). A second runner on the same
 * cluster keeps its pods. `activeDeadlineSeconds` is a last resort for a cluster nobody opens
 * again; it is far longer than any run, and a pod that reaches it is replaced on next use.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { randomBytes } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import { measurementPorts } from "../../components/measurementPorts";
import { modeFacts, networkModes, type GuestbookAttachment, type NetworkMode } from "../../components/modes";
import { guestbookNamespace } from "../../workloads/guestbook";
import { sleep } from "../../core/wait";
import { imdsCommand, k3sVersionCommand, shellQuote } from "../measure/commands";
import { ciliumStatusCommand, parseCiliumStatus, type CiliumDatapath } from "../measure/cilium-status";
import { measureNode, measurePodMtu, podPathFields, networkBandwidthOf } from "../measure/environment";
import type { MeasurementId } from "../measure/measurements";
import { parseKeyValues } from "../measure/parse";
import { k3sContainerdConfig, NodeEndpointShell, pausePodManifest, PodNetnsShell, readContainerPid, sandboxImageCommand, type PublishedPort } from "./pod-netns";
import type { ClusterSession, Endpoint, Environment, HttpEndpoints, ImageRecord, PodRequest } from "./session";
import { connectSsh, sshAuthFrom, type SshShell } from "./ssh";
import type { Target } from "../targets";

/** Label on every pod and Lease the runner creates. */
export const managedByLabel = { key: "app.kubernetes.io/managed-by", value: "cni-bench" } as const;
/** Label naming one run (one session), so concurrent runners against one cluster tell their pods apart. */
export const runLabelKey = "cni-bench/run";
/** Label naming what a pod is for ("net", "host", "scale"), so a role's pods can be removed together. */
export const roleLabelKey = "cni-bench/role";
/** Namespace the measurement pods and the run Leases live in. */
export const benchNamespace = "default";
/**
 * A pod that is not ready in this time is deleted and replaced (once), with its status in the
 * error. The pause image is already on the node (every pod sandbox runs it), so a pod is ready
 * within seconds; the bound covers a busy kubelet.
 */
const podReadyTimeoutMs = 120_000;
const podPollMs = 1_000;
/** How often one pod is created under a fresh name before its request fails. */
const podAttempts = 2;
/**
 * Waiting reasons that never clear by themselves: with `imagePullPolicy: Never` a missing image
 * stays ErrImageNeverPull ("Required Image is absent on host and PullPolicy is NeverPullImage",
 * kubernetes pkg/kubelet/images/types.go), and a malformed reference stays
 * InvalidImageName. Waiting for them would only spend the timeout.
 */
const hopelessWaitingReasons = new Set(["ErrImageNeverPull", "InvalidImageName"]);
/** How long a withdrawn published-ports pod may take to be gone (its DNAT with it). */
const podGoneTimeoutMs = 60_000;
/**
 * Pods end themselves after this long if no runner deletes them: a week, far longer than any run
 * (the default five-mode plan is about two hours). Within a run, a pod that reached it is replaced.
 */
export const podLifetimeSeconds = 7 * 24 * 3600;
/**
 * The run's Lease: renewed every `renewSeconds` while the session is open; a run whose Lease was
 * not renewed for `durationSeconds` is over, and the next session removes its pods.
 */
export const runLease = { durationSeconds: 300, renewSeconds: 60 } as const;

/**
 * What a measurement pod of a "published-ports" stack (`bridge`) publishes on its node, TCP and
 * UDP: the ports the runner's pod-network servers listen on (iperf3's first port and sockperf's;
 * bench/run.ts takes its defaults from measurementPorts). Not the rest of the iperf3 range: the
 * runner's host-network servers take the next iperf3 port (measure/iperf3.ts `iperf3PortFor`) so
 * that a port published on the same node does not capture their connections. The stack's
 * security group admits these ports between the nodes (components/flows.ts).
 */
export const publishedMeasurementPorts: readonly PublishedPort[] = [measurementPorts.iperf3.first, measurementPorts.sockperf.first].flatMap((port) =>
    (["TCP", "UDP"] as const).map((protocol) => ({ port, protocol })),
);

/** The role label of the one port-publishing pod per node of a "published-ports" stack (shared by every role). */
export const publishedRole = "published";

export interface PodManifestArgs {
    readonly name: string;
    readonly nodeName: string;
    readonly runId: string;
    readonly role: string;
    /** The node's sandbox (pause) image. */
    readonly image: string;
    readonly publishedPorts?: readonly PublishedPort[];
}

/** One measurement pod: a pause pod pinned to a node (nodeName bypasses the scheduler: no surprises), labelled for cleanup. No probes. */
export function benchPodManifest(args: PodManifestArgs): k8s.V1Pod {
    return pausePodManifest({
        name: args.name,
        namespace: benchNamespace,
        nodeName: args.nodeName,
        labels: { [managedByLabel.key]: managedByLabel.value, [runLabelKey]: args.runId, [roleLabelKey]: args.role },
        image: args.image,
        activeDeadlineSeconds: podLifetimeSeconds,
        publishedPorts: args.publishedPorts,
    });
}

/** Pod names are DNS labels: lowercase, digits and "-", at most 63 characters. `serial` is unique within the run. */
export function benchPodName(runId: string, role: string, node: number, serial: number): string {
    return `cni-bench-${runId}-${role}-n${node + 1}-${serial}`.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 63);
}

export function runLeaseName(runId: string): string {
    return `cni-bench-${runId}`;
}

/**
 * The Kubernetes API's own words for a failed call. client-node 1.4.0 throws `ApiException`
 * whose `code` is the HTTP status and whose `body` is the response text (a `Status` object as
 * JSON; gen/apis/exception.js, `getBodyAsAny()` in gen/http/http.js); its message starts with
 * "HTTP-Code: 409" on a line of its own, so the first line alone says nothing.
 */
export function describeApiError(err: unknown): string {
    const e = err as { code?: unknown; body?: unknown; message?: unknown };
    if (typeof e?.code === "number" && e.body !== undefined) {
        const text = typeof e.body === "string" ? e.body : JSON.stringify(e.body);
        try {
            const status = JSON.parse(text) as { reason?: string; message?: string };
            if (status.message) return `HTTP ${e.code}${status.reason ? ` ${status.reason}` : ""}: ${status.message}`;
        } catch {
            // not JSON: show the text as it came
        }
        return `HTTP ${e.code}: ${text.trim().slice(0, 500) || "(empty body)"}`;
    }
    return String(e?.message ?? err);
}

function apiError(what: string, err: unknown): Error {
    return new Error(`${what}: ${describeApiError(err)}`);
}

export interface AwsFields {
    readonly mode: NetworkMode;
    readonly sshUser: string;
    readonly nodes: { name: string; publicIp: string; privateIp: string; sshHostKey?: string }[];
    readonly loadGeneratorIp: string;
    readonly loadGeneratorHostKey?: string;
}

/**
 * Checks the outputs a session needs, naming the missing key. `agentSocket` is SSH_AUTH_SOCK:
 * a stack built with the user's own key exports no private key (index.ts exports
 * `sshPrivateKey` only when it generated the pair), and the agent holds that key.
 */
export function requireAwsFields(target: Target, agentSocket?: string): AwsFields {
    const where = `target "${target.name}"`;
    if (!(networkModes as readonly string[]).includes(target.mode)) {
        throw new Error(`${where}: mode "${target.mode}" is not a network mode of the stacks; allowed: ${networkModes.join(", ")}`);
    }
    if (!target.loadGenerator?.publicIp) {
        throw new Error(`${where}: loadGenerator.publicIp is missing; the stack must export loadGenerator (its "loadGenerator" config on)`);
    }
    if (!target.sshUser) throw new Error(`${where}: sshUser is missing`);
    if (!target.sshPrivateKey && !target.sshPrivateKeyPath && !agentSocket) {
        throw new Error(
            `${where}: no SSH key: neither sshPrivateKey nor sshPrivateKeyPath is set (the stack exports sshPrivateKey only when it generated the key) and SSH_AUTH_SOCK is not set; add the stack's key to ssh-agent, or set sshPrivateKeyPath`,
        );
    }
    if (!target.kubeconfig && !target.kubeconfigPath) throw new Error(`${where}: neither kubeconfig nor kubeconfigPath is set`);
    if (target.nodes.length < 2) throw new Error(`${where}: nodes has ${target.nodes.length} entries; 2 are needed (cross-node tests)`);
    const nodes = target.nodes.map((n, i) => {
        if (!n.name || !n.publicIp || !n.privateIp) throw new Error(`${where}: nodes[${i}] needs name, publicIp and privateIp`);
        return { name: n.name, publicIp: n.publicIp, privateIp: n.privateIp, sshHostKey: n.sshHostKey };
    });
    return { mode: target.mode as NetworkMode, sshUser: target.sshUser, nodes, loadGeneratorIp: target.loadGenerator.publicIp, loadGeneratorHostKey: target.loadGenerator.sshHostKey };
}

/**
 * The guestbook URLs as the load generator (inside the VPC) reaches them: the load balancer, and
 * one node's private address at the port its frontends answer on (`frontends.port`): the NodePort
 * in the pod-network modes, the host port (`host`) or the published port (`bridge`) in the
 * baselines, where no Service and no kube-proxy sit in the path. Targets files written before
 * `frontends` existed give only `nodePort`, the same port.
 */
export function awsHttpEndpoints(target: Target): HttpEndpoints {
    const node = target.nodes[0];
    const port = target.frontends?.port ?? target.nodePort;
    return { loadBalancer: target.endpoint, nodePort: node?.privateIp ? `http://${node.privateIp}:${port}` : undefined };
}

/** Loaded only for aws-k3s targets, so the lab and loopback runs never pay for it. (Pinned to
 * 1.x: 2.x brings undici 8, which does not load on Node 20.) */
async function loadKubernetesClient(): Promise<typeof k8s> {
    return await import("@kubernetes/client-node");
}

/**
 * A Lease time. metav1.MicroTime accepts exactly six fractional digits, and client-node sends a
 * V1MicroTime through `Date.toJSON` (three digits), which the API server rejects
 * (kubernetes-client/javascript#828; kubernetes apimachinery micro_time.go, RFC3339Micro).
 */
function microTime(client: typeof k8s, at: Date): k8s.V1MicroTime {
    const t = new client.V1MicroTime(at.getTime());
    t.toJSON = () => at.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
    return t;
}

/** Runs whose Lease is missing or was not renewed within its duration, at `now`. */
export function finishedRuns(podRuns: readonly string[], leases: readonly k8s.V1Lease[], now: Date): string[] {
    const live = new Set(
        leases
            .filter((l) => {
                const renewed = l.spec?.renewTime ?? l.spec?.acquireTime;
                const duration = l.spec?.leaseDurationSeconds ?? 0;
                return renewed !== undefined && new Date(renewed).getTime() + duration * 1000 > now.getTime();
            })
            .map((l) => l.metadata?.labels?.[runLabelKey]),
    );
    return [...new Set(podRuns)].filter((r) => !live.has(r));
}

export async function openAwsK3sSession(target: Target, signal?: AbortSignal): Promise<AwsK3sSession> {
    // The agent is the user's own; SSH_AUTH_SOCK is read where OpenSSH reads it (ssh-agent(1)).
    const agentSocket = process.env.SSH_AUTH_SOCK || undefined;
    const fields = requireAwsFields(target, agentSocket);
    const privateKey = target.sshPrivateKey ?? (target.sshPrivateKeyPath ? fs.readFileSync(target.sshPrivateKeyPath, "utf8") : undefined);
    const kubeconfig = target.kubeconfig ?? fs.readFileSync(target.kubeconfigPath!, "utf8");
    const auth = sshAuthFrom(privateKey, agentSocket);
    const shells: SshShell[] = [];
    try {
        const connect = (name: string, host: string, hostKey: string | undefined) =>
            connectSsh(name, { host, port: target.sshPort, username: fields.sshUser, ...auth, hostKey }, signal).then((s) => (shells.push(s), s));
        const opened = await Promise.allSettled([
            connect(`${target.name} load generator`, fields.loadGeneratorIp, fields.loadGeneratorHostKey),
            ...fields.nodes.map((n, i) => connect(`${target.name} node ${i + 1} (${n.name})`, n.publicIp, n.sshHostKey)),
        ]);
        const failed = opened.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed.length) throw new Error(failed.map((f) => (f.reason as Error).message).join("\n"));
        const [loadGenerator, ...hosts] = opened.map((r) => (r as PromiseFulfilledResult<SshShell>).value);
        const client = await loadKubernetesClient();
        const kc = new client.KubeConfig();
        kc.loadFromString(kubeconfig);
        const api = { core: kc.makeApiClient(client.CoreV1Api), leases: kc.makeApiClient(client.CoordinationV1Api) };
        await removeFinishedRuns(target, api, new Date());
        const session = new AwsK3sSession(target, modeFacts[fields.mode].guestbook, loadGenerator, hosts, fields.nodes, api, client);
        await session.holdLease();
        return session;
    } catch (err) {
        await Promise.all(shells.map((s) => s.close().catch(() => undefined)));
        throw err;
    }
}

interface KubernetesApis {
    readonly core: k8s.CoreV1Api;
    readonly leases: k8s.CoordinationV1Api;
}

/** Deletes the pods and Leases of runs that are over; pods of live runs stay. */
async function removeFinishedRuns(target: Target, api: KubernetesApis, now: Date): Promise<void> {
    const selector = `${managedByLabel.key}=${managedByLabel.value}`;
    const where = `target "${target.name}"`;
    const [pods, leases] = await Promise.all([
        api.core.listNamespacedPod({ namespace: benchNamespace, labelSelector: selector }).catch((e) => {
            throw apiError(`${where}: the Kubernetes API did not list the benchmark pods`, e);
        }),
        api.leases.listNamespacedLease({ namespace: benchNamespace, labelSelector: selector }).catch((e) => {
            throw apiError(`${where}: the Kubernetes API did not list the benchmark run leases`, e);
        }),
    ]);
    const runOf = (labels?: Record<string, string>) => labels?.[runLabelKey] ?? "";
    const over = new Set(finishedRuns([...pods.items.map((p) => runOf(p.metadata?.labels)), ...leases.items.map((l) => runOf(l.metadata?.labels))], leases.items, now));
    const deletions = [
        ...pods.items
            .filter((p) => over.has(runOf(p.metadata?.labels)))
            .map((p) => api.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: benchNamespace, gracePeriodSeconds: 0 }).then(() => undefined)),
        ...leases.items
            .filter((l) => over.has(runOf(l.metadata?.labels)))
            .map((l) => api.leases.deleteNamespacedLease({ name: l.metadata!.name!, namespace: benchNamespace }).then(() => undefined)),
    ];
    const failures = (await Promise.allSettled(deletions)).filter((r): r is PromiseRejectedResult => r.status === "rejected" && (r.reason as { code?: number }).code !== 404);
    if (failures.length) throw apiError(`${where}: could not delete the leftovers of a finished run`, failures[0].reason);
}


/** A pod the session created and uses: its endpoint, and the container whose pid its shell enters. */
interface BenchPod {
    readonly endpoint: Endpoint;
    /** The Kubernetes containerID ("containerd://…") the pid was read for. */
    readonly containerId: string;
    readonly shell: PodNetnsShell;
}

export class AwsK3sSession implements ClusterSession {
    readonly hostIps: string[];
    readonly http: HttpEndpoints;
    readonly sharedKernel = false;
    readonly runId = randomBytes(3).toString("hex");
    /** Pods by `<role>/<node>`; a "published-ports" stack's port-publishing pods under `published/<node>`. */
    private readonly podsByKey = new Map<string, BenchPod[]>();
    /** The node's sandbox image, read once per node (a failed read is retried by the next request). */
    private readonly sandboxImages = new Map<number, Promise<string>>();
    /** Host-network endpoints' shells, one per node, layered on the node's connection. */
    private readonly nodeEndpointShells = new Map<number, NodeEndpointShell>();
    private serial = 0;
    private closed = false;
    private renewTimer?: NodeJS.Timeout;
    private leaseRenewedAt = 0;
    private leaseError?: string;

    constructor(
        readonly target: Target,
        /** How the stack attaches its guestbook: what a pod request gets (see the file's doc). */
        readonly attachment: GuestbookAttachment,
        readonly loadGenerator: SshShell,
        readonly hosts: SshShell[],
        private readonly nodes: { name: string; privateIp: string }[],
        private readonly api: KubernetesApis,
        private readonly client: typeof k8s,
    ) {
        this.hostIps = nodes.map((n) => n.privateIp);
        this.http = awsHttpEndpoints(target);
    }

    private get where(): string {
        return `target "${this.target.name}"`;
    }

    /**
     * The scaling curve puts n pods on each node, each a server on its own port. Without a
     * container network every "pod" is the node, and with published ports only one pod per node
     * can hold a host port: the kubelet refuses a pod whose hostPorts a running pod already holds
     * (admission runs the scheduler's NodePorts filter: kubernetes pkg/kubelet/lifecycle/predicate.go,
     * generalFilter -> nodeports.Fits), as Docker refuses a second `-p` of the same port.
     */
    cannotMeasure(measurement: MeasurementId): string | undefined {
        if (measurement !== "scaling") return undefined;
        if (this.attachment.kind === "host-network") {
            return "no container network: every pod of the scaling curve would be the node itself, so the curve would count parallel host-to-host streams, not pods";
        }
        if (this.attachment.kind === "published-ports") {
            return "published ports: one pod per node can hold a host port (the kubelet rejects host-port conflicts at admission), so n pods per node cannot each be reached through a published port";
        }
        return undefined;
    }

    private leaseBody(now: Date, resourceVersion?: string): k8s.V1Lease {
        return {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: runLeaseName(this.runId), namespace: benchNamespace, resourceVersion, labels: { [managedByLabel.key]: managedByLabel.value, [runLabelKey]: this.runId } },
            spec: {
                holderIdentity: `${os.hostname()} pid ${process.pid}`,
                leaseDurationSeconds: runLease.durationSeconds,
                acquireTime: microTime(this.client, now),
                renewTime: microTime(this.client, now),
            },
        };
    }

    /** Creates the run's Lease and renews it until `close()`. */
    async holdLease(): Promise<void> {
        const now = new Date();
        await this.api.leases.createNamespacedLease({ namespace: benchNamespace, body: this.leaseBody(now) }).catch((e) => {
            throw apiError(`${this.where}: could not create the run's Lease`, e);
        });
        this.leaseRenewedAt = now.getTime();
        this.renewTimer = setInterval(() => void this.renewLease(), runLease.renewSeconds * 1000);
        this.renewTimer.unref();
    }

    /** One renewal; a failure is kept and reported by the next `pods()` once the Lease has lapsed. */
    async renewLease(): Promise<void> {
        const now = new Date();
        try {
            const name = runLeaseName(this.runId);
            const current = await this.api.leases.readNamespacedLease({ name, namespace: benchNamespace });
            await this.api.leases.replaceNamespacedLease({ name, namespace: benchNamespace, body: { ...this.leaseBody(now, current.metadata?.resourceVersion), spec: { ...current.spec, renewTime: microTime(this.client, now), leaseDurationSeconds: runLease.durationSeconds } } });
            this.leaseRenewedAt = now.getTime();
            this.leaseError = undefined;
        } catch (e) {
            this.leaseError = describeApiError(e);
        }
    }

    private checkLease(): void {
        if (this.leaseError && Date.now() - this.leaseRenewedAt > runLease.durationSeconds * 1000) {
            throw new Error(`${this.where}: the run's Lease lapsed (last renewal failed: ${this.leaseError}); another runner may have removed this run's pods`);
        }
    }

    private nodeLabel(node: number): string {
        return `node ${node + 1} (${this.nodes[node].name})`;
    }

    /** The pause image k3s's containerd uses on a node, read once over SSH (the config is root's). */
    private sandboxImage(node: number): Promise<string> {
        let image = this.sandboxImages.get(node);
        if (!image) {
            const command = `sudo -n sh -c ${shellQuote(sandboxImageCommand())}`;
            image = this.hosts[node].run(command, { timeoutMs: 20_000 }).then((r) => {
                const found = r.stdout.trim();
                if (r.code !== 0 || !found) {
                    const why = r.stderr.trim().split("\n").slice(-2).join(" ") || (r.code === 0 ? "no sandbox_image or pinned_images.sandbox entry" : `exit ${r.code}`);
                    throw new Error(`${this.where}: ${this.nodeLabel(node)}: could not read the sandbox (pause) image from ${k3sContainerdConfig}: ${why}`);
                }
                return found;
            });
            image.catch(() => this.sandboxImages.delete(node)); // the next request reads it again
            this.sandboxImages.set(node, image);
        }
        return image;
    }

    /**
     * The host pid of a pod's container, read on its node as root: Ubuntu 24.04's
     * /etc/cloud/cloud.cfg makes the image user `ubuntu` with `sudo: ["ALL=(ALL) NOPASSWD:ALL"]`
     * (system_info.default_user; quoted in ubuntu/WSL#468), and `-n` makes a missing grant fail
     * instead of prompting (sudo(8)). The node scripts rely on the same grant (components/nodeScripts.ts `runAsRoot`).
     */
    private async containerPid(pod: string, node: number, containerId: string): Promise<number> {
        return readContainerPid(this.hosts[node], containerId).catch((e: Error) => {
            throw new Error(`pod ${pod}: could not read its container's pid on ${this.nodeLabel(node)} (${e.message})`);
        });
    }

    /** Waits for a pod: phase Running, a pod IP, its container running (with a containerID). */
    private async waitReady(name: string, image: string): Promise<{ pod: k8s.V1Pod; containerId: string }> {
        const deadline = Date.now() + podReadyTimeoutMs;
        for (;;) {
            const pod = await this.api.core.readNamespacedPod({ name, namespace: benchNamespace }).catch((e) => {
                throw apiError(`pod ${name}: could not read its status`, e);
            });
            const phase = pod.status?.phase;
            const container = pod.status?.containerStatuses?.[0];
            if (phase === "Failed" || phase === "Succeeded") {
                const ended = container?.state?.terminated;
                throw new Error(
                    `pod ${name} ended (${phase}: ${pod.status?.reason ?? ended?.reason ?? "no reason given"}${ended?.exitCode !== undefined ? `, exit ${ended.exitCode}` : ""}${pod.status?.message ? `, ${pod.status.message}` : ""})`,
                );
            }
            const waiting = container?.state?.waiting;
            if (waiting?.reason && hopelessWaitingReasons.has(waiting.reason)) {
                throw new Error(`pod ${name} cannot start: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""} (image ${image}, imagePullPolicy Never: the node's own sandbox image is expected)`);
            }
            if (phase === "Running" && pod.status?.podIP && container?.state?.running && container.containerID) return { pod, containerId: container.containerID };
            if (Date.now() > deadline) {
                throw new Error(`pod ${name} not ready after ${podReadyTimeoutMs / 1000} s (${waiting?.reason ?? phase ?? "no phase"}${waiting?.message ? `: ${waiting.message}` : ""})`);
            }
            await sleep(podPollMs);
        }
    }

    /** Deletes a pod (gone already is fine); `gracePeriodSeconds` 0 removes the object at once. */
    private async deletePod(name: string, gracePeriodSeconds = 0): Promise<void> {
        await this.api.core.deleteNamespacedPod({ name, namespace: benchNamespace, gracePeriodSeconds }).catch((e: { code?: number }) => {
            if (e.code !== 404) throw apiError(`pod ${name}: could not delete it`, e);
        });
    }

    /**
     * One pause pod, created under a fresh name and replaced (once) when it fails to come up. A
     * port-publishing pod is reached at its node's address; any other at its pod IP.
     */
    private async createPod(role: string, node: number, publish: boolean): Promise<BenchPod> {
        const failures: string[] = [];
        const image = await this.sandboxImage(node);
        for (let attempt = 1; attempt <= podAttempts; attempt++) {
            const name = benchPodName(this.runId, role, node, this.serial++);
            try {
                const body = benchPodManifest({ name, nodeName: this.nodes[node].name, runId: this.runId, role, image, publishedPorts: publish ? publishedMeasurementPorts : undefined });
                await this.api.core.createNamespacedPod({ namespace: benchNamespace, body }).catch((e) => {
                    throw apiError(`pod ${name}: could not create it`, e);
                });
                const { pod, containerId } = await this.waitReady(name, image);
                const pid = await this.containerPid(name, node, containerId);
                const shell = new PodNetnsShell(`${this.target.name} pod ${name} (${this.nodeLabel(node)}, pid ${pid})`, (c, o, t, s) => this.hosts[node].stream(c, o, t, s), pid);
                const ip = publish ? this.nodes[node].privateIp : pod.status!.podIP!;
                return { endpoint: { name, ip, node, hostNetwork: false, shell }, containerId, shell };
            } catch (err) {
                failures.push((err as Error).message);
                try {
                    await this.deletePod(name);
                } catch (e) {
                    failures.push((e as Error).message);
                }
            }
        }
        throw new Error(`${this.where}: ${role} pod on ${this.nodeLabel(node)} failed ${podAttempts} times: ${failures.join("; ")}`);
    }

    /**
     * Keeps the pods that still run the container whose pid their shell enters; deletes and
     * forgets the others (ended, being deleted, or a different container: a stale pid would enter
     * whatever namespace that number belongs to now).
     */
    private async stillRunning(pods: readonly BenchPod[]): Promise<BenchPod[]> {
        if (pods.length === 0) return [];
        const list = await this.api.core.listNamespacedPod({ namespace: benchNamespace, labelSelector: `${runLabelKey}=${this.runId}` }).catch((e) => {
            throw apiError(`${this.where}: could not list this run's pods`, e);
        });
        const running = new Map(
            list.items
                .filter((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp && p.status?.containerStatuses?.[0]?.state?.running)
                .map((p) => [p.metadata?.name, p.status?.containerStatuses?.[0]?.containerID]),
        );
        const live = (p: BenchPod) => running.get(p.endpoint.name) === p.containerId;
        await Promise.all(pods.filter((p) => !live(p)).map((p) => this.forget(p)));
        return pods.filter(live);
    }

    private async forget(pod: BenchPod): Promise<void> {
        await pod.shell.close().catch(() => undefined); // the pod is gone; nothing left to stop in it
        await this.deletePod(pod.endpoint.name);
    }

    /** `count` pods under `key`: the ones kept, and fresh ones for the rest. */
    private async podsFor(key: string, role: string, node: number, count: number, publish: boolean): Promise<Endpoint[]> {
        const have = await this.stillRunning(this.podsByKey.get(key) ?? []);
        this.podsByKey.set(key, have);
        const missing = Math.max(0, count - have.length);
        const created = await Promise.allSettled(Array.from({ length: missing }, () => this.createPod(role, node, publish)));
        for (const r of created) if (r.status === "fulfilled") have.push(r.value);
        const failed = created.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed.length) {
            // The pods that came up stay for the next request; only the failed ones are retried then.
            throw new Error(`${failed.length} of ${missing} pod(s) did not come up: ${(failed[0].reason as Error).message}`);
        }
        return have.slice(0, count).map((p) => p.endpoint);
    }

    /** The node itself, `count` times (host-network endpoints share one shell per node). */
    private nodeEndpoints(node: number, count: number): Endpoint[] {
        let shell = this.nodeEndpointShells.get(node);
        if (!shell) {
            shell = new NodeEndpointShell(`${this.target.name} ${this.nodeLabel(node)}, host network`, (c, o, t, s) => this.hosts[node].stream(c, o, t, s));
            this.nodeEndpointShells.set(node, shell);
        }
        return Array.from({ length: count }, (_, i) => ({ name: `${this.nodes[node].name}#${i}`, ip: this.nodes[node].privateIp, node, hostNetwork: true, shell }));
    }

    /**
     * Removes a node's port-publishing pod and waits until it is gone: while it exists, the portmap
     * DNAT sends every packet for its ports at any of the node's addresses to the pod
     * (containernetworking/plugins portmap README, "Rule structure": `--dst-type LOCAL`), so a
     * server on the node itself (the host-network baseline's sockperf, same port) would never see
     * its clients. Deleting with grace 0 would remove the object at once
     * (DeleteOptions.gracePeriodSeconds: "The value zero indicates delete immediately"), before
     * the kubelet has stopped anything; with a positive grace the object stays, marked, until the
     * kubelet has stopped the pod and removes it (Kubernetes docs, Pod Lifecycle, "Termination of
     * Pods"), so "gone" means the sandbox and its network are torn down.
     */
    private async withdrawPublished(node: number): Promise<void> {
        const key = `${publishedRole}/${node}`;
        const pods = this.podsByKey.get(key) ?? [];
        this.podsByKey.delete(key);
        for (const pod of pods) {
            const name = pod.endpoint.name;
            await pod.shell.close().catch(() => undefined);
            await this.deletePod(name, 1);
            const deadline = Date.now() + podGoneTimeoutMs;
            for (;;) {
                const gone = await this.api.core.readNamespacedPod({ name, namespace: benchNamespace }).then(
                    () => false,
                    (e: { code?: number }) => {
                        if (e.code === 404) return true;
                        throw apiError(`pod ${name}: could not read it while waiting for its removal`, e);
                    },
                );
                if (gone) break;
                if (Date.now() > deadline) throw new Error(`pod ${name}: still there ${podGoneTimeoutMs / 1000} s after its deletion; its published ports would capture the host-network baseline's connections on ${this.nodeLabel(node)}`);
                await sleep(podPollMs);
            }
        }
    }

    async pods(request: PodRequest): Promise<Endpoint[]> {
        if (this.closed) throw new Error(`${this.where}: session closed`);
        this.checkLease();
        if (!this.nodes[request.node]) throw new Error(`${this.where}: node ${request.node + 1} requested, the stack has ${this.nodes.length}`);
        const { node, count, role } = request;
        if (request.hostNetwork || this.attachment.kind === "host-network") {
            if (this.attachment.kind === "published-ports") await this.withdrawPublished(node);
            return this.nodeEndpoints(node, count);
        }
        if (this.attachment.kind === "published-ports") {
            const [published] = await this.podsFor(`${publishedRole}/${node}`, publishedRole, node, 1, true);
            const others = count > 1 ? await this.podsFor(`${role}/${node}`, role, node, count - 1, false) : [];
            return [published, ...others];
        }
        return this.podsFor(`${role}/${node}`, role, node, count, false);
    }

    async releasePods(role: string): Promise<void> {
        const keys = [...this.podsByKey.keys()].filter((k) => k.startsWith(`${role}/`));
        const pods = keys.flatMap((k) => this.podsByKey.get(k) ?? []);
        for (const k of keys) this.podsByKey.delete(k);
        await Promise.all(pods.map((p) => p.shell.close().catch(() => undefined)));
        await this.api.core
            .deleteCollectionNamespacedPod({ namespace: benchNamespace, labelSelector: `${runLabelKey}=${this.runId},${roleLabelKey}=${role}`, gracePeriodSeconds: 0 })
            .catch((e) => {
                throw apiError(`${this.where}: could not delete the ${role} pods (kubectl delete pod -n ${benchNamespace} -l ${runLabelKey}=${this.runId},${roleLabelKey}=${role})`, e);
            });
    }

    /** The image digest each guestbook container actually runs (status.containerStatuses[].imageID). */
    private async guestbookImages(): Promise<ImageRecord[]> {
        const list = await this.api.core.listNamespacedPod({ namespace: guestbookNamespace }).catch((e) => {
            throw apiError(`${this.where}: could not list the guestbook pods`, e);
        });
        return list.items.flatMap((p) =>
            (p.status?.containerStatuses ?? []).map((c) => ({ pod: p.metadata?.name ?? "?", node: p.spec?.nodeName, container: c.name, image: c.image, imageID: c.imageID })),
        );
    }

    private get runsCilium(): boolean {
        const mode = this.target.mode;
        return (networkModes as readonly string[]).includes(mode) && modeFacts[mode as NetworkMode].plugin === "cilium";
    }

    /** What the node's own Cilium agent reports for host routing and masquerading (cilium-status.ts). */
    private async ciliumDatapath(node: number): Promise<CiliumDatapath> {
        const command = `sudo -n sh -c ${shellQuote(ciliumStatusCommand())}`;
        const r = await this.hosts[node].run(command, { timeoutMs: 30_000 });
        const where = `${this.where}: ${this.nodeLabel(node)}`;
        if (r.code !== 0) throw new Error(`${where}: could not read the Cilium agent's status (${command}): exit ${r.code}: ${r.stderr.trim().split("\n").slice(-2).join(" ") || "no output"}`);
        try {
            return parseCiliumStatus(r.stdout);
        } catch (e) {
            throw new Error(`${where}: ${(e as Error).message}`);
        }
    }

    async environment(): Promise<Environment> {
        const nodes = await Promise.all(
            this.hosts.map(async (h, i) => {
                const base = await measureNode(this.nodes[i].name, h, this.hostIps[(i + 1) % this.hostIps.length]);
                const meta = parseKeyValues((await h.run(`${imdsCommand()}; echo "k3s=$(${k3sVersionCommand()})"`, { timeoutMs: 20_000 })).stdout);
                const out = this.target.nodes[i];
                const instanceType = meta.instanceType || out.instanceType;
                return {
                    ...base,
                    instanceType,
                    availabilityZone: meta.availabilityZone || out.availabilityZone,
                    k3sVersion: meta.k3s,
                    networkBandwidth: networkBandwidthOf(instanceType),
                    sshHostKey: h.hostKey,
                    cilium: this.runsCilium ? await this.ciliumDatapath(i) : undefined,
                };
            }),
        );
        const [a] = await this.pods({ role: "net", node: 0, count: 1 });
        const [b] = await this.pods({ role: "net", node: 1, count: 1 });
        const pod = await measurePodMtu(a.shell, b.ip);
        return {
            platform: "aws-k3s",
            mode: this.target.mode,
            nodes,
            ...podPathFields(pod),
            configuredMtu: this.target.mtu,
            versions: this.target.versions,
            sharedKernel: false,
            images: await this.guestbookImages(),
            loadGeneratorHostKey: this.loadGenerator.hostKey,
        };
    }

    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        clearInterval(this.renewTimer);
        // Stop what the endpoints still run (pods are deleted next; the node connections stay open until the end).
        const endpointShells = [...[...this.podsByKey.values()].flat().map((p) => p.shell), ...this.nodeEndpointShells.values()];
        await Promise.all(endpointShells.map((s) => s.close().catch(() => undefined)));
        const selector = `${runLabelKey}=${this.runId}`;
        const problems: string[] = [];
        await this.api.core.deleteCollectionNamespacedPod({ namespace: benchNamespace, labelSelector: selector, gracePeriodSeconds: 0 }).catch((e) => {
            problems.push(`could not delete the measurement pods (${describeApiError(e)}); delete them with: kubectl delete pod -n ${benchNamespace} -l ${selector}`);
        });
        await this.api.leases.deleteNamespacedLease({ name: runLeaseName(this.runId), namespace: benchNamespace }).catch((e: { code?: number }) => {
            if (e.code !== 404) problems.push(`could not delete the run's Lease ${runLeaseName(this.runId)} (${describeApiError(e)}); the next run removes it once it has lapsed`);
        });
        const closing = await Promise.allSettled([this.loadGenerator, ...this.hosts].map((s) => s.close()));
        for (const r of closing) if (r.status === "rejected") problems.push((r.reason as Error).message);
        if (problems.length) throw new Error(`${this.where}: ${problems.join("; ")}`);
    }
}
