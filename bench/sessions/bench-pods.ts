/**
 * The AWS session's measurement pods as the run keeps them, by `<role>/<node>`: pods that came up
 * are kept and reused, and a kept pod that has ended, or whose container is no longer the one
 * whose pid was read, is replaced (pod-launcher.ts starts them).
 */
import type * as k8s from "@kubernetes/client-node";
import { apiError, benchNamespace, describeApiError, roleLabelKey, runLabelKey } from "./kubernetes";
import { deleteBenchPod, PodLauncher, type BenchPod } from "./pod-launcher";
import type { PodNetnsShell, PublishedPort } from "./pod-netns";
import type { Endpoint } from "./session";
import type { StackNodes } from "./stack-nodes";

/** The run's measurement pods, kept by `<role>/<node>` and replaced when they fail or end. */
export class BenchPods {
    private readonly byKey = new Map<string, BenchPod[]>();
    private readonly launcher: PodLauncher;

    constructor(
        private readonly core: k8s.CoreV1Api,
        private readonly runId: string,
        private readonly stack: StackNodes,
    ) {
        this.launcher = new PodLauncher(core, runId, stack);
    }

    /**
     * Keeps the pods that still run the container whose pid their shell enters; deletes and
     * forgets the others (ended, being deleted, or a different container: a stale pid would enter
     * whatever namespace that number belongs to now).
     */
    private async stillRunning(pods: readonly BenchPod[]): Promise<BenchPod[]> {
        if (pods.length === 0) return [];
        const list = await this.core.listNamespacedPod({ namespace: benchNamespace, labelSelector: `${runLabelKey}=${this.runId}` }).catch((e) => {
            throw apiError(`${this.stack.where}: could not list this run's pods`, e);
        });
        const running = new Map(
            list.items
                .filter((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp && p.status?.containerStatuses?.[0]?.state?.running)
                .map((p) => [p.metadata?.name, p.status?.containerStatuses?.[0]?.containerID]),
        );
        const live = (p: BenchPod) => running.get(p.endpoint.name) === p.containerId;
        await Promise.all(pods.filter((p) => !live(p)).map((p) => this.forget(p)));
        return pods.filter(live);
    }

    private async forget(pod: BenchPod): Promise<void> {
        await pod.shell.close().catch(() => undefined); // the pod is gone; nothing left to stop in it
        await deleteBenchPod(this.core, pod.endpoint.name);
    }

    /** `count` pods under `key`: the ones kept, and fresh ones for the rest (publishing `publishedPorts` on the node, if given). */
    async podsFor(key: string, role: string, node: number, count: number, publishedPorts?: readonly PublishedPort[]): Promise<Endpoint[]> {
        const have = await this.stillRunning(this.byKey.get(key) ?? []);
        this.byKey.set(key, have);
        const missing = Math.max(0, count - have.length);
        const created = await Promise.allSettled(Array.from({ length: missing }, () => this.launcher.launch(role, node, publishedPorts)));
        for (const r of created) if (r.status === "fulfilled") have.push(r.value);
        const failed = created.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed.length) {
            // The pods that came up stay for the next request; only the failed ones are retried then.
            throw new Error(`${failed.length} of ${missing} pod(s) did not come up: ${(failed[0].reason as Error).message}`);
        }
        return have.slice(0, count).map((p) => p.endpoint);
    }

    /** Forgets the pods under `key` and hands them over (their deletion is the caller's). */
    take(key: string): BenchPod[] {
        const pods = this.byKey.get(key) ?? [];
        this.byKey.delete(key);
        return pods;
    }

    /** Deletes a role's pods on every node. */
    async release(role: string): Promise<void> {
        const keys = [...this.byKey.keys()].filter((k) => k.startsWith(`${role}/`));
        const pods = keys.flatMap((k) => this.take(k));
        await Promise.all(pods.map((p) => p.shell.close().catch(() => undefined)));
        await this.core.deleteCollectionNamespacedPod({ namespace: benchNamespace, labelSelector: `${runLabelKey}=${this.runId},${roleLabelKey}=${role}`, gracePeriodSeconds: 0 }).catch((e) => {
            throw apiError(`${this.stack.where}: could not delete the ${role} pods (kubectl delete pod -n ${benchNamespace} -l ${runLabelKey}=${this.runId},${roleLabelKey}=${role})`, e);
        });
    }

    /** Deletes every pod of the run; returns what went wrong, for close() to report. */
    async deleteAll(): Promise<string | undefined> {
        const selector = `${runLabelKey}=${this.runId}`;
        return this.core.deleteCollectionNamespacedPod({ namespace: benchNamespace, labelSelector: selector, gracePeriodSeconds: 0 }).then(
            () => undefined,
            (e) => `could not delete the measurement pods (${describeApiError(e)}); delete them with: kubectl delete pod -n ${benchNamespace} -l ${selector}`,
        );
    }

    /** The shells of every pod kept (to stop what they still run before the pods are deleted). */
    shells(): PodNetnsShell[] {
        return [...this.byKey.values()].flat().map((p) => p.shell);
    }
}
