/**
 * The bridge baseline ("published-ports" stacks): the first endpoint on a node is a pause pod that
 * publishes the measurement ports with `hostPort` and is reached at its NODE's address through the
 * portmap DNAT, as a Docker container behind `-p`; further endpoints on that node are plain pods
 * (clients of the same-node case).
 */
import type * as k8s from "@kubernetes/client-node";
import { measurementPorts } from "../../components/measurementPorts";
import { sleep } from "../../core/wait";
import type { BenchPods } from "./bench-pods";
import { deleteBenchPod, podPollMs } from "./pod-launcher";
import { apiError, benchNamespace } from "./kubernetes";
import type { PublishedPort } from "./pod-netns";
import type { Endpoint } from "./session";
import type { StackNodes } from "./stack-nodes";

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

/** How long a withdrawn published-ports pod may take to be gone (its DNAT with it). */
const podGoneTimeoutMs = 60_000;

/** The one port-publishing pod per node, kept among the run's pods under `published/<node>`. */
export class PublishedPorts {
    constructor(
        private readonly pods: BenchPods,
        private readonly core: k8s.CoreV1Api,
        private readonly stack: StackNodes,
    ) {}

    /** `count` endpoints on `node`: the node's publishing pod first, then plain pods of `role`. */
    async endpoints(role: string, node: number, count: number): Promise<Endpoint[]> {
        const [published] = await this.pods.podsFor(`${publishedRole}/${node}`, publishedRole, node, 1, publishedMeasurementPorts);
        const others = count > 1 ? await this.pods.podsFor(`${role}/${node}`, role, node, count - 1) : [];
        return [published, ...others];
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
    async withdraw(node: number): Promise<void> {
        for (const pod of this.pods.take(`${publishedRole}/${node}`)) {
            const name = pod.endpoint.name;
            await pod.shell.close().catch(() => undefined);
            await deleteBenchPod(this.core, name, 1);
            await this.waitGone(name, node);
        }
    }

    private async waitGone(name: string, node: number): Promise<void> {
        const deadline = Date.now() + podGoneTimeoutMs;
        for (;;) {
            const gone = await this.core.readNamespacedPod({ name, namespace: benchNamespace }).then(
                () => false,
                (e: { code?: number }) => {
                    if (e.code === 404) return true;
                    throw apiError(`pod ${name}: could not read it while waiting for its removal`, e);
                },
            );
            if (gone) return;
            if (Date.now() > deadline)
                throw new Error(
                    `pod ${name}: still there ${podGoneTimeoutMs / 1000} s after its deletion; its published ports would capture the host-network baseline's connections on ${this.stack.label(node)}`,
                );
            await sleep(podPollMs);
        }
    }
}
