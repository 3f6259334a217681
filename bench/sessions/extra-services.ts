/**
 * The aws-k3s session's Service proxy (issue 23): extra Services through the Kubernetes API, with
 * the names, label and manifest the stack's own bulk command uses (workloads/extraServices.ts), so
 * either takes over from the other; and what node 1's kernel holds for them, read back over SSH.
 *
 * Read-back, per proxy mode, as root on node 1 (k3s's bundled tools are on PATH after the host's,
 * the order k3s gives its own children: k3s-io/k3s cmd/k3s/main.go stageAndRun; data/current is the
 * symlink k3s keeps to the extracted release, same file, extract()):
 * - iptables: `iptables-save -t nat`; kube-proxy writes one `-A KUBE-SERVICES … -d <clusterIP>/32`
 *   rule per Service port and a KUBE-SVC-* chain per Service port with endpoints (kubernetes
 *   pkg/proxy/iptables/proxier.go syncProxyRules);
 * - nftables: `nft list map ip kube-proxy service-ips`, whose elements are
 *   `<clusterIP> . tcp . <port> : goto service-…` (kubernetes pkg/proxy/nftables/proxier.go,
 *   kubeProxyTable "kube-proxy", serviceIPsMap "service-ips");
 * - ebpf: `cilium-dbg service list` in the node's cilium-agent container, one row per frontend.
 * A Service counts as programmed when its ClusterIP appears in that dump.
 */
import type * as k8s from "@kubernetes/client-node";
import { shellQuote } from "../../components/nodeScripts";
import type { ServiceProxyMode } from "../../components/serviceProxy";
import { extraServiceLabel, extraServiceManifest, extraServiceName, extraServicesNamespace } from "../../workloads/extraServices";
import { apiError } from "./kubernetes";
import type { ServiceProxyControl } from "./session";
import type { Shell } from "./shell";

/** k3s's own tools (iptables-save, nft), after the host's. */
const k3sToolsPath = 'PATH="$PATH:/var/lib/rancher/k3s/data/current/bin:/var/lib/rancher/k3s/data/current/bin/aux"';

/** The command that prints what the proxy installed, per mode (see the file's doc). */
export function proxyDumpCommand(mode: ServiceProxyMode): string {
    const inner = {
        iptables: `${k3sToolsPath} iptables-save -t nat`,
        nftables: `${k3sToolsPath} nft list map ip kube-proxy service-ips`,
        ebpf:
            "id=$(k3s crictl ps --name '^cilium-agent$' -q | head -n 1); " +
            'if [ -z "$id" ]; then echo "no running cilium-agent container on this node" >&2; exit 1; fi; ' +
            'k3s crictl exec "$id" cilium-dbg service list',
    }[mode];
    return `sudo -n sh -c ${shellQuote(inner)}`;
}

/** What a dump says, in counts; `clusterIps` are the extra Services' addresses. */
export function installedCounts(mode: ServiceProxyMode, dump: string, clusterIps: readonly string[]): Record<string, number> {
    const seen = new Set(dump.match(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g) ?? []);
    const programmed = clusterIps.filter((ip) => seen.has(ip)).length;
    const lines = dump.split("\n");
    if (mode === "iptables") {
        return {
            "iptables nat rules": lines.filter((l) => l.startsWith("-A ")).length,
            "KUBE-SVC-* chains": lines.filter((l) => l.startsWith(":KUBE-SVC-")).length,
            "extra Services programmed": programmed,
        };
    }
    if (mode === "nftables") return { "service-ips map elements": (dump.match(/ : goto /g) ?? []).length, "extra Services programmed": programmed };
    // cilium-dbg service list: a header line "ID   Frontend   Service Type   Backend", then rows starting with the ID.
    return { "Cilium service frontends": lines.filter((l) => /^\d+\s/.test(l)).length, "extra Services programmed": programmed };
}

/** How many API calls run at once (client-node has no client-side limiter; k3s's API server
 * admits 200 mutating requests in flight by default: kube-apiserver --max-mutating-requests-inflight). */
const apiParallel = 32;
const programmedTimeoutMs = 600_000;

async function inParallel<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
    const queue = [...items];
    await Promise.all(
        Array.from({ length: Math.min(apiParallel, queue.length) }, async () => {
            for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
        }),
    );
}

export class ExtraServicesControl implements ServiceProxyControl {
    constructor(
        readonly mode: ServiceProxyMode,
        private readonly core: k8s.CoreV1Api,
        /** Node 1's shell (root through sudo -n). */
        private readonly node: Shell,
        private readonly where: string,
    ) {}

    private async list(): Promise<k8s.V1Service[]> {
        try {
            const list = await this.core.listNamespacedService({ namespace: extraServicesNamespace, labelSelector: `${extraServiceLabel.key}=${extraServiceLabel.value}` });
            return list.items;
        } catch (err) {
            throw apiError(`${this.where}: listing the extra Services in namespace ${extraServicesNamespace} (the stack makes it)`, err);
        }
    }

    async setServices(count: number, signal?: AbortSignal): Promise<void> {
        if (!Number.isInteger(count) || count < 0) throw new Error(`${this.where}: Service count ${count} is not a whole number ≥ 0`);
        const have = new Set((await this.list()).map((s) => s.metadata!.name!));
        const want = Array.from({ length: count }, (_, i) => extraServiceName(i));
        const wanted = new Set(want);
        await inParallel(
            want.filter((n) => !have.has(n)),
            async (name) => {
                signal?.throwIfAborted();
                await this.core.createNamespacedService({ namespace: extraServicesNamespace, body: extraServiceManifest(name) }).catch((err) => {
                    throw apiError(`${this.where}: creating Service ${extraServicesNamespace}/${name}`, err);
                });
            },
        );
        await inParallel(
            [...have].filter((n) => !wanted.has(n)),
            async (name) => {
                signal?.throwIfAborted();
                await this.core.deleteNamespacedService({ namespace: extraServicesNamespace, name }).catch((err) => {
                    throw apiError(`${this.where}: deleting Service ${extraServicesNamespace}/${name}`, err);
                });
            },
        );
        // Returns once node 1's proxy holds exactly the extra Services that exist now.
        const deadline = Date.now() + programmedTimeoutMs;
        for (;;) {
            const counts = await this.installed(signal);
            if (counts["extra Services programmed"] === count) return;
            if (Date.now() > deadline) {
                throw new Error(`${this.where}: ${this.mode} proxy on node 1 holds ${counts["extra Services programmed"]} of ${count} extra Services after ${programmedTimeoutMs / 1000} s`);
            }
            await new Promise((r) => setTimeout(r, 2000));
        }
    }

    async installed(signal?: AbortSignal): Promise<Readonly<Record<string, number>>> {
        const ips = (await this.list()).map((s) => s.spec?.clusterIP).filter((ip): ip is string => !!ip && ip !== "None");
        const command = proxyDumpCommand(this.mode);
        const r = await this.node.run(command, { timeoutMs: 60_000, signal });
        if (r.code !== 0) throw new Error(`${this.where}: reading the ${this.mode} proxy's state on node 1 failed (exit ${r.code}): ${r.stderr.trim().split("\n").slice(-2).join(" ")}`);
        return installedCounts(this.mode, r.stdout, ips);
    }
}
