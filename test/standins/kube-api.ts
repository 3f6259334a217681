/**
 * TEST ONLY: a stand-in Kubernetes API on 127.0.0.1 that speaks the few REST calls the AWS/k3s
 * session makes (pods, coordination.k8s.io Leases), with the API server's error shape (a
 * `Status` object with reason and message). A running pod's container has a containerd
 * `containerID`, which the session hands to `k3s crictl inspect` on the node (the fixture's
 * stub answers it). Never imported by production code.
 *
 * Shapes follow the Kubernetes API reference (core/v1 Pod and ContainerStatus, meta/v1 Status,
 * coordination/v1 Lease).
 */
import { createHash } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What happens to a pod after it is created. */
export type PodFate =
    | { readonly kind: "ready" }
    | { readonly kind: "failed"; readonly reason: string; readonly exitCode: number; readonly message?: string }
    | { readonly kind: "pending"; readonly waitingReason: string; readonly message: string };

export interface StandinOptions {
    /** Decides each created pod's fate; default: ready. */
    readonly fate?: (pod: Json, nth: number) => PodFate;
    /** Answers a create with this error instead (status code and Status reason/message). */
    readonly rejectCreate?: (pod: Json) => { code: number; reason: string; message: string } | undefined;
}

/** The containerd id the stand-in gives a pod's container (a new pod, a new id). */
export function standinContainerId(uid: string): string {
    return `containerd://${createHash("sha256").update(uid).digest("hex")}`;
}

interface StoredPod {
    readonly object: Json;
    readonly fate: PodFate;
}

/** The stand-in API server. `requests` lists "METHOD path" of every call, for assertions. */
export class KubeApiStandin {
    readonly pods = new Map<string, StoredPod>(); // key: namespace/name
    readonly leases = new Map<string, Json>();
    /** Services (key: namespace/name), each given a ClusterIP from k3s's 10.43.0.0/16 on create. */
    readonly services = new Map<string, Json>();
    private nextClusterIp = 100;
    readonly requests: string[] = [];
    readonly created: Json[] = [];
    private readonly server: http.Server;
    private resourceVersion = 1;
    port = 0;

    constructor(private readonly options: StandinOptions = {}) {
        this.server = http.createServer((req, res) => void this.handle(req, res));
    }

    async start(): Promise<void> {
        await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
        this.port = (this.server.address() as AddressInfo).port;
    }

    async stop(): Promise<void> {
        this.server.closeAllConnections();
        await new Promise((r) => this.server.close(r));
    }

    /** A kubeconfig for this server (plain HTTP on loopback, a dummy token). */
    kubeconfig(): string {
        return [
            "apiVersion: v1",
            "kind: Config",
            // client-node refuses plain HTTP unless TLS checks are off (config.js applyHTTPSOptions).
            `clusters: [{name: standin, cluster: {server: "http://127.0.0.1:${this.port}", insecure-skip-tls-verify: true}}]`,
            "users: [{name: standin, user: {token: standin-token}}]",
            "contexts: [{name: standin, context: {cluster: standin, user: standin}}]",
            "current-context: standin",
            "",
        ].join("\n");
    }

    /** Adds a pod as if another client had created it (a guestbook pod, another runner's pod). */
    seedPod(object: Json, fate: PodFate = { kind: "ready" }): void {
        const ns = object.metadata.namespace ?? "default";
        this.pods.set(`${ns}/${object.metadata.name}`, { object: { ...object, metadata: { ...object.metadata, namespace: ns } }, fate });
    }

    seedLease(object: Json): void {
        this.leases.set(`${object.metadata.namespace ?? "default"}/${object.metadata.name}`, object);
    }

    podNames(namespace = "default"): string[] {
        return [...this.pods.keys()].filter((k) => k.startsWith(`${namespace}/`)).map((k) => k.slice(namespace.length + 1));
    }

    private status(pod: StoredPod): Json {
        const f = pod.fate;
        const name = pod.object.spec?.containers?.[0]?.name ?? "netns";
        const image = pod.object.spec?.containers?.[0]?.image;
        if (f.kind === "ready") {
            const uid = pod.object.metadata.uid ?? pod.object.metadata.name;
            return {
                phase: "Running",
                podIP: "127.0.0.1",
                containerStatuses: [{ name, ready: true, image, imageID: "", containerID: standinContainerId(uid), state: { running: {} } }],
                ...pod.object.status,
            };
        }
        if (f.kind === "failed") {
            return {
                phase: "Failed",
                reason: f.reason,
                message: f.message,
                containerStatuses: [{ name, ready: false, image, imageID: "", state: { terminated: { exitCode: f.exitCode, reason: f.reason } } }],
            };
        }
        return { phase: "Pending", containerStatuses: [{ name, ready: false, image, imageID: "", state: { waiting: { reason: f.waitingReason, message: f.message } } }] };
    }

    private view(pod: StoredPod): Json {
        return { apiVersion: "v1", kind: "Pod", ...pod.object, status: this.status(pod) };
    }

    private send(res: http.ServerResponse, code: number, body: Json | string): void {
        const text = typeof body === "string" ? body : JSON.stringify(body);
        res.writeHead(code, { "content-type": typeof body === "string" ? "text/plain" : "application/json" });
        res.end(text);
    }

    /** The API server's error body (meta/v1 Status). */
    private fail(res: http.ServerResponse, code: number, reason: string, message: string): void {
        this.send(res, code, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code });
    }

    private static matches(labels: Record<string, string> | undefined, selector: string | null): boolean {
        if (!selector) return true;
        return selector.split(",").every((term) => {
            const [k, v] = term.split("=");
            return labels?.[k] === v;
        });
    }

    private async body(req: http.IncomingMessage): Promise<Json> {
        let text = "";
        for await (const chunk of req) text += chunk;
        return text ? JSON.parse(text) : {};
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const url = new URL(req.url!, "http://standin");
        const method = req.method!;
        this.requests.push(`${method} ${url.pathname}`);
        if (req.headers.authorization !== "Bearer standin-token") return this.fail(res, 401, "Unauthorized", "Unauthorized");
        const selector = url.searchParams.get("labelSelector");
        let m: RegExpMatchArray | null;
        if ((m = url.pathname.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods$/))) {
            const ns = m[1];
            const inNs = [...this.pods.entries()].filter(([k, p]) => k.startsWith(`${ns}/`) && KubeApiStandin.matches(p.object.metadata.labels, selector));
            if (method === "GET") return this.send(res, 200, { apiVersion: "v1", kind: "PodList", metadata: {}, items: inNs.map(([, p]) => this.view(p)) });
            if (method === "DELETE") {
                for (const [k] of inNs) this.pods.delete(k);
                return this.send(res, 200, { apiVersion: "v1", kind: "Status", metadata: {}, status: "Success" });
            }
            if (method === "POST") {
                const pod = await this.body(req);
                const name = pod.metadata?.name;
                if (this.pods.has(`${ns}/${name}`)) return this.fail(res, 409, "AlreadyExists", `pods "${name}" already exists`);
                const rejected = this.options.rejectCreate?.(pod);
                if (rejected) return this.fail(res, rejected.code, rejected.reason, rejected.message);
                const fate = this.hostPortConflict(pod) ?? this.options.fate?.(pod, this.created.length) ?? { kind: "ready" };
                this.created.push(pod);
                const stored = { object: { ...pod, metadata: { ...pod.metadata, namespace: ns, uid: `uid-${this.created.length}` } }, fate };
                this.pods.set(`${ns}/${name}`, stored);
                return this.send(res, 201, this.view(stored));
            }
        }
        if ((m = url.pathname.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/))) {
            const key = `${m[1]}/${m[2]}`;
            const pod = this.pods.get(key);
            if (!pod) return this.fail(res, 404, "NotFound", `pods "${m[2]}" not found`);
            if (method === "GET") return this.send(res, 200, this.view(pod));
            if (method === "DELETE") {
                this.pods.delete(key);
                return this.send(res, 200, this.view(pod));
            }
        }
        if ((m = url.pathname.match(/^\/api\/v1\/namespaces\/([^/]+)\/services(?:\/([^/]+))?$/))) {
            const [, ns, name] = m;
            if (!name && method === "GET") {
                const items = [...this.services.entries()].filter(([k, v]) => k.startsWith(`${ns}/`) && KubeApiStandin.matches(v.metadata.labels, selector)).map(([, v]) => v);
                return this.send(res, 200, { apiVersion: "v1", kind: "ServiceList", metadata: {}, items });
            }
            if (!name && method === "POST") {
                const svc = await this.body(req);
                const n = svc.metadata?.name ?? "";
                // Service names are DNS-1035 labels (kubernetes pkg/apis/core/validation ValidateServiceName).
                if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n))
                    return this.fail(
                        res,
                        422,
                        "Invalid",
                        `Service "${n}" is invalid: metadata.name: Invalid value: "${n}": a DNS-1035 label must consist of lower case alphanumeric characters or '-'`,
                    );
                if (svc.metadata?.namespace !== undefined && svc.metadata.namespace !== ns)
                    return this.fail(res, 400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
                if (this.services.has(`${ns}/${n}`)) return this.fail(res, 409, "AlreadyExists", `services "${n}" already exists`);
                const i = this.nextClusterIp++;
                const stored = { ...svc, metadata: { ...svc.metadata, namespace: ns }, spec: { ...svc.spec, clusterIP: `10.43.${i >> 8}.${i & 255}` } };
                this.services.set(`${ns}/${n}`, stored);
                return this.send(res, 201, stored);
            }
            if (name && method === "DELETE") {
                if (!this.services.delete(`${ns}/${name}`)) return this.fail(res, 404, "NotFound", `services "${name}" not found`);
                return this.send(res, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success" });
            }
        }
        if ((m = url.pathname.match(/^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/))) {
            const [, ns, name] = m;
            if (!name && method === "GET") {
                const items = [...this.leases.entries()].filter(([k, l]) => k.startsWith(`${ns}/`) && KubeApiStandin.matches(l.metadata.labels, selector)).map(([, l]) => l);
                return this.send(res, 200, { apiVersion: "coordination.k8s.io/v1", kind: "LeaseList", metadata: {}, items });
            }
            if (!name && method === "POST") {
                const lease = await this.body(req);
                const bad = this.badMicroTime(lease);
                if (bad) return this.fail(res, 400, "BadRequest", bad);
                const key = `${ns}/${lease.metadata.name}`;
                if (this.leases.has(key)) return this.fail(res, 409, "AlreadyExists", `leases.coordination.k8s.io "${lease.metadata.name}" already exists`);
                const stored = { ...lease, metadata: { ...lease.metadata, namespace: ns, resourceVersion: String(this.resourceVersion++) } };
                this.leases.set(key, stored);
                return this.send(res, 201, stored);
            }
            const key = `${ns}/${name}`;
            const lease = this.leases.get(key);
            if (!lease) return this.fail(res, 404, "NotFound", `leases.coordination.k8s.io "${name}" not found`);
            if (method === "GET") return this.send(res, 200, lease);
            if (method === "DELETE") {
                this.leases.delete(key);
                return this.send(res, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success" });
            }
            if (method === "PUT") {
                const next = await this.body(req);
                const bad = this.badMicroTime(next);
                if (bad) return this.fail(res, 400, "BadRequest", bad);
                if (next.metadata?.resourceVersion !== lease.metadata.resourceVersion) {
                    return this.fail(res, 409, "Conflict", `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified`);
                }
                const stored = { ...next, metadata: { ...next.metadata, namespace: ns, resourceVersion: String(this.resourceVersion++) } };
                this.leases.set(key, stored);
                return this.send(res, 200, stored);
            }
        }
        this.fail(res, 404, "NotFound", `the stand-in does not serve ${method} ${url.pathname}`);
    }

    /**
     * The kubelet's admission: a pod asking for a host port that a running pod on the same node
     * holds is rejected, phase Failed (kubernetes pkg/kubelet/lifecycle/predicate.go runs the
     * scheduler's NodePorts filter, nodeports.Fits, for every pod, nodeName or not).
     */
    private hostPortConflict(pod: Json): PodFate | undefined {
        const ports = (p: Json) => (p.spec?.containers ?? []).flatMap((c: Json) => (c.ports ?? []).filter((cp: Json) => cp.hostPort).map((cp: Json) => `${cp.protocol ?? "TCP"}/${cp.hostPort}`));
        const wanted = new Set(ports(pod));
        if (wanted.size === 0) return undefined;
        for (const other of this.pods.values()) {
            if (other.fate.kind !== "ready" || other.object.spec?.nodeName !== pod.spec?.nodeName) continue;
            if (ports(other.object).some((p: string) => wanted.has(p))) {
                return { kind: "failed", reason: "NodePorts", exitCode: 0, message: "Pod was rejected: node(s) didn't have free ports for the requested pod ports" };
            }
        }
        return undefined;
    }

    /**
     * metav1.MicroTime decodes only RFC3339 with exactly six fractional digits
     * (apimachinery pkg/apis/meta/v1/micro_time.go, RFC3339Micro); anything else is a 400.
     */
    private badMicroTime(lease: Json): string | undefined {
        for (const field of ["acquireTime", "renewTime"]) {
            const v = lease.spec?.[field];
            if (v !== undefined && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(v)) {
                return `Lease in version "v1" cannot be handled as a Lease: parsing time "${v}" as "2006-01-02T15:04:05.000000Z07:00"`;
            }
        }
        return undefined;
    }
}
