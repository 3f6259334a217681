/**
 * An AWS k3s stack as a ClusterSession: SSH (ssh2) to the load generator and the nodes, and
 * measurement pods created through the Kubernetes API (@kubernetes/client-node) with the
 * stack's kubeconfig, pinned to nodes with `nodeName`, hostNetwork pods for the baseline.
 *
 * Cleanup: every pod carries `managedByLabel` and this session's `runLabel`; `close()` deletes
 * them by label. `activeDeadlineSeconds` bounds each pod's life even if the runner is killed
 * with SIGKILL, and leftovers of an earlier crashed run are deleted when a session opens.
 */
import * as fs from "node:fs";
import * as stream from "node:stream";
import { randomBytes } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import { imdsCommand, k3sVersionCommand } from "./commands";
import { measureNode, measurePodMtu } from "./environment";
import { parseKeyValues } from "./parse";
import type { ClusterSession, Endpoint, Environment, HttpEndpoints, PodRequest } from "./session";
import { RemoteShell, type CommandResult, type Shell } from "./shell";
import { connectSsh, type SshShell } from "./ssh";
import type { Target } from "./targets";

/** Label on every pod the runner creates; a cleanup deletes by it. */
export const managedByLabel = { key: "app.kubernetes.io/managed-by", value: "cni-bench" } as const;
/** Label naming one session, so concurrent runners against one cluster do not delete each other's pods. */
export const runLabelKey = "cni-bench/run";
/** Namespace the measurement pods live in. */
export const benchNamespace = "default";
/**
 * Image of the measurement pods. Debian has both iperf3 and sockperf (no common image carries
 * sockperf), installed at start-up; pods need egress to the Debian mirrors (natOutgoing).
 */
export const defaultPodImage = "debian:bookworm-slim";
/** A pod that is not Ready in this time fails the run with its status. */
const podReadyTimeoutMs = 300_000;
/** Pods delete themselves after this long, whatever happens to the runner. */
const podLifetimeSeconds = 6 * 3600;

/** The pod's start-up script: install the tools, mark ready, idle until deleted or the deadline. */
export function podBootstrapScript(lifetimeSeconds = podLifetimeSeconds): string {
    return [
        "set -e",
        "if ! command -v iperf3 >/dev/null || ! command -v sockperf >/dev/null || ! command -v ip >/dev/null; then",
        "  apt-get update -qq",
        "  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iperf3 sockperf iproute2 procps >/dev/null",
        "fi",
        "touch /tmp/ready",
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

/** One measurement pod, pinned to a node (nodeName bypasses the scheduler: no surprises). */
export function benchPodManifest(args: PodManifestArgs): k8s.V1Pod {
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
            name: args.name,
            namespace: benchNamespace,
            labels: { [managedByLabel.key]: managedByLabel.value, [runLabelKey]: args.runId, "cni-bench/role": args.role },
        },
        spec: {
            nodeName: args.nodeName,
            hostNetwork: args.hostNetwork,
            dnsPolicy: args.hostNetwork ? "ClusterFirstWithHostNet" : "ClusterFirst",
            restartPolicy: "Never",
            terminationGracePeriodSeconds: 0,
            activeDeadlineSeconds: podLifetimeSeconds,
            tolerations: [{ operator: "Exists" }],
            containers: [
                {
                    name: "tools",
                    image: args.image ?? defaultPodImage,
                    command: ["sh", "-c", podBootstrapScript()],
                    readinessProbe: { exec: { command: ["test", "-f", "/tmp/ready"] }, periodSeconds: 2 },
                },
            ],
        },
    };
}

/** Pod names are DNS labels: lowercase, digits and "-", at most 63 characters. */
export function benchPodName(runId: string, role: string, node: number, index: number, hostNetwork: boolean): string {
    return `cni-bench-${runId}-${hostNetwork ? "host" : role}-n${node + 1}-${index}`.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 63);
}

/** Checks the outputs a session needs, naming the missing key. */
export function requireAwsFields(target: Target): { sshUser: string; nodes: { name: string; publicIp: string; privateIp: string }[]; loadGeneratorIp: string } {
    const where = `target "${target.name}"`;
    if (!target.loadGenerator?.publicIp) {
        throw new Error(`${where}: loadGenerator.publicIp is missing; the stack must export loadGenerator (its "loadGenerator" config on)`);
    }
    if (!target.sshUser) throw new Error(`${where}: sshUser is missing`);
    if (!target.sshPrivateKey && !target.sshPrivateKeyPath) throw new Error(`${where}: neither sshPrivateKey nor sshPrivateKeyPath is set`);
    if (!target.kubeconfig && !target.kubeconfigPath) throw new Error(`${where}: neither kubeconfig nor kubeconfigPath is set`);
    if (target.nodes.length < 2) throw new Error(`${where}: nodes has ${target.nodes.length} entries; 2 are needed (cross-node tests)`);
    const nodes = target.nodes.map((n, i) => {
        if (!n.name || !n.publicIp || !n.privateIp) throw new Error(`${where}: nodes[${i}] needs name, publicIp and privateIp`);
        return { name: n.name, publicIp: n.publicIp, privateIp: n.privateIp };
    });
    return { sshUser: target.sshUser, nodes, loadGeneratorIp: target.loadGenerator.publicIp };
}

/** The guestbook URLs as the load generator (inside the VPC) reaches them. */
export function awsHttpEndpoints(target: Target): HttpEndpoints {
    const node = target.nodes[0];
    return { loadBalancer: target.endpoint, nodePort: node?.privateIp ? `http://${node.privateIp}:${target.nodePort}` : undefined };
}

/** Loaded only for aws-k3s targets, so the lab and loopback runs never pay for it. (Pinned to
 * 1.x: 2.x brings undici 8, which does not load on Node 20.) */
async function loadKubernetesClient(): Promise<typeof k8s> {
    return await import("@kubernetes/client-node");
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
            let code: number | null = null;
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
            const status = (s: k8s.V1Status) => {
                if (s.status === "Success") code = 0;
                else code = Number(s.details?.causes?.find((c) => c.reason === "ExitCode")?.message ?? 1);
            };
            this.exec
                .exec(benchNamespace, this.pod, "tools", ["sh", "-c", command], out, err, null, false, status)
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
                        if (failure) reject(failure);
                        else resolve({ stdout, stderr, code });
                    });
                })
                .catch((e: Error) => reject(new Error(`${this.name}: exec failed: ${e.message}`)));
        });
    }

    protected async disconnect(): Promise<void> {}
}

export async function openAwsK3sSession(target: Target, signal?: AbortSignal): Promise<AwsK3sSession> {
    const fields = requireAwsFields(target);
    const privateKey = target.sshPrivateKey ?? fs.readFileSync(target.sshPrivateKeyPath!, "utf8");
    const kubeconfig = target.kubeconfig ?? fs.readFileSync(target.kubeconfigPath!, "utf8");
    const shells: SshShell[] = [];
    try {
        const connect = (name: string, host: string) =>
            connectSsh(name, { host, port: target.sshPort, username: fields.sshUser, privateKey }, signal).then((s) => (shells.push(s), s));
        const [loadGenerator, ...hosts] = await Promise.all([
            connect(`${target.name} load generator`, fields.loadGeneratorIp),
            ...fields.nodes.map((n, i) => connect(`${target.name} node ${i + 1} (${n.name})`, n.publicIp)),
        ]);
        const client = await loadKubernetesClient();
        const kc = new client.KubeConfig();
        kc.loadFromString(kubeconfig);
        const core = kc.makeApiClient(client.CoreV1Api);
        // Leftovers of an earlier run that died without cleanup (its activeDeadline not reached yet).
        await core.deleteCollectionNamespacedPod({ namespace: benchNamespace, labelSelector: `${managedByLabel.key}=${managedByLabel.value}`, gracePeriodSeconds: 0 }).catch((e: Error) => {
            throw new Error(`target "${target.name}": the Kubernetes API did not answer (${e.message.split("\n")[0]})`);
        });
        return new AwsK3sSession(target, loadGenerator, hosts, fields.nodes, core, new client.Exec(kc));
    } catch (err) {
        await Promise.all(shells.map((s) => s.close()));
        throw err;
    }
}

export class AwsK3sSession implements ClusterSession {
    readonly hostIps: string[];
    readonly http: HttpEndpoints;
    readonly sharedKernel = false;
    private readonly runId = randomBytes(3).toString("hex");
    private readonly podsByKey = new Map<string, Endpoint[]>();
    private readonly podShells: PodShell[] = [];
    private closed = false;

    constructor(
        readonly target: Target,
        readonly loadGenerator: Shell,
        readonly hosts: Shell[],
        private readonly nodes: { name: string; privateIp: string }[],
        private readonly core: k8s.CoreV1Api,
        private readonly exec: k8s.Exec,
    ) {
        this.hostIps = nodes.map((n) => n.privateIp);
        this.http = awsHttpEndpoints(target);
    }

    private async waitReady(name: string): Promise<k8s.V1Pod> {
        const deadline = Date.now() + podReadyTimeoutMs;
        for (;;) {
            const pod = await this.core.readNamespacedPod({ name, namespace: benchNamespace });
            if (pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") && pod.status.podIP) return pod;
            if (pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded") {
                throw new Error(`pod ${name} ended (${pod.status.phase}: ${pod.status.reason ?? pod.status.message ?? "no reason given"})`);
            }
            if (Date.now() > deadline) {
                const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
                throw new Error(`pod ${name} not Ready after ${podReadyTimeoutMs / 1000} s (${waiting?.reason ?? pod.status?.phase}: ${waiting?.message ?? ""})`);
            }
            await new Promise((r) => setTimeout(r, 2000));
        }
    }

    async pods(request: PodRequest): Promise<Endpoint[]> {
        if (this.closed) throw new Error(`target "${this.target.name}": session closed`);
        const node = this.nodes[request.node];
        if (!node) throw new Error(`target "${this.target.name}": node ${request.node + 1} requested, the stack has ${this.nodes.length}`);
        const role = request.hostNetwork ? "host" : request.role;
        const key = `${role}/${request.node}`;
        const have = this.podsByKey.get(key) ?? [];
        const missing = Array.from({ length: Math.max(0, request.count - have.length) }, (_, i) => have.length + i);
        const created = await Promise.all(
            missing.map(async (index) => {
                const name = benchPodName(this.runId, role, request.node, index, request.hostNetwork ?? false);
                await this.core.createNamespacedPod({
                    namespace: benchNamespace,
                    body: benchPodManifest({ name, nodeName: node.name, hostNetwork: request.hostNetwork ?? false, runId: this.runId, role }),
                });
                const pod = await this.waitReady(name);
                const shell = new PodShell(`${this.target.name} pod ${name}`, this.exec, name);
                this.podShells.push(shell);
                return { name, ip: pod.status!.podIP!, node: request.node, hostNetwork: request.hostNetwork ?? false, shell };
            }),
        );
        const all = [...have, ...created];
        this.podsByKey.set(key, all);
        return all.slice(0, request.count);
    }

    async environment(): Promise<Environment> {
        const nodes = await Promise.all(
            this.hosts.map(async (h, i) => {
                const base = await measureNode(this.nodes[i].name, h, this.hostIps[(i + 1) % this.hostIps.length]);
                const meta = parseKeyValues((await h.run(`${imdsCommand()}; echo "k3s=$(${k3sVersionCommand()})"`, { timeoutMs: 20_000 })).stdout);
                const out = this.target.nodes[i];
                return {
                    ...base,
                    instanceType: meta.instanceType || out.instanceType,
                    availabilityZone: meta.availabilityZone || out.availabilityZone,
                    k3sVersion: meta.k3s,
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
        };
    }

    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        await Promise.all(this.podShells.map((s) => s.close().catch(() => undefined)));
        const selector = `${runLabelKey}=${this.runId}`;
        const deletion = await this.core
            .deleteCollectionNamespacedPod({ namespace: benchNamespace, labelSelector: selector, gracePeriodSeconds: 0 })
            .then(() => undefined, (e: Error) => e);
        await Promise.all([this.loadGenerator, ...this.hosts].map((s) => s.close().catch(() => undefined)));
        if (deletion) {
            throw new Error(`target "${this.target.name}": could not delete the measurement pods (${deletion.message.split("\n")[0]}); delete them with: kubectl delete pod -n ${benchNamespace} -l ${selector}`);
        }
    }
}
