/**
 * Measurement pods without installs (issue #11): a pod is only a network namespace, held by the
 * pause image the node's containerd already has, and the tools run on the node inside that
 * namespace (`nsenter --net` with the pod container's pid). Packets cross the pod's own interface,
 * exactly the pod datapath; only the binaries come from the node. How the runner uses it:
 * docs/benchmark.md, "What the runner needs on the machines".
 */
import type * as k8s from "@kubernetes/client-node";
import { shellQuote } from "../measure/commands";
import { lastWords, RemoteShell, type CommandResult, type Shell } from "./shell";

/** containerd's config as k3s writes it at agent start (k3s docs, "Configuring containerd"). */
export const k3sContainerdConfig = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml";

/**
 * The sandbox (pause) image from k3s's containerd config: `sandbox_image = "…"` in containerd's
 * version-2 config, `sandbox = "…"` under `pinned_images` in version 3 (containerd
 * docs/cri/config.md). Prints nothing when neither is there.
 */
export function sandboxImageCommand(): string {
    return `sed -n 's/^[[:space:]]*\\(sandbox_image\\|sandbox\\)[[:space:]]*=[[:space:]]*"\\([^"]*\\)".*/\\2/p' ${k3sContainerdConfig} | head -n 1`;
}

/**
 * The host pid of a container, from its Kubernetes `containerID` ("containerd://<id>"):
 * `crictl inspect` reports the runtime's info, whose `pid` is the container's init process
 * (cri-tools docs/crictl.md; k3s bundles crictl as `k3s crictl`).
 */
export function containerPidCommand(containerId: string): string {
    const id = containerId.replace(/^containerd:\/\//, "");
    if (!/^[0-9a-f]{12,64}$/.test(id)) throw new Error(`containerID: "${containerId}" is not a containerd id (containerd://<hex>)`);
    return `k3s crictl inspect --output go-template --template '{{.info.pid}}' ${id}`;
}

/**
 * The host pid of a container, read on its node through the node's shell as root (`asRoot`:
 * "sudo -n " for the image user; crictl talks to containerd's root-owned socket). Fails with
 * the command and what it printed when there is no pid.
 */
export async function readContainerPid(node: Shell, containerId: string, asRoot = "sudo -n "): Promise<number> {
    const command = `${asRoot}${containerPidCommand(containerId)}`;
    const r = await node.run(command, { timeoutMs: 20_000 });
    const pid = Number(r.stdout.trim());
    if (r.code !== 0 || !/^\d+$/.test(r.stdout.trim()) || pid < 2) {
        const why = lastWords(r) || "no output";
        throw new Error(`${command}: exit ${r.code ?? r.signal}: ${why}`);
    }
    return pid;
}

/**
 * `command` in the network namespace of process `pid`, as root. Only the network namespace is
 * entered: the node's binaries, filesystem and /proc stay (and /proc/net follows the netns).
 */
export function inNetnsOfCommand(pid: number, command: string, asRoot = "sudo -n "): string {
    if (!Number.isInteger(pid) || pid < 2) throw new Error(`pid: ${pid} is not a process id of a container`);
    return `${asRoot}nsenter --target ${pid} --net -- sh -c ${shellQuote(command)}`;
}

export interface PausePodArgs {
    readonly name: string;
    readonly namespace: string;
    readonly nodeName: string;
    readonly labels: Readonly<Record<string, string>>;
    /** The node's sandbox image (`sandboxImageCommand`). */
    readonly image: string;
    readonly activeDeadlineSeconds: number;
    /** Ports published on the node (`hostPort`, the same number inside the pod): k3s's CNI chain
     * ends in the portmap plugin, which DNATs them to the pod (components/modes.ts,
     * "published-ports"). None: the pod is reached at its pod IP only. */
    readonly publishedPorts?: readonly PublishedPort[];
}

export interface PublishedPort {
    readonly port: number;
    readonly protocol: "TCP" | "UDP";
}

/** A pod that is only a network namespace on the pod network: the pause image, never pulled (a
 * node without it fails with ErrImageNeverPull). */
export function pausePodManifest(args: PausePodArgs): k8s.V1Pod {
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: args.name, namespace: args.namespace, labels: { ...args.labels } },
        spec: {
            nodeName: args.nodeName,
            restartPolicy: "Never",
            terminationGracePeriodSeconds: 0,
            activeDeadlineSeconds: args.activeDeadlineSeconds,
            tolerations: [{ operator: "Exists" }],
            containers: [
                {
                    name: "netns",
                    image: args.image,
                    imagePullPolicy: "Never",
                    // A port name is optional; ports differing in protocol may share a number (the
                    // Kubernetes API reference, ContainerPort).
                    ...(args.publishedPorts?.length ? { ports: args.publishedPorts.map((p) => ({ containerPort: p.port, hostPort: p.port, protocol: p.protocol })) } : {}),
                },
            ],
        },
    };
}

/** Runs a command on the node, streaming stdout (SshShell.stream on AWS). */
export type NodeTransport = (command: string, onStdout: (text: string) => void, timeoutMs: number, signal?: AbortSignal) => Promise<CommandResult>;

/**
 * A host-network endpoint: commands run on the node itself, over the node's connection. The
 * endpoint's processes are its own (close() stops them), but the connection is the session's,
 * so closing this shell leaves it open.
 */
export class NodeEndpointShell extends RemoteShell {
    constructor(
        readonly name: string,
        private readonly node: NodeTransport,
    ) {
        super();
    }

    /** The command as the node runs it: as is, in the node's own namespaces. */
    protected onNode(command: string): string {
        return command;
    }

    protected runStreaming(command: string, onStdout: (text: string) => void, timeoutMs: number, signal?: AbortSignal): Promise<CommandResult> {
        return this.node(this.onNode(command), onStdout, timeoutMs, signal);
    }

    /** The node's connection belongs to the node's shell. */
    protected async disconnect(): Promise<void> {}
}

/**
 * A pod's shell made of the node's shell and the pod's pid. RemoteShell wraps every command in
 * its process-group launcher and stops groups with a second command; both pass through here,
 * so both run as root in the pod's namespace and the stop can signal what the tool started.
 */
export class PodNetnsShell extends NodeEndpointShell {
    constructor(
        name: string,
        node: NodeTransport,
        private readonly pid: number,
        /** Prefix that makes the command root on the node ("sudo -n " for the image user). */
        private readonly asRoot = "sudo -n ",
    ) {
        super(name, node);
    }

    protected onNode(command: string): string {
        return inNetnsOfCommand(this.pid, command, this.asRoot);
    }
}
