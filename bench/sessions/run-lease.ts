/**
 * Each run holds a coordination.k8s.io Lease it renews while it is alive, so runners that share
 * a cluster tell live runs from finished ones. Opening a session deletes only the pods of runs
 * that are over: their Lease is gone or was not renewed within its duration (a runner killed with
 * SIGKILL). A second runner on the same cluster keeps its pods.
 */
import * as os from "node:os";
import type * as k8s from "@kubernetes/client-node";
import { apiError, benchNamespace, describeApiError, managedByLabel, runLabelKey, type KubernetesApis } from "./kubernetes";

/**
 * The run's Lease: renewed every `renewSeconds` while the session is open; a run whose Lease was
 * not renewed for `durationSeconds` is over, and the next session removes its pods.
 */
export const runLease = { durationSeconds: 300, renewSeconds: 60 } as const;

export function runLeaseName(runId: string): string {
    return `cni-bench-${runId}`;
}

/**
 * A Lease time. metav1.MicroTime accepts exactly six fractional digits, and client-node sends a
 * V1MicroTime through `Date.toJSON` (three digits), which the API server rejects
 * (kubernetes-client/javascript#828; kubernetes apimachinery micro_time.go, RFC3339Micro).
 */
function microTime(client: typeof k8s, at: Date): k8s.V1MicroTime {
    const t = new client.V1MicroTime(at.getTime());
    t.toJSON = () => at.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
    return t;
}

/** Runs whose Lease is missing or was not renewed within its duration, at `now`. */
export function finishedRuns(podRuns: readonly string[], leases: readonly k8s.V1Lease[], now: Date): string[] {
    const live = new Set(
        leases
            .filter((l) => {
                const renewed = l.spec?.renewTime ?? l.spec?.acquireTime;
                const duration = l.spec?.leaseDurationSeconds ?? 0;
                return renewed !== undefined && new Date(renewed).getTime() + duration * 1000 > now.getTime();
            })
            .map((l) => l.metadata?.labels?.[runLabelKey]),
    );
    return [...new Set(podRuns)].filter((r) => !live.has(r));
}

/** Deletes the pods and Leases of runs that are over; pods of live runs stay. */
export async function removeFinishedRuns(where: string, api: KubernetesApis, now: Date): Promise<void> {
    const selector = `${managedByLabel.key}=${managedByLabel.value}`;
    const [pods, leases] = await Promise.all([
        api.core.listNamespacedPod({ namespace: benchNamespace, labelSelector: selector }).catch((e) => {
            throw apiError(`${where}: the Kubernetes API did not list the benchmark pods`, e);
        }),
        api.leases.listNamespacedLease({ namespace: benchNamespace, labelSelector: selector }).catch((e) => {
            throw apiError(`${where}: the Kubernetes API did not list the benchmark run leases`, e);
        }),
    ]);
    const runOf = (labels?: Record<string, string>) => labels?.[runLabelKey] ?? "";
    const over = new Set(finishedRuns([...pods.items.map((p) => runOf(p.metadata?.labels)), ...leases.items.map((l) => runOf(l.metadata?.labels))], leases.items, now));
    const deletions = [
        ...pods.items
            .filter((p) => over.has(runOf(p.metadata?.labels)))
            .map((p) => api.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: benchNamespace, gracePeriodSeconds: 0 }).then(() => undefined)),
        ...leases.items.filter((l) => over.has(runOf(l.metadata?.labels))).map((l) => api.leases.deleteNamespacedLease({ name: l.metadata!.name!, namespace: benchNamespace }).then(() => undefined)),
    ];
    const failures = (await Promise.allSettled(deletions)).filter((r): r is PromiseRejectedResult => r.status === "rejected" && (r.reason as { code?: number }).code !== 404);
    if (failures.length) throw apiError(`${where}: could not delete the leftovers of a finished run`, failures[0].reason);
}

/** This run's Lease: created on open, renewed on a timer, checked before pods are made, deleted on close. */
export class RunLease {
    private renewTimer?: NodeJS.Timeout;
    private renewedAt = 0;
    private renewError?: string;

    constructor(
        private readonly api: k8s.CoordinationV1Api,
        private readonly client: typeof k8s,
        private readonly runId: string,
        /** How errors name the target. */
        private readonly where: string,
    ) {}

    get name(): string {
        return runLeaseName(this.runId);
    }

    private body(now: Date, resourceVersion?: string): k8s.V1Lease {
        return {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: this.name, namespace: benchNamespace, resourceVersion, labels: { [managedByLabel.key]: managedByLabel.value, [runLabelKey]: this.runId } },
            spec: {
                holderIdentity: `${os.hostname()} pid ${process.pid}`,
                leaseDurationSeconds: runLease.durationSeconds,
                acquireTime: microTime(this.client, now),
                renewTime: microTime(this.client, now),
            },
        };
    }

    /** Creates the Lease and renews it until `stop()`. */
    async hold(): Promise<void> {
        const now = new Date();
        await this.api.createNamespacedLease({ namespace: benchNamespace, body: this.body(now) }).catch((e) => {
            throw apiError(`${this.where}: could not create the run's Lease`, e);
        });
        this.renewedAt = now.getTime();
        this.renewTimer = setInterval(() => void this.renew(), runLease.renewSeconds * 1000);
        this.renewTimer.unref();
    }

    /** One renewal; a failure is kept and reported by the next `check()` once the Lease has lapsed. */
    async renew(): Promise<void> {
        const now = new Date();
        try {
            const name = this.name;
            const current = await this.api.readNamespacedLease({ name, namespace: benchNamespace });
            await this.api.replaceNamespacedLease({
                name,
                namespace: benchNamespace,
                body: { ...this.body(now, current.metadata?.resourceVersion), spec: { ...current.spec, renewTime: microTime(this.client, now), leaseDurationSeconds: runLease.durationSeconds } },
            });
            this.renewedAt = now.getTime();
            this.renewError = undefined;
        } catch (e) {
            this.renewError = describeApiError(e);
        }
    }

    check(): void {
        if (this.renewError && Date.now() - this.renewedAt > runLease.durationSeconds * 1000) {
            throw new Error(`${this.where}: the run's Lease lapsed (last renewal failed: ${this.renewError}); another runner may have removed this run's pods`);
        }
    }

    stop(): void {
        clearInterval(this.renewTimer);
    }

    /** Deletes the Lease (gone already is fine); returns what went wrong, for close() to report. */
    async release(): Promise<string | undefined> {
        return this.api.deleteNamespacedLease({ name: this.name, namespace: benchNamespace }).then(
            () => undefined,
            (e: { code?: number }) => (e.code !== 404 ? `could not delete the run's Lease ${this.name} (${describeApiError(e)}); the next run removes it once it has lapsed` : undefined),
        );
    }
}
