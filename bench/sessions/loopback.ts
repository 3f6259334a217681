/**
 * A "cluster" made of local processes on 127.0.0.1: every node, pod and the load generator is
 * `sh -c` on this machine. It measures nothing about networks; it exists so the tests and the
 * sample report drive the real tools through the same command lines as a real run.
 */
import { measureNode, measurePodMtu, podPathFields } from "../measure/environment";
import type { ClusterSession, Endpoint, Environment, HttpEndpoints, PodRequest } from "./session";
import { ProcessShell } from "./shell";
import type { Target } from "../targets";

export interface LoopbackOptions {
    readonly http: HttpEndpoints;
    /** Node count the loopback cluster pretends to have; default 2. */
    readonly nodes?: number;
}

const loopbackIp = "127.0.0.1";

export class LoopbackSession implements ClusterSession {
    readonly loadGenerator = ProcessShell.local("load generator (loopback)");
    readonly hosts: ProcessShell[];
    readonly hostIps: string[];
    readonly http: HttpEndpoints;
    readonly sharedKernel = true;
    /** The one shell every "pod" uses (they all share the loopback interface). */
    private readonly podShell = ProcessShell.local("pod (loopback)");

    constructor(
        readonly target: Target,
        options: LoopbackOptions,
    ) {
        const n = options.nodes ?? 2;
        this.hosts = Array.from({ length: n }, (_, i) => ProcessShell.local(`node ${i + 1} (loopback)`));
        this.hostIps = this.hosts.map(() => loopbackIp);
        this.http = options.http;
    }

    /** Every shell this session owns, for checks that nothing is left running. */
    get shells(): ProcessShell[] {
        return [this.loadGenerator, this.podShell, ...this.hosts];
    }

    async pods(request: PodRequest): Promise<Endpoint[]> {
        return Array.from({ length: request.count }, (_, i) => ({
            name: `${request.hostNetwork ? "host" : "pod"}-${request.role}-${request.node}-${i}`,
            ip: loopbackIp,
            node: request.node,
            hostNetwork: request.hostNetwork ?? false,
            shell: request.hostNetwork ? this.hosts[request.node] : this.podShell,
        }));
    }

    /** Nothing to remove: the loopback session's "pods" exist for the whole session. */
    async releasePods(_role: string): Promise<void> {}

    async environment(): Promise<Environment> {
        const nodes = await Promise.all(this.hosts.map((h, i) => measureNode(`node ${i + 1}`, h, loopbackIp)));
        const pod = await measurePodMtu(this.podShell, loopbackIp);
        return {
            platform: this.target.platform,
            mode: this.target.mode,
            nodes: nodes.map((n) => ({ ...n, instanceType: "this machine (loopback)" })),
            ...podPathFields(pod),
            configuredMtu: this.target.mtu,
            versions: this.target.versions,
            sharedKernel: true,
        };
    }

    async close(): Promise<void> {
        await Promise.all(this.shells.map((s) => s.close()));
    }
}
