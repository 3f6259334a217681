/**
 * The local lab: hosts, pods and the load generator are network namespaces on this machine
 * (built by lab/). Commands run as `ip netns exec <ns> sh -c '<cmd>'`; needs root.
 */
import { measureNode, measurePodMtu, podPathFields } from "../measure/environment";
import type { ClusterSession, Endpoint, Environment, HttpEndpoints, PodRequest, ServiceProxyControl } from "./session";
import { measurementTools, type MeasurementId } from "../measure/measurements";
import { debianTool, type Tool } from "../../core/tools";
import { ProcessShell } from "./shell";
import type { LabLayout, LabServiceProxy, Target } from "../targets";
import { installServiceProxy, labServices, maxLabServices, readServiceProxy, serviceProxyPrograms, type LabServiceProxyMode } from "../../lab/serviceProxy";

/** Measurements that run between pods (they need pod endpoints on two nodes). */
const podMeasurements: readonly MeasurementId[] = ["iperf3", "latency", "scaling"];

/** How long `ip netns exec <ns> true` may take before the lab counts as broken. */
const probeTimeoutMs = 5_000;

/**
 * What measuring lab targets starts on this machine: `ip netns exec` around every command
 * (ProcessShell.netns), each measurement's tool inside, and, for a target with a CPU group, the
 * `pgrep` of the CPU probes (commands.ts cpuProbeCommand: without it ksoftirqd's share would read
 * as 0), and for targets with a Service proxy what installs and reads back its rules (lab/serviceProxy.ts).
 * sh, coreutils (timeout) and util-linux (taskset, setsid) are Essential in Debian and not checked.
 */
export function labSessionTools(measurements: readonly MeasurementId[], cpuGroups: boolean, serviceProxies: readonly LabServiceProxyMode[] = []): Tool[] {
    const commands = ["ip", ...measurements.flatMap((m) => measurementTools[m]), ...(cpuGroups ? ["pgrep"] : []), ...serviceProxies.flatMap(serviceProxyPrograms)];
    return [...new Set(commands)].map(debianTool);
}

/** Opens a lab session, failing fast (with the namespace's name) when a namespace is missing. */
export async function openLabSession(target: Target, signal?: AbortSignal): Promise<LabSession> {
    const lab = target.lab;
    if (!lab) throw new Error(`target "${target.name}": platform "lab" needs a "lab" layout (hosts, pods, loadGenerator, frontendUrls)`);
    if (lab.hosts.length < 2) throw new Error(`target "${target.name}": lab.hosts has ${lab.hosts.length} entries; at least 2 are needed (cross-node tests)`);
    const session = new LabSession(target, lab);
    try {
        const names = [lab.loadGenerator.netns, ...lab.hosts.map((h) => h.netns), ...lab.pods.map((p) => p.netns)];
        for (const ns of new Set(names)) {
            const probe = ProcessShell.netns(`netns ${ns}`, ns);
            const r = await probe.run("true", { timeoutMs: probeTimeoutMs, signal });
            if (r.code !== 0) {
                throw new Error(`target "${target.name}": network namespace "${ns}" is not usable: ${r.stderr.trim() || `exit ${r.code}`}`);
            }
        }
        return session;
    } catch (err) {
        await session.close();
        throw err;
    }
}

export class LabSession implements ClusterSession {
    readonly loadGenerator: ProcessShell;
    readonly hosts: ProcessShell[];
    readonly hostIps: string[];
    readonly http: HttpEndpoints;
    readonly sharedKernel = true;
    readonly cpuCgroup: LabLayout["cpuCgroup"];
    readonly serviceProxy?: ServiceProxyControl;
    private readonly podShells = new Map<string, ProcessShell>();

    constructor(
        readonly target: Target,
        private readonly lab: LabLayout,
    ) {
        this.loadGenerator = ProcessShell.netns(`load generator (${lab.loadGenerator.netns})`, lab.loadGenerator.netns);
        this.hosts = lab.hosts.map((h, i) => ProcessShell.netns(`node ${i + 1} (${h.netns})`, h.netns));
        this.hostIps = lab.hosts.map((h) => h.ip);
        this.http = { loadBalancer: lab.loadBalancerUrl, nodePort: lab.frontendUrls[0] };
        this.cpuCgroup = lab.cpuCgroup;
        if (lab.serviceProxy) this.serviceProxy = new LabServiceProxyControl(target, lab, lab.serviceProxy);
    }

    private podShell(netns: string): ProcessShell {
        let shell = this.podShells.get(netns);
        if (!shell) {
            shell = ProcessShell.netns(`pod ${netns}`, netns);
            this.podShells.set(netns, shell);
        }
        return shell;
    }

    /** A lab target without pod namespaces (the Docker-bridge baseline) has nothing to measure pod to pod. */
    cannotMeasure(measurement: MeasurementId): string | undefined {
        if (this.lab.pods.length === 0 && podMeasurements.includes(measurement)) {
            return "no pod addresses across hosts (containers reach each other only through published ports)";
        }
        return undefined;
    }

    /**
     * The lab has a fixed set of pod namespaces; more pods than it has on a node reuse them in
     * turn (servers then differ by port, which the runner gives each pair anyway).
     */
    async pods(request: PodRequest): Promise<Endpoint[]> {
        if (request.node >= this.lab.hosts.length) {
            throw new Error(`target "${this.target.name}": node ${request.node} requested, the lab has ${this.lab.hosts.length}`);
        }
        if (request.hostNetwork) {
            const host = this.lab.hosts[request.node];
            return Array.from({ length: request.count }, (_, i) => ({
                name: `${host.netns}#${i}`,
                ip: host.ip,
                node: request.node,
                hostNetwork: true,
                shell: this.hosts[request.node],
            }));
        }
        const onNode = this.lab.pods.filter((p) => p.node === request.node);
        if (onNode.length === 0) throw new Error(`target "${this.target.name}": the lab has no pod namespace on node ${request.node}`);
        return Array.from({ length: request.count }, (_, i) => {
            const pod = onNode[i % onNode.length];
            return { name: pod.netns, ip: pod.ip, node: request.node, hostNetwork: false, shell: this.podShell(pod.netns) };
        });
    }

    /** Nothing to remove: the lab's "pods" exist for the whole session. */
    async releasePods(_role: string): Promise<void> {}

    async environment(): Promise<Environment> {
        const nodes = await Promise.all(this.hosts.map((h, i) => measureNode(`node ${i + 1}`, h, this.hostIps[(i + 1) % this.hostIps.length])));
        const pod0 = this.lab.pods.find((p) => p.node === 0);
        const peer = this.lab.pods.find((p) => p.node !== 0);
        const pod = pod0 && peer ? await measurePodMtu(this.podShell(pod0.netns), peer.ip) : undefined;
        return {
            platform: "lab",
            mode: this.target.mode,
            nodes: nodes.map((n) => ({ ...n, instanceType: "lab (network namespace)" })),
            ...podPathFields(pod),
            configuredMtu: this.target.mtu,
            versions: this.target.versions,
            sharedKernel: true,
        };
    }

    async close(): Promise<void> {
        await Promise.all([this.loadGenerator, ...this.hosts, ...this.podShells.values()].map((s) => s.close()));
    }
}

/**
 * kube-proxy's rule set on every node of a lab target, scaled by the runner (issue 23): the
 * guestbook's NodePort Service plus `count` extra Services, installed on both nodes at once
 * (lab/serviceProxy.ts), counts read back from node 1's kernel.
 */
export class LabServiceProxyControl implements ServiceProxyControl {
    readonly mode: LabServiceProxyMode;

    constructor(
        private readonly target: Target,
        private readonly lab: LabLayout,
        private readonly proxy: LabServiceProxy,
    ) {
        this.mode = proxy.mode;
    }

    async setServices(count: number, signal?: AbortSignal): Promise<void> {
        if (!Number.isInteger(count) || count < 0 || count > maxLabServices) {
            throw new RangeError(`target "${this.target.name}": services ${JSON.stringify(count)} is not a Service count; allowed: a whole number from 0 to ${maxLabServices}`);
        }
        const services = labServices(this.target.nodePort, this.proxy.endpoints, count);
        await Promise.all(this.lab.hosts.map((h) => installServiceProxy(h.netns, this.mode, services, { ip: h.ip, clusterCidr: this.target.podCidr }, signal)));
    }

    async installed(signal?: AbortSignal): Promise<Readonly<Record<string, number>>> {
        return readServiceProxy(this.lab.hosts[0].netns, this.mode, signal);
    }
}
