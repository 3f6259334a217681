/**
 * An AWS k3s stack as a ClusterSession: SSH (ssh2, ssh.ts) to the load generator and the nodes,
 * and measurement pods created through the Kubernetes API (@kubernetes/client-node 1.4.0) with
 * the stack's kubeconfig, pinned to nodes with `nodeName`. The session composes its parts: the
 * nodes and their host-network endpoints (stack-nodes.ts), the measurement pods (bench-pods.ts,
 * each started by pod-launcher.ts), the bridge baseline's port-publishing pods
 * (published-ports.ts), the run's Lease (run-lease.ts) and the environment probe
 * (aws-environment.ts).
 *
 * How a stack attaches its guestbook (components/modes.ts `GuestbookAttachment`) decides what a
 * pod request gets, as the lab does (lab/lab.ts `labPods`), so the runner asks the same way:
 * - "pod-network": pause pods at their pod IPs;
 * - "host-network" (`host`): no container network, so every request gets the node itself;
 * - "published-ports" (`bridge`): the node's port-publishing pod, at the node's address, then
 *   plain pods.
 *
 * Cleanup: every pod carries `managedByLabel` and this run's `runLabelKey`; `close()` deletes the
 * run's pods and its Lease, and opening a session deletes the pods of runs that are over.
 */
import * as fs from "node:fs";
import { randomBytes } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import { defaultServiceProxy, modeFacts, networkModes, type GuestbookAttachment, type NetworkMode } from "../../components/modes";
import { ExtraServicesControl } from "./extra-services";
import { measurePodMtu, podPathFields } from "../measure/environment";
import type { MeasurementId } from "../measure/measurements";
import { guestbookImages, nodeEnvironments } from "./aws-environment";
import { BenchPods } from "./bench-pods";
import { loadKubernetesClient, type KubernetesApis } from "./kubernetes";
import { PublishedPorts } from "./published-ports";
import { removeFinishedRuns, RunLease } from "./run-lease";
import type { ClusterSession, Endpoint, Environment, HttpEndpoints, PodRequest, ServiceProxyControl } from "./session";
import { connectSsh, sshAuthFrom, type SshShell } from "./ssh";
import { StackNodes } from "./stack-nodes";
import type { Target } from "../targets";

// The session's public names, from the parts that define them.
export { benchPodManifest, benchPodName, podLifetimeSeconds, type PodManifestArgs } from "./pod-launcher";
export { benchNamespace, describeApiError, managedByLabel, roleLabelKey, runLabelKey } from "./kubernetes";
export { publishedMeasurementPorts, publishedRole } from "./published-ports";
export { finishedRuns, runLease, runLeaseName } from "./run-lease";

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

/**
 * SSH to the load generator and every node at once. Each connection that opens is added to
 * `opened` as it opens, so the caller can close them all when anything fails.
 */
async function connectStack(
    target: Target,
    fields: AwsFields,
    auth: ReturnType<typeof sshAuthFrom>,
    opened: SshShell[],
    signal?: AbortSignal,
): Promise<{ loadGenerator: SshShell; hosts: SshShell[] }> {
    const connect = (name: string, host: string, hostKey: string | undefined) =>
        connectSsh(name, { host, port: target.sshPort, username: fields.sshUser, ...auth, hostKey }, signal).then((s) => (opened.push(s), s));
    const results = await Promise.allSettled([
        connect(`${target.name} load generator`, fields.loadGeneratorIp, fields.loadGeneratorHostKey),
        ...fields.nodes.map((n, i) => connect(`${target.name} node ${i + 1} (${n.name})`, n.publicIp, n.sshHostKey)),
    ]);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed.length) throw new Error(failed.map((f) => (f.reason as Error).message).join("\n"));
    const [loadGenerator, ...hosts] = results.map((r) => (r as PromiseFulfilledResult<SshShell>).value);
    return { loadGenerator, hosts };
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
        const { loadGenerator, hosts } = await connectStack(target, fields, auth, shells, signal);
        const client = await loadKubernetesClient();
        const kc = new client.KubeConfig();
        kc.loadFromString(kubeconfig);
        const api = { core: kc.makeApiClient(client.CoreV1Api), leases: kc.makeApiClient(client.CoordinationV1Api) };
        await removeFinishedRuns(`target "${target.name}"`, api, new Date());
        const session = new AwsK3sSession(target, modeFacts[fields.mode].guestbook, loadGenerator, hosts, fields.nodes, api, client);
        await session.holdLease();
        return session;
    } catch (err) {
        await Promise.all(shells.map((s) => s.close().catch(() => undefined)));
        throw err;
    }
}

export class AwsK3sSession implements ClusterSession {
    readonly hostIps: string[];
    readonly http: HttpEndpoints;
    readonly sharedKernel = false;
    readonly runId = randomBytes(3).toString("hex");
    private readonly stack: StackNodes;
    private readonly benchPods: BenchPods;
    private readonly published: PublishedPorts;
    private readonly lease: RunLease;
    private closed = false;
    /** The stack's Service proxy (its `serviceProxy` output; stacks made before issue 23 ran their
     * mode's default), scaled through extra Services in the API and read back on node 1. */
    readonly serviceProxy: ServiceProxyControl;

    constructor(
        readonly target: Target,
        /** How the stack attaches its guestbook: what a pod request gets (see the file's doc). */
        readonly attachment: GuestbookAttachment,
        readonly loadGenerator: SshShell,
        readonly hosts: SshShell[],
        nodes: { name: string; privateIp: string }[],
        private readonly api: KubernetesApis,
        client: typeof k8s,
    ) {
        this.hostIps = nodes.map((n) => n.privateIp);
        this.http = awsHttpEndpoints(target);
        this.stack = new StackNodes(target.name, nodes, hosts);
        this.benchPods = new BenchPods(api.core, this.runId, this.stack);
        this.published = new PublishedPorts(this.benchPods, api.core, this.stack);
        this.lease = new RunLease(api.leases, client, this.runId, this.stack.where);
        const proxy = target.serviceProxy ?? defaultServiceProxy(target.mode as NetworkMode);
        this.serviceProxy = new ExtraServicesControl(proxy, api.core, hosts[0], this.stack.where);
    }

    private get where(): string {
        return this.stack.where;
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

    /** Creates the run's Lease and renews it until `close()`. */
    holdLease(): Promise<void> {
        return this.lease.hold();
    }

    /** One renewal; a failure is kept and reported by the next `pods()` once the Lease has lapsed. */
    renewLease(): Promise<void> {
        return this.lease.renew();
    }

    async pods(request: PodRequest): Promise<Endpoint[]> {
        if (this.closed) throw new Error(`${this.where}: session closed`);
        this.lease.check();
        if (!this.stack.nodes[request.node]) throw new Error(`${this.where}: node ${request.node + 1} requested, the stack has ${this.stack.nodes.length}`);
        const { node, count, role } = request;
        if (request.hostNetwork || this.attachment.kind === "host-network") {
            if (this.attachment.kind === "published-ports") await this.published.withdraw(node);
            return this.stack.endpoints(node, count);
        }
        if (this.attachment.kind === "published-ports") return this.published.endpoints(role, node, count);
        return this.benchPods.podsFor(`${role}/${node}`, role, node, count);
    }

    releasePods(role: string): Promise<void> {
        return this.benchPods.release(role);
    }

    async environment(): Promise<Environment> {
        const nodes = await nodeEnvironments(this.target, this.stack);
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
            images: await guestbookImages(this.api.core, this.where),
            loadGeneratorHostKey: this.loadGenerator.hostKey,
        };
    }

    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        this.lease.stop();
        // Stop what the endpoints still run (pods are deleted next; the node connections stay open until the end).
        const endpointShells = [...this.benchPods.shells(), ...this.stack.endpointShellList()];
        await Promise.all(endpointShells.map((s) => s.close().catch(() => undefined)));
        const problems: string[] = [];
        const podProblem = await this.benchPods.deleteAll();
        if (podProblem) problems.push(podProblem);
        const leaseProblem = await this.lease.release();
        if (leaseProblem) problems.push(leaseProblem);
        const closing = await Promise.allSettled([this.loadGenerator, ...this.hosts].map((s) => s.close()));
        for (const r of closing) if (r.status === "rejected") problems.push((r.reason as Error).message);
        if (problems.length) throw new Error(`${this.where}: ${problems.join("; ")}`);
    }
}
