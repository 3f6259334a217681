/**
 * Builds and removes lab modes: namespaces, datapath, BIRD for the BGP modes, the guestbook, and
 * the `Target` the benchmark runner measures. Everything goes through the ledger first.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { dirname } from "node:path";
import { guestbookMtu, modeFacts } from "../components/modes";
import type { Target } from "../bench/targets";
import { birdArgv, birdConfig, birdFiles, meshProtocolName, type BirdFiles } from "./bird";
import { datapathSteps, expectedBgpRoutes } from "./datapath";
import { inNamespace, runCommand, runStep, startDaemon, waitFor, type Daemon } from "./exec";
import { cpuAccountingRoot, cpuGroupOf, createCpuGroup, inCpuGroup, removeCpuGroups, type LabCpuGroup } from "./cpuGroup";
import { defaultFrontendWorkers, findPhpModule, frontendUrls, guestbookProcesses } from "./guestbook";
import type { CpuCgroup } from "../bench/measure/commands";
import { cleanupEntry, defaultLedgerDir, Ledger, removeResources, type CleanupReport } from "./ledger";
import { awsOnlyReason, isClusterMode, labModeFacts, underlayMtu, type LabMode } from "./modes";
import { labPrefix, labTopology, topologyNamespaces, type LabNode, type LabTopology } from "./topology";
import { installServiceProxy, labServices, type LabServiceProxyMode, type ServiceEndpoint } from "./serviceProxy";

/** Kernel features a mode needs beyond veth, bridge and netfilter. */
export interface KernelSupport {
    readonly vxlan: boolean;
    readonly ipip: boolean;
    readonly wireguard: boolean;
}

/** Why this machine cannot build `mode`, or undefined when it can. */
export function unsupportedReason(mode: LabMode, kernel: KernelSupport): string | undefined {
    const awsOnly = awsOnlyReason(mode);
    if (awsOnly) return awsOnly;
    const kind = isClusterMode(mode) ? modeFacts[mode].tunnel?.kind : undefined;
    if (kind === "wireguard" && !kernel.wireguard) {
        return "this kernel has no WireGuard support (CONFIG_WIREGUARD / module wireguard: `ip link add type wireguard` fails)";
    }
    if (kind === "ipip" && !kernel.ipip) {
        return "this kernel has no IP-in-IP tunnel support (CONFIG_NET_IPIP / module ipip: `ip link add type ipip` fails)";
    }
    if (kind === "vxlan" && !kernel.vxlan) {
        return "this kernel has no VXLAN support (CONFIG_VXLAN / module vxlan: `ip link add type vxlan` fails)";
    }
    return undefined;
}

export interface BuiltMode {
    readonly topology: LabTopology;
    /** Counts the CPU time of the mode's daemons and of the tools the runner starts in it. */
    readonly cpuGroup: LabCpuGroup;
    readonly target: Target;
    readonly daemons: readonly Daemon[];
    /** BIRD files per node (BGP modes only), for `birdc -s`. */
    readonly bird: readonly BirdFiles[];
}

export interface BuildOptions {
    /** PHP built-in server workers per frontend. */
    readonly frontendWorkers?: number;
    /** Called with a short line at each phase (the CLI prints them). */
    readonly onProgress?: (message: string) => void;
    /** Program the NodePort with kube-proxy's full rule set of this mode (lab/serviceProxy.ts) instead
     * of the lab's reduced one; the target can then scale its Service count (issue 23). */
    readonly serviceProxy?: LabServiceProxyMode;
}

/** Seconds the lab waits for BGP, Redis replication and the frontends before giving up. */
const readyTimeoutMs = 20_000;

/** birdc's `show protocols` line for the mesh peer says "Established" once routes can flow. */
export function bgpEstablished(showProtocols: string, peer: LabNode): boolean {
    return showProtocols.split("\n").some((line) => line.startsWith(meshProtocolName(peer) + " ") && /\bEstablished\b/.test(line));
}

/** One lab run: a ledger, a run directory, the modes built so far. */
export class Lab {
    /** By topology name (the mode, or mode-proxy). */
    private readonly built = new Map<string, BuiltMode>();

    private constructor(readonly ledger: Ledger) {}

    /** Starts a run with a fresh id and its ledger (root only). */
    static open(ledgerDir: string = defaultLedgerDir): Lab {
        if (process.getuid?.() !== 0) throw new Error("the lab needs root (network namespaces, iptables): run it with sudo");
        return new Lab(Ledger.create(randomBytes(3).toString("hex"), ledgerDir));
    }

    get runId(): string {
        return this.ledger.runId;
    }

    /** Which tunnel types this kernel can create (probed in a throwaway namespace of this run). */
    async probeKernel(): Promise<KernelSupport> {
        const ns = `${labPrefix}-${this.runId}-probe`;
        this.ledger.addNamespaces([ns]);
        await runStep({ argv: ["ip", "netns", "add", ns] });
        try {
            const can = async (...args: string[]) => {
                const r = await runCommand(["ip", "-n", ns, "link", "add", ...args]);
                return r.code === 0 || /File exists/.test(r.stderr);
            };
            return {
                vxlan: await can("probe-vxlan", "type", "vxlan", "id", "1", "dstport", "4789"),
                ipip: await can("probe-ipip", "type", "ipip", "local", "192.0.2.1", "remote", "192.0.2.2"),
                wireguard: await can("probe-wg", "type", "wireguard"),
            };
        } finally {
            await removeResources(this.runId, [ns], []);
            this.ledger.removeNamespaces([ns]);
        }
    }

    /** Builds one mode end to end and checks that the guestbook answers through every node. */
    async build(mode: LabMode, options: BuildOptions = {}): Promise<BuiltMode> {
        const proxy = options.serviceProxy;
        if (proxy && (!isClusterMode(mode) || awsOnlyReason(mode))) {
            throw new Error(`lab ${mode}: serviceProxy ${proxy} needs a pod-network mode the lab builds (kube-proxy programs Services there); ${mode} has no Service proxy`);
        }
        const t = labTopology(mode, this.runId, proxy);
        if (this.built.has(t.name)) throw new Error(`lab: mode ${t.name} is already built in run ${this.runId}`);
        const namespaces = topologyNamespaces(t);
        this.ledger.addNamespaces(namespaces);
        const root = cpuAccountingRoot();
        if (!root) throw new Error(`lab ${mode}: no CPU accounting hierarchy under /sys/fs/cgroup (cgroup v2, or v1 with cpuacct); the lab's cost figures need one`);
        const cpuGroup = cpuGroupOf(root, this.runId, t.name);
        const daemons: Daemon[] = [];
        const bird: BirdFiles[] = [];
        const started = Date.now();
        const progress = (phase: string) => options.onProgress?.(`${mode}: ${phase} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        try {
            createCpuGroup(cpuGroup);
            for (const ns of namespaces) await runStep({ argv: ["ip", "netns", "add", ns] });
            progress(`${namespaces.length} namespaces`);
            for (const step of datapathSteps(t)) await runStep(step);
            if (proxy) {
                const services = labServices(t.servicePort, frontendEndpoints(t), 0);
                for (const node of t.nodes) await installServiceProxy(node.netns, proxy, services, { ip: node.ip, clusterCidr: t.podCidr });
            }
            progress(proxy ? `datapath wired, kube-proxy ${proxy} rules for the NodePort` : "datapath wired");
            if (isClusterMode(mode) && modeFacts[mode].bgp) {
                for (const node of t.nodes) {
                    const files = birdFiles(this.ledger.runDir, t, node);
                    writeFileSync(files.config, birdConfig(t, node, files));
                    bird.push(files);
                    daemons.push(startDaemon(this.ledger, node.netns, inCpuGroup(cpuGroup, birdArgv(files)), `bird ${mode} ${node.name}`, `${files.log}.stderr`));
                }
                await this.waitForBgp(t, bird, daemons);
                progress("BGP sessions established, routes learned");
            }
            for (const spec of guestbookProcesses(t, this.ledger.runDir, options.frontendWorkers ?? defaultFrontendWorkers, findPhpModule())) {
                const what = `${spec.workload.role} ${mode} node${spec.workload.node + 1}`;
                for (const [file, text] of Object.entries(spec.files ?? {})) {
                    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
                    writeFileSync(file, text, { mode: 0o644 });
                }
                daemons.push(startDaemon(this.ledger, spec.workload.netns, inCpuGroup(cpuGroup, spec.argv), what, `${this.ledger.runDir}/${spec.log}`, spec.env));
            }
            progress("guestbook started");
            await this.waitForGuestbook(t, daemons);
            progress("guestbook answers through every node");
            const result: BuiltMode = { topology: t, cpuGroup, target: labTarget(t, cpuGroup), daemons, bird };
            this.built.set(t.name, result);
            return result;
        } catch (err) {
            await this.remove(t, daemons);
            throw new Error(`lab ${mode}: ${(err as Error).message}`);
        }
    }

    private async waitForBgp(t: LabTopology, bird: readonly BirdFiles[], daemons: readonly Daemon[]): Promise<void> {
        for (const [i, node] of t.nodes.entries()) {
            const peer = t.nodes[(i + 1) % t.nodes.length];
            await waitFor(
                `BGP session ${node.name} → ${peer.name} (${t.mode})`,
                async () => {
                    const r = await runCommand(["birdc", "-s", bird[i].socket, "show", "protocols"], 3000);
                    return bgpEstablished(r.stdout, peer) || r.stdout.trim().split("\n").pop() || r.stderr.trim();
                },
                readyTimeoutMs,
                daemons,
            );
            const expected = expectedBgpRoutes(t, node);
            await waitFor(
                `routes learned over BGP on ${node.name} (${expected.join(", ")})`,
                async () => {
                    const r = await runCommand(["ip", "-n", node.netns, "route", "show", "proto", "bird"]);
                    return expected.every((net) => r.stdout.includes(`${net} via ${peer.ip}`)) || r.stdout.trim() || "no bird routes";
                },
                readyTimeoutMs,
                daemons,
            );
        }
    }

    private async waitForGuestbook(t: LabTopology, daemons: readonly Daemon[]): Promise<void> {
        const follower = t.workloads.find((w) => w.role === "redis-follower")!;
        await waitFor(
            `Redis follower replicating the leader (${t.mode})`,
            async () => {
                const r = await runCommand(inNamespace(follower.netns, ["redis-cli", "-h", follower.ip, "-p", String(follower.port), "info", "replication"]), 3000);
                return /master_link_status:up/.test(r.stdout) || r.stdout.match(/master_link_status:\w+/)?.[0] || r.stderr.trim();
            },
            readyTimeoutMs,
            daemons,
        );
        // A write through node 1 must be readable through node 2 (leader → follower replication).
        const marker = `lab-${t.runId}-${t.name}`;
        const [first, ...rest] = frontendUrls(t);
        for (const url of [first, ...rest]) {
            await waitFor(
                `guestbook frontend at ${url} (${t.mode})`,
                async () => {
                    const r = await httpGetInLoadGenerator(t, `${url}/guestbook.php?cmd=get&key=guestbook`);
                    return (r.code === 0 && r.stdout.startsWith('{"data":')) || r.stdout.slice(0, 120) || r.stderr.trim();
                },
                readyTimeoutMs,
                daemons,
            );
        }
        const set = await httpGetInLoadGenerator(t, `${first}/guestbook.php?cmd=set&key=guestbook&value=${marker}`);
        if (!set.stdout.includes('"Updated"')) throw new Error(`guestbook write through ${first} failed: ${set.stdout || set.stderr}`);
        for (const url of rest.length > 0 ? rest : [first]) {
            await waitFor(
                `guestbook read-your-write through ${url} (${t.mode})`,
                async () => {
                    const r = await httpGetInLoadGenerator(t, `${url}/guestbook.php?cmd=get&key=guestbook`);
                    return r.stdout === `{"data": "${marker}"}` || r.stdout.slice(0, 120);
                },
                5_000,
                daemons,
            );
        }
    }

    /** Removes one built mode (its processes and namespaces); `name` is the mode, or mode-proxy. */
    async teardown(name: string): Promise<CleanupReport | undefined> {
        const built = this.built.get(name);
        if (!built) return undefined;
        this.built.delete(name);
        return this.remove(built.topology, built.daemons);
    }

    private async remove(t: LabTopology, daemons: readonly Daemon[]): Promise<CleanupReport> {
        const own = this.ledger.snapshot.processes.filter((p) => daemons.some((d) => d.pid === p.pid));
        const namespaces = topologyNamespaces(t);
        const report = await removeResources(this.runId, namespaces, own);
        for (const problem of await removeCpuGroups(this.runId, t.name)) report.problems.push(problem);
        this.ledger.removeProcesses(own.map((p) => p.pid));
        this.ledger.removeNamespaces(report.problems.length === 0 ? namespaces : report.namespacesDeleted);
        return report;
    }

    /** Removes everything this run created, whatever state it is in. Safe to call twice. */
    async close(): Promise<CleanupReport> {
        this.built.clear();
        const report = await cleanupEntry(this.ledger.dir, this.ledger.snapshot);
        for (const problem of await removeCpuGroups(this.runId)) report.problems.push(problem);
        return report;
    }
}

/** curl from the load generator's namespace, bounded (never reaches beyond the lab's namespaces). */
export function httpGetInLoadGenerator(t: LabTopology, url: string) {
    return runCommand(inNamespace(t.loadGenerator.netns, ["curl", "-sS", "--max-time", "3", url]), 5000);
}

/**
 * Where the runner's pod-to-pod tools run. Pod namespaces, once each (without pods, the node
 * namespaces stand in, like hostNetwork pods). Docker containers on different hosts share one
 * private range and reach each other only through ports published on their host, as the paper
 * measured bridge cross-host: the frontend container of each node, reached at its node's address
 * (datapath.ts publishes the measurement ports to it).
 */
function labPods(t: LabTopology): { netns: string; ip: string; node: number }[] {
    if (t.attachment === "docker-bridge") {
        return t.workloads.filter((w) => w.role === "frontend").map((w) => ({ netns: w.netns, ip: t.nodes[w.node].ip, node: w.node }));
    }
    const seen = new Map<string, { netns: string; ip: string; node: number }>();
    for (const w of t.workloads) if (!seen.has(w.netns)) seen.set(w.netns, { netns: w.netns, ip: w.ip, node: w.node });
    return [...seen.values()];
}

/** The benchmark target name of a lab mode (with its Service proxy mode when one was chosen). */
export function labTargetName(mode: LabMode, serviceProxy?: LabServiceProxyMode): string {
    return serviceProxy ? `lab-${mode}-${serviceProxy}` : `lab-${mode}`;
}

/** The frontend pods: the endpoints of the guestbook's NodePort Service and of the lab's extra Services. */
export function frontendEndpoints(t: LabTopology): ServiceEndpoint[] {
    return t.workloads.filter((w) => w.role === "frontend").map((w) => ({ ip: w.ip, port: w.port }));
}

/** The runner's view of a built mode (bench/targets.ts `Target`, platform "lab"). */
export function labTarget(t: LabTopology, cpuGroup?: CpuCgroup): Target {
    const facts = labModeFacts[t.mode];
    const urls = frontendUrls(t);
    return {
        name: labTargetName(t.mode, t.serviceProxy),
        platform: "lab",
        mode: t.mode,
        endpoint: urls[0],
        nodePort: t.servicePort,
        // As a stack exports it (index.ts `frontends`), so the runner labels the path the same way.
        frontends: {
            port: t.servicePort,
            attachment: modeFacts[t.mode].guestbook.kind,
            replicas: t.workloads.filter((w) => w.role === "frontend").length,
            mtu: guestbookMtu(t.mode, underlayMtu),
        },
        nodes: t.nodes.map((n, i) => ({ name: n.name, role: i === 0 ? "server" : "agent", privateIp: n.ip, instanceType: "lab (network namespace)" })),
        podCidr: t.podCidr,
        mtu: t.mtu,
        versions: {
            k3s: "none (lab: namespaces, no Kubernetes)",
            cni: isClusterMode(t.mode) ? `${modeFacts[t.mode].plugin} datapath (lab)` : facts.attachment,
            cniVersion: `linux ${release()}`,
            ubuntu: "none (lab: this machine's OS)",
        },
        lab: {
            hosts: t.nodes.map((n) => ({ netns: n.netns, ip: n.ip })),
            // Docker containers on different hosts share one private range and reach each other only
            // through published ports: the bridge baseline has no pod addresses to measure between.
            pods: labPods(t),
            loadGenerator: { ...t.loadGenerator },
            frontendUrls: urls,
            // The runner's view only (a LabCpuGroup also carries the lab's own hostDir).
            cpuCgroup: cpuGroup && { dir: cpuGroup.dir, version: cpuGroup.version },
            // Present when the NodePort is kube-proxy's rule set: the session scales it (ServiceProxyControl).
            ...(t.serviceProxy ? { serviceProxy: { mode: t.serviceProxy, endpoints: frontendEndpoints(t) } } : {}),
        },
    };
}
