/**
 * One measurement pod of the AWS session, from nothing to a shell that enters it (issue #11):
 * a pause pod (the node's own sandbox image, `imagePullPolicy: Never`) that only holds a network
 * namespace on the pod network; the tools, which the nodes carry (components/nodeScripts.ts
 * `nodeToolPackages`), run on the node inside that namespace: `sudo -n nsenter --target <pid>
 * --net` over the node's SSH connection, with the pid of the pod's container from
 * `k3s crictl inspect` (pod-netns.ts).
 *
 * Every create uses a fresh name (a serial within the run), so a pod that failed once is deleted
 * and replaced instead of blocking its role with HTTP 409 "AlreadyExists" for the rest of the
 * run. Pods carry no probes: ready is phase Running with a pod IP and the container running,
 * read while the runner waits for the pod; nothing polls the pod after that.
 * `activeDeadlineSeconds` is a last resort for a cluster nobody opens again; it is far longer
 * than any run, and a pod that reaches it is replaced on next use (bench-pods.ts).
 */
import type * as k8s from "@kubernetes/client-node";
import { sleep } from "../../core/wait";
import { shellQuote } from "../measure/commands";
import { apiError, benchNamespace, managedByLabel, roleLabelKey, runLabelKey } from "./kubernetes";
import { k3sContainerdConfig, pausePodManifest, PodNetnsShell, readContainerPid, sandboxImageCommand, type PublishedPort } from "./pod-netns";
import type { Endpoint } from "./session";
import type { StackNodes } from "./stack-nodes";

/**
 * A pod that is not ready in this time is deleted and replaced (once), with its status in the
 * error. The pause image is already on the node (every pod sandbox runs it), so a pod is ready
 * within seconds; the bound covers a busy kubelet.
 */
const podReadyTimeoutMs = 120_000;
export const podPollMs = 1_000;
/** How often one pod is created under a fresh name before its request fails. */
const podAttempts = 2;
/**
 * Waiting reasons that never clear by themselves: with `imagePullPolicy: Never` a missing image
 * stays ErrImageNeverPull ("Required Image is absent on host and PullPolicy is NeverPullImage",
 * kubernetes pkg/kubelet/images/types.go), and a malformed reference stays
 * InvalidImageName. Waiting for them would only spend the timeout.
 */
const hopelessWaitingReasons = new Set(["ErrImageNeverPull", "InvalidImageName"]);
/**
 * Pods end themselves after this long if no runner deletes them: a week, far longer than any run
 * (the default five-mode plan is about two hours). Within a run, a pod that reached it is replaced.
 */
export const podLifetimeSeconds = 7 * 24 * 3600;

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
    return `cni-bench-${runId}-${role}-n${node + 1}-${serial}`
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, "-")
        .slice(0, 63);
}

/** A pod the session created and uses: its endpoint, and the container whose pid its shell enters. */
export interface BenchPod {
    readonly endpoint: Endpoint;
    /** The Kubernetes containerID ("containerd://…") the pid was read for. */
    readonly containerId: string;
    readonly shell: PodNetnsShell;
}

/**
 * A pod's status while it starts: ready (with its container's id), still starting, or an error
 * that waiting will not clear (it ended, or its image can never start).
 */
function readiness(pod: k8s.V1Pod, name: string, image: string): { containerId: string } | "starting" {
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
        throw new Error(
            `pod ${name} cannot start: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""} (image ${image}, imagePullPolicy Never: the node's own sandbox image is expected)`,
        );
    }
    if (phase === "Running" && pod.status?.podIP && container?.state?.running && container.containerID) return { containerId: container.containerID };
    return "starting";
}

/** Why a pod that is still starting is not ready, for the timeout's message. */
function startingState(pod: k8s.V1Pod): string {
    const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
    return `${waiting?.reason ?? pod.status?.phase ?? "no phase"}${waiting?.message ? `: ${waiting.message}` : ""}`;
}

/** Deletes a pod (gone already is fine); `gracePeriodSeconds` 0 removes the object at once. */
export async function deleteBenchPod(core: k8s.CoreV1Api, name: string, gracePeriodSeconds = 0): Promise<void> {
    await core.deleteNamespacedPod({ name, namespace: benchNamespace, gracePeriodSeconds }).catch((e: { code?: number }) => {
        if (e.code !== 404) throw apiError(`pod ${name}: could not delete it`, e);
    });
}

/** Starts the run's pods: each under a fresh name, on the node's own sandbox image, entered by its container's pid. */
export class PodLauncher {
    /** The node's sandbox image, read once per node (a failed read is retried by the next request). */
    private readonly sandboxImages = new Map<number, Promise<string>>();
    private serial = 0;

    constructor(
        private readonly core: k8s.CoreV1Api,
        private readonly runId: string,
        private readonly stack: StackNodes,
    ) {}

    /** The pause image k3s's containerd uses on a node, read once over SSH (the config is root's). */
    private sandboxImage(node: number): Promise<string> {
        let image = this.sandboxImages.get(node);
        if (!image) {
            const command = `sudo -n sh -c ${shellQuote(sandboxImageCommand())}`;
            image = this.stack.hosts[node].run(command, { timeoutMs: 20_000 }).then((r) => {
                const found = r.stdout.trim();
                if (r.code !== 0 || !found) {
                    const why = r.stderr.trim().split("\n").slice(-2).join(" ") || (r.code === 0 ? "no sandbox_image or pinned_images.sandbox entry" : `exit ${r.code}`);
                    throw new Error(`${this.stack.where}: ${this.stack.label(node)}: could not read the sandbox (pause) image from ${k3sContainerdConfig}: ${why}`);
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
        return readContainerPid(this.stack.hosts[node], containerId).catch((e: Error) => {
            throw new Error(`pod ${pod}: could not read its container's pid on ${this.stack.label(node)} (${e.message})`);
        });
    }

    /** Waits for a pod: phase Running, a pod IP, its container running (with a containerID). */
    private async waitReady(name: string, image: string): Promise<{ pod: k8s.V1Pod; containerId: string }> {
        const deadline = Date.now() + podReadyTimeoutMs;
        for (;;) {
            const pod = await this.core.readNamespacedPod({ name, namespace: benchNamespace }).catch((e) => {
                throw apiError(`pod ${name}: could not read its status`, e);
            });
            const ready = readiness(pod, name, image);
            if (ready !== "starting") return { pod, containerId: ready.containerId };
            if (Date.now() > deadline) throw new Error(`pod ${name} not ready after ${podReadyTimeoutMs / 1000} s (${startingState(pod)})`);
            await sleep(podPollMs);
        }
    }

    /** Creates one pod under `name` and waits until its shell can enter it. */
    private async start(name: string, role: string, node: number, image: string, publishedPorts: readonly PublishedPort[] | undefined): Promise<BenchPod> {
        const body = benchPodManifest({ name, nodeName: this.stack.nodes[node].name, runId: this.runId, role, image, publishedPorts });
        await this.core.createNamespacedPod({ namespace: benchNamespace, body }).catch((e) => {
            throw apiError(`pod ${name}: could not create it`, e);
        });
        const { pod, containerId } = await this.waitReady(name, image);
        const pid = await this.containerPid(name, node, containerId);
        const shell = new PodNetnsShell(`${this.stack.targetName} pod ${name} (${this.stack.label(node)}, pid ${pid})`, this.stack.transport(node), pid);
        const ip = publishedPorts ? this.stack.nodes[node].privateIp : pod.status!.podIP!;
        return { endpoint: { name, ip, node, hostNetwork: false, shell }, containerId, shell };
    }

    /**
     * One pause pod, created under a fresh name and replaced (once) when it fails to come up. A
     * port-publishing pod is reached at its node's address; any other at its pod IP.
     */
    async launch(role: string, node: number, publishedPorts: readonly PublishedPort[] | undefined): Promise<BenchPod> {
        const failures: string[] = [];
        const image = await this.sandboxImage(node);
        for (let attempt = 1; attempt <= podAttempts; attempt++) {
            const name = benchPodName(this.runId, role, node, this.serial++);
            try {
                return await this.start(name, role, node, image, publishedPorts);
            } catch (err) {
                failures.push((err as Error).message);
                try {
                    await deleteBenchPod(this.core, name);
                } catch (e) {
                    failures.push((e as Error).message);
                }
            }
        }
        throw new Error(`${this.stack.where}: ${role} pod on ${this.stack.label(node)} failed ${podAttempts} times: ${failures.join("; ")}`);
    }
}
