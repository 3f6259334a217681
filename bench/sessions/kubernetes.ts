/**
 * What the AWS session's parts share about the Kubernetes API: the labels and namespace of
 * everything the runner creates, the API clients, and the API's own words for a failed call.
 */
import type * as k8s from "@kubernetes/client-node";

/** Label on every pod and Lease the runner creates. */
export const managedByLabel = { key: "app.kubernetes.io/managed-by", value: "cni-bench" } as const;
/** Label naming one run (one session), so concurrent runners against one cluster tell their pods apart. */
export const runLabelKey = "cni-bench/run";
/** Label naming what a pod is for ("net", "host", "scale"), so a role's pods can be removed together. */
export const roleLabelKey = "cni-bench/role";
/** Namespace the measurement pods and the run Leases live in. */
export const benchNamespace = "default";

export interface KubernetesApis {
    readonly core: k8s.CoreV1Api;
    readonly leases: k8s.CoordinationV1Api;
}

/** Loaded only for aws-k3s targets, so the lab and loopback runs never pay for it. (Pinned to
 * 1.x: 2.x brings undici 8, which does not load on Node 20.) */
export async function loadKubernetesClient(): Promise<typeof k8s> {
    return await import("@kubernetes/client-node");
}

/**
 * The Kubernetes API's own words for a failed call. client-node 1.4.0 throws `ApiException`
 * whose `code` is the HTTP status and whose `body` is the response text (a `Status` object as
 * JSON; gen/apis/exception.js, `getBodyAsAny()` in gen/http/http.js); its message starts with
 * "HTTP-Code: 409" on a line of its own, so the first line alone says nothing.
 */
export function describeApiError(err: unknown): string {
    const e = err as { code?: unknown; body?: unknown; message?: unknown };
    if (typeof e?.code === "number" && e.body !== undefined) {
        const text = typeof e.body === "string" ? e.body : JSON.stringify(e.body);
        try {
            const status = JSON.parse(text) as { reason?: string; message?: string };
            if (status.message) return `HTTP ${e.code}${status.reason ? ` ${status.reason}` : ""}: ${status.message}`;
        } catch {
            // not JSON: show the text as it came
        }
        return `HTTP ${e.code}: ${text.trim().slice(0, 500) || "(empty body)"}`;
    }
    return String(e?.message ?? err);
}

export function apiError(what: string, err: unknown): Error {
    return new Error(`${what}: ${describeApiError(err)}`);
}
