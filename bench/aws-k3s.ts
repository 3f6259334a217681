/**
 * An AWS k3s stack as a ClusterSession: SSH (ssh2, ssh.ts) to the load generator and the nodes,
 * and measurement pods created through the Kubernetes API (@kubernetes/client-node 1.4.0) with
 * the stack's kubeconfig, pinned to nodes with `nodeName`, hostNetwork pods for the baseline.
 *
 * Pods: every create uses a fresh name (a serial within the run), so a pod that failed once is
 * deleted and replaced instead of blocking its role with HTTP 409 "AlreadyExists" for the rest
 * of the run; pods that came up are kept and reused, and a kept pod that has ended is replaced.
 * Pods carry no probes: the runner reads the pod's log once for `podReadyMarker` while it waits
 * for the pod, and nothing polls the pod after that (kubelet runs a readinessProbe every
 * `periodSeconds` for the pod's whole life: it would add CPU load that grows with the pod count).
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
import * as stream from "node:stream";
import { randomBytes } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import { guestbookNamespace } from "../workloads/guestbook";
import { imdsCommand, k3sVersionCommand } from "./commands";
import { measureNode, measurePodMtu, networkBandwidthOf } from "./environment";
import { parseKeyValues } from "./parse";
import type { ClusterSession, Endpoint, Environment, HttpEndpoints, ImageRecord, PodRequest } from "./session";
import { RemoteShell, type CommandResult } from "./shell";
import { connectSsh, sshAuthFrom, type SshShell } from "./ssh";
import type { Target } from "./targets";

/** Label on every pod and Lease the runner creates. */
export const managedByLabel = { key: "app.kubernetes.io/managed-by", value: "cni-bench" } as const;
/** Label naming one run (one session), so concurrent runners against one cluster tell their pods apart. */
export const runLabelKey = "cni-bench/run";
/** Label naming what a pod is for ("net", "host", "scale"), so a role's pods can be removed together. */
export const roleLabelKey = "cni-bench/role";
/** Namespace the measurement pods and the run Leases live in. */
export const benchNamespace = "default";
/**
 * Image of the measurement pods. Debian has both iperf3 and sockperf (no common image carries
 * sockperf), installed at start-up; pods need egress to the Debian mirrors (natOutgoing).
 */
export const defaultPodImage = "debian:bookworm-slim";
/** The line the bootstrap script prints when the tools are installed; the runner reads the log for it. */
export const podReadyMarker = "cni-bench: tools ready";
/** A pod that is not ready in this time is deleted and replaced (once), with its status in the error. */
const podReadyTimeoutMs = 300_000;
const podPollMs = 2_000;
/** How often one pod is created under a fresh name before its request fails. */
const podAttempts = 2;
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

/** The pod's start-up script: install the tools, say so on stdout, idle until deleted. */
export function podBootstrapScript(lifetimeSeconds = podLifetimeSeconds): string {
    return [
        "set -e",
        "if ! command -v iperf3 >/dev/null || ! command -v sockperf >/dev/null || ! command -v ip >/dev/null; then",
        "  apt-get update -qq",
        "  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iperf3 sockperf iproute2 procps >/dev/null",
        "fi",
        `echo '${podReadyMarker}'`,
        `exec sleep ${lifetimeSeconds}`,
    ].join("\n");
}

export interface PodManifestArgs {
    readonly name: string;
    readonly nodeName: string;
    readonly hostNetwork: boolean;
    readonly runId: string;
    readonly role: string;
    readonly image?: string;
}

/** One measurement pod, pinned to a node (nodeName bypasses the scheduler: no surprises). No probes. */
export function benchPodManifest(args: PodManifestArgs): k8s.V1Pod {
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
            name: args.name,
            namespace: benchNamespace,
            labels: { [managedByLabel.key]: managedByLabel.value, [runLabelKey]: args.runId, [roleLabelKey]: args.role },
        },
        spec: {
            nodeName: args.nodeName,
            hostNetwork: args.hostNetwork,
            dnsPolicy: args.hostNetwork ? "ClusterFirstWithHostNet" : "ClusterFirst",
            restartPolicy: "Never",
            terminationGracePeriodSeconds: 0,
            activeDeadlineSeconds: podLifetimeSeconds,
            tolerations: [{ operator: "Exists" }],
            containers: [{ name: "tools", image: args.image ?? defaultPodImage, command: ["sh", "-c", podBootstrapScript()] }],
        },
    };
}

/** Pod names are DNS labels: lowercase, digits and "-", at most 63 characters. `serial` is unique within the run. */
export function benchPodName(runId: string, role: string, node: number, serial: number, hostNetwork: boolean): string {
    return `cni-bench-${runId}-${hostNetwork ? "host" : role}-n${node + 1}-${serial}`.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 63);
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
    return { sshUser: target.sshUser, nodes, loadGeneratorIp: target.loadGenerator.publicIp, loadGeneratorHostKey: target.loadGenerator.sshHostKey };
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

/** A shell inside a pod, through the Kubernetes exec API. */
class PodShell extends RemoteShell {
    constructor(
        readonly name: string,
        private readonly exec: k8s.Exec,
        private readonly pod: string,
    ) {
        super();
    }

    protected runStreaming(command: string, onStdout: (text: string) => void, timeoutMs: number, signal?: AbortSignal): Promise<CommandResult> {
        return new Promise((resolve, reject) => {
            let stdout = "";
            let stderr = "";
            let status: k8s.V1Status | undefined;
            let failure: Error | undefined;
            const out = new stream.Writable({
                write: (chunk, _enc, cb) => {
                    stdout += chunk;
                    onStdout(chunk.toString());
                    cb();
                },
            });
            const err = new stream.Writable({
                write: (chunk, _enc, cb) => {
                    stderr += chunk;
                    cb();
                },
            });
            this.exec
                .exec(benchNamespace, this.pod, "tools", ["sh", "-c", command], out, err, null, false, (s) => (status = s))
                .then((ws) => {
                    const timer = setTimeout(() => {
                        failure = new Error(`${this.name}: no answer within ${timeoutMs / 1000} s from: ${command.slice(0, 200)}`);
                        ws.close();
                    }, timeoutMs);
                    const onAbort = () => {
                        failure = new Error(`${this.name}: aborted`);
                        ws.close();
                    };
                    signal?.addEventListener("abort", onAbort, { once: true });
                    ws.on("close", () => {
                        clearTimeout(timer);
                        signal?.removeEventListener("abort", onAbort);
                        if (failure) return reject(failure);
                        // The API server ends every exec with a Status on channel 3: Success, or
                        // Failure with reason NonZeroExitCode and the code as an "ExitCode" cause
                        // (k8s.io/apimachinery remotecommand). Anything else is not an exit code.
                        if (!status) return reject(new Error(`${this.name}: the exec stream closed without a status (connection lost?) while running: ${command.slice(0, 200)}`));
                        if (status.status === "Success") return resolve({ stdout, stderr, code: 0 });
                        const exit = status.details?.causes?.find((c) => c.reason === "ExitCode")?.message;
                        if (exit !== undefined && /^\d+$/.test(exit)) return resolve({ stdout, stderr, code: Number(exit) });
                        reject(new Error(`${this.name}: exec failed (${status.reason ?? "no reason"}: ${status.message ?? "no message"}) while running: ${command.slice(0, 200)}`));
                    });
                })
                .catch((e: unknown) => reject(new Error(`${this.name}: exec failed: ${describeApiError(e)}`)));
        });
    }

    protected async disconnect(): Promise<void> {}
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
        const session = new AwsK3sSession(target, loadGenerator, hosts, fields.nodes, api, new client.Exec(kc), client);
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

export class AwsK3sSession implements ClusterSession {
    readonly hostIps: string[];
    readonly http: HttpEndpoints;
    readonly sharedKernel = false;
    readonly runId = randomBytes(3).toString("hex");
    private readonly podsByKey = new Map<string, Endpoint[]>();
    private readonly shellOf = new Map<string, PodShell>();
    private serial = 0;
    private closed = false;
    private renewTimer?: NodeJS.Timeout;
    private leaseRenewedAt = 0;
    private leaseError?: string;

    constructor(
        readonly target: Target,
        readonly loadGenerator: SshShell,
        readonly hosts: SshShell[],
        private readonly nodes: { name: string; privateIp: string }[],
        private readonly api: KubernetesApis,
        private readonly exec: k8s.Exec,
        private readonly client: typeof k8s,
    ) {
        this.hostIps = nodes.map((n) => n.privateIp);
        this.http = awsHttpEndpoints(target);
    }

    private get where(): string {
        return `target "${this.target.name}"`;
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

    /** Waits for a pod: running, with an IP, and its tools installed (the marker in its log). */
    private async waitReady(name: string): Promise<k8s.V1Pod> {
        const deadline = Date.now() + podReadyTimeoutMs;
        for (;;) {
            const pod = await this.api.core.readNamespacedPod({ name, namespace: benchNamespace }).catch((e) => {
                throw apiError(`pod ${name}: could not read its status`, e);
            });
            const phase = pod.status?.phase;
            if (phase === "Failed" || phase === "Succeeded") {
                const ended = pod.status?.containerStatuses?.[0]?.state?.terminated;
                const log = await this.podLog(name);
                throw new Error(
                    `pod ${name} ended (${phase}: ${pod.status?.reason ?? ended?.reason ?? "no reason given"}${ended?.exitCode !== undefined ? `, exit ${ended.exitCode}` : ""}${pod.status?.message ? `, ${pod.status.message}` : ""})${log ? `; log: ${log}` : ""}`,
                );
            }
            if (phase === "Running" && pod.status?.podIP && (await this.podLog(name)).includes(podReadyMarker)) return pod;
            if (Date.now() > deadline) {
                const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
                throw new Error(`pod ${name} not ready after ${podReadyTimeoutMs / 1000} s (${waiting?.reason ?? phase ?? "no phase"}${waiting?.message ? `: ${waiting.message}` : ""})`);
            }
            await new Promise((r) => setTimeout(r, podPollMs));
        }
    }

    /** The last lines of a pod's log ("" when there is none yet). */
    private async podLog(name: string): Promise<string> {
        try {
            const text = await this.api.core.readNamespacedPodLog({ name, namespace: benchNamespace, container: "tools", tailLines: 20 });
            return String(text).trim().split("\n").slice(-5).join(" | ");
        } catch {
            return ""; // no log before the container starts (HTTP 400 "ContainerCreating"): keep waiting
        }
    }

    private async deletePod(name: string): Promise<void> {
        await this.api.core.deleteNamespacedPod({ name, namespace: benchNamespace, gracePeriodSeconds: 0 }).catch((e: { code?: number }) => {
            if (e.code !== 404) throw apiError(`pod ${name}: could not delete it`, e);
        });
    }

    /** One pod, created under a fresh name and replaced (once) when it fails to come up. */
    private async createPod(role: string, node: number, hostNetwork: boolean): Promise<Endpoint> {
        const failures: string[] = [];
        for (let attempt = 1; attempt <= podAttempts; attempt++) {
            const name = benchPodName(this.runId, role, node, this.serial++, hostNetwork);
            try {
                await this.api.core
                    .createNamespacedPod({ namespace: benchNamespace, body: benchPodManifest({ name, nodeName: this.nodes[node].name, hostNetwork, runId: this.runId, role }) })
                    .catch((e) => {
                        throw apiError(`pod ${name}: could not create it`, e);
                    });
                const pod = await this.waitReady(name);
                const shell = new PodShell(`${this.target.name} pod ${name}`, this.exec, name);
                this.shellOf.set(name, shell);
                return { name, ip: pod.status!.podIP!, node, hostNetwork, shell };
            } catch (err) {
                failures.push((err as Error).message);
                try {
                    await this.deletePod(name);
                } catch (e) {
                    failures.push((e as Error).message);
                }
            }
        }
        throw new Error(`${this.where}: ${role} pod on node ${node + 1} failed ${podAttempts} times: ${failures.join("; ")}`);
    }

    /** Keeps the pods that still run; deletes and forgets the ones that ended. */
    private async stillRunning(pods: readonly Endpoint[]): Promise<Endpoint[]> {
        if (pods.length === 0) return [];
        const list = await this.api.core.listNamespacedPod({ namespace: benchNamespace, labelSelector: `${runLabelKey}=${this.runId}` }).catch((e) => {
            throw apiError(`${this.where}: could not list this run's pods`, e);
        });
        const running = new Set(list.items.filter((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp).map((p) => p.metadata?.name));
        const gone = pods.filter((p) => !running.has(p.name));
        await Promise.all(gone.map((p) => this.forget(p.name)));
        return pods.filter((p) => running.has(p.name));
    }

    private async forget(name: string): Promise<void> {
        await this.shellOf.get(name)?.close().catch(() => undefined); // the pod is gone; nothing left to stop in it
        this.shellOf.delete(name);
        await this.deletePod(name);
    }

    async pods(request: PodRequest): Promise<Endpoint[]> {
        if (this.closed) throw new Error(`${this.where}: session closed`);
        this.checkLease();
        if (!this.nodes[request.node]) throw new Error(`${this.where}: node ${request.node + 1} requested, the stack has ${this.nodes.length}`);
        const hostNetwork = request.hostNetwork ?? false;
        const role = hostNetwork ? "host" : request.role;
        const key = `${role}/${request.node}`;
        const have = await this.stillRunning(this.podsByKey.get(key) ?? []);
        this.podsByKey.set(key, have);
        const missing = Math.max(0, request.count - have.length);
        const created = await Promise.allSettled(Array.from({ length: missing }, () => this.createPod(role, request.node, hostNetwork)));
        for (const r of created) if (r.status === "fulfilled") have.push(r.value);
        const failed = created.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed.length) {
            // The pods that came up stay for the next request; only the failed ones are retried then.
            throw new Error(`${failed.length} of ${missing} pod(s) did not come up: ${(failed[0].reason as Error).message}`);
        }
        return have.slice(0, request.count);
    }

    async releasePods(role: string): Promise<void> {
        const keys = [...this.podsByKey.keys()].filter((k) => k.startsWith(`${role}/`));
        const pods = keys.flatMap((k) => this.podsByKey.get(k) ?? []);
        for (const k of keys) this.podsByKey.delete(k);
        await Promise.all(pods.map((p) => this.shellOf.get(p.name)?.close().catch(() => undefined)));
        for (const p of pods) this.shellOf.delete(p.name);
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
            podMtu: pod.mtu,
            podInterface: pod.iface,
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
        await Promise.all([...this.shellOf.values()].map((s) => s.close().catch(() => undefined))); // pods are deleted next
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
