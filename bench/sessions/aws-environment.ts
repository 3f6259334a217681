/**
 * What the AWS session records about its stack beyond what every session measures: each node's
 * instance (IMDS), k3s version, documented bandwidth and SSH host key, the Cilium agent's
 * datapath on Cilium stacks, and the image digests the guestbook ran.
 */
import type * as k8s from "@kubernetes/client-node";
import { modeFacts, networkModes, type NetworkMode } from "../../components/modes";
import { guestbookNamespace } from "../../workloads/guestbook";
import { ciliumStatusCommand, parseCiliumStatus, type CiliumDatapath } from "../measure/cilium-status";
import { imdsCommand, k3sVersionCommand, shellQuote } from "../measure/commands";
import { measureNode, networkBandwidthOf } from "../measure/environment";
import { parseKeyValues } from "../measure/parse";
import type { Target } from "../targets";
import { apiError } from "./kubernetes";
import type { ImageRecord, NodeEnvironment } from "./session";
import type { StackNodes } from "./stack-nodes";

function runsCilium(mode: string): boolean {
    return (networkModes as readonly string[]).includes(mode) && modeFacts[mode as NetworkMode].plugin === "cilium";
}

/** What the node's own Cilium agent reports for host routing and masquerading (cilium-status.ts). */
async function ciliumDatapath(stack: StackNodes, node: number): Promise<CiliumDatapath> {
    const command = `sudo -n sh -c ${shellQuote(ciliumStatusCommand())}`;
    const r = await stack.hosts[node].run(command, { timeoutMs: 30_000 });
    const where = `${stack.where}: ${stack.label(node)}`;
    if (r.code !== 0) throw new Error(`${where}: could not read the Cilium agent's status (${command}): exit ${r.code}: ${r.stderr.trim().split("\n").slice(-2).join(" ") || "no output"}`);
    try {
        return parseCiliumStatus(r.stdout);
    } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`);
    }
}

/** One node as measured over its connection, with its instance's facts (IMDS first, the stack's outputs where IMDS is silent). */
async function nodeEnvironment(target: Target, stack: StackNodes, i: number): Promise<NodeEnvironment> {
    const h = stack.hosts[i];
    const base = await measureNode(stack.nodes[i].name, h, stack.nodes[(i + 1) % stack.nodes.length].privateIp);
    const meta = parseKeyValues((await h.run(`${imdsCommand()}; echo "k3s=$(${k3sVersionCommand()})"`, { timeoutMs: 20_000 })).stdout);
    const out = target.nodes[i];
    const instanceType = meta.instanceType || out.instanceType;
    return {
        ...base,
        instanceType,
        availabilityZone: meta.availabilityZone || out.availabilityZone,
        k3sVersion: meta.k3s,
        networkBandwidth: networkBandwidthOf(instanceType),
        sshHostKey: h.hostKey,
        cilium: runsCilium(target.mode) ? await ciliumDatapath(stack, i) : undefined,
    };
}

/** Every node of the stack, asked at once. */
export function nodeEnvironments(target: Target, stack: StackNodes): Promise<NodeEnvironment[]> {
    return Promise.all(stack.hosts.map((_, i) => nodeEnvironment(target, stack, i)));
}

/** The image digest each guestbook container actually runs (status.containerStatuses[].imageID). */
export async function guestbookImages(core: k8s.CoreV1Api, where: string): Promise<ImageRecord[]> {
    const list = await core.listNamespacedPod({ namespace: guestbookNamespace }).catch((e) => {
        throw apiError(`${where}: could not list the guestbook pods`, e);
    });
    return list.items.flatMap((p) => (p.status?.containerStatuses ?? []).map((c) => ({ pod: p.metadata?.name ?? "?", node: p.spec?.nodeName, container: c.name, image: c.image, imageID: c.imageID })));
}
