/**
 * The Service-proxy axis's extra Services (issue 23): N ClusterIP Services that each have
 * endpoints, so the Service proxy holds N more Services while the guestbook is measured.
 *
 * N Pulumi resources would take far too long to create and bloat the state, so the program declares
 * three: a namespace, a small backend Deployment whose pods are every extra Service's endpoints, and
 * one command on the server that makes exactly N Services exist (extraServicesScript). The benchmark
 * runner changes N later through the Kubernetes API (bench/sessions/extra-services.ts), with the same
 * names, label and manifest, so either can take over from the other.
 *
 * Why a command and not k3s's auto-deploying manifests folder: k3s re-applies a manifest from
 * /var/lib/rancher/k3s/server/manifests whenever it starts (docs.k3s.io, "Managing Packaged
 * Components", Auto-Deploying Manifests: "both on startup and when the file is changed on disk"), so
 * Services the runner deleted would come back on a k3s restart; and the file would have to reach the
 * node through the install script, N objects long.
 */
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type * as k8sTypes from "@kubernetes/client-node";
import { sshConnection, type InCluster } from "../components/k3sCluster";
import type { Node } from "../components/nodePair";
import { guestbookPorts } from "../components/podPorts";
import { runAsRoot } from "../components/nodeScripts";

/** Where the extra Services and their backend live: apart from the guestbook, removable as one. */
export const extraServicesNamespace = "extra-services";
/** On every extra Service, and only on them: what the runner lists, creates and deletes by. */
export const extraServiceLabel = { key: "cni-compare/extra-service", value: "true" } as const;
/** The backend pods' labels: every extra Service selects them. */
export const extraServiceBackendLabels = { "app.kubernetes.io/name": "extra-service-backend", "app.kubernetes.io/part-of": "cni-compare" } as const;
/** Two endpoints per Service: kube-proxy then installs its random choice between endpoints
 * (iptables `statistic --mode random`, nftables `numgen random`) for each, as for the guestbook. */
export const extraServiceBackendReplicas = 2;
/** The port the extra Services and their backend serve: the frontend image's Apache. */
export const extraServicePort = guestbookPorts.frontend;

/** The i-th extra Service's name (0-based): sorted by name is sorted by index. */
export function extraServiceName(index: number): string {
    return `extra-${String(index).padStart(5, "0")}`;
}

/** One extra Service, as the API takes it: ClusterIP, one TCP port, selecting the backend. */
export function extraServiceManifest(name: string): k8sTypes.V1Service {
    return {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace: extraServicesNamespace, labels: { [extraServiceLabel.key]: extraServiceLabel.value } },
        spec: {
            type: "ClusterIP",
            selector: { ...extraServiceBackendLabels },
            ports: [{ name: "http", protocol: "TCP", port: extraServicePort, targetPort: extraServicePort }],
        },
    };
}

/** How many Services one `kubectl apply` process applies, and how many run at once. kubectl
 * throttles its own requests (client-go's default limiter: 5 requests a second, bursts of 10, when
 * the rest config sets none; kubernetes/kubectl#773, #1722: kubectl does not set one), so
 * 10000 Services through one process would take over half an hour; 32 processes share the load. */
export const applyChunk = 200;
export const applyParallel = 32;
/** The command's bound: 20000 Services are 100 chunks, four rounds of 32 processes of ~40 s. */
export const extraServicesTimeoutSeconds = 900;

/** The placeholder the script replaces with each Service's name (not a valid DNS label, so it can
 * never be one). */
const namePlaceholder = "@NAME@";

/**
 * Makes exactly `count` extra Services exist (bash, as root on the server): applies
 * extra-00000 … extra-<count-1> (server-side apply, idempotent), deletes every other Service that
 * carries the label, then checks the count. Runs with k3s's kubectl and the admin kubeconfig.
 */
export function extraServicesScript(count: number): string {
    if (!Number.isInteger(count) || count < 0) throw new Error(`extra Services: count ${count} is not a whole number ≥ 0`);
    const template = JSON.stringify(extraServiceManifest(namePlaceholder));
    const selector = `${extraServiceLabel.key}=${extraServiceLabel.value}`;
    const kubectl = `k3s kubectl --namespace ${extraServicesNamespace}`;
    return `#!/usr/bin/env bash
set -euo pipefail
count=${count}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
template='${template}'
for ((i = 0; i < count; i++)); do printf 'extra-%05d\\n' "$i"; done > "$work/want"
# ${applyChunk} Services per kubectl process, ${applyParallel} processes at once (kubectl throttles itself).
split -l ${applyChunk} "$work/want" "$work/names-"
for names in "$work"/names-*; do
  [[ -e "$names" ]] || continue
  while IFS= read -r name; do printf -- '---\\n%s\\n' "\${template//${namePlaceholder}/$name}"; done < "$names" > "$names.yaml"
done
if ! find "$work" -name 'names-*.yaml' -print0 | timeout ${extraServicesTimeoutSeconds} xargs -0 -r -n 1 -P ${applyParallel} ${kubectl} apply --server-side --field-manager=cni-compare -o name -f > /dev/null; then
  echo "applying $count extra Services in namespace ${extraServicesNamespace} failed or took over ${extraServicesTimeoutSeconds} s" >&2
  exit 1
fi
# Any labelled Service beyond the count goes (a smaller count than the last run's).
${kubectl} get services -l '${selector}' -o name | sed 's|^service/||' | sort > "$work/have"
sort "$work/want" | comm -23 "$work/have" - > "$work/surplus"
if [[ -s "$work/surplus" ]] && ! xargs -r -n ${applyChunk} -P 8 ${kubectl} delete service --wait=false < "$work/surplus" > /dev/null; then
  echo "deleting $(wc -l < "$work/surplus") surplus extra Services failed" >&2
  exit 1
fi
have=$(${kubectl} get services -l '${selector}' -o name | wc -l)
if ((have != count)); then
  echo "namespace ${extraServicesNamespace} holds $have labelled Services, not $count" >&2
  exit 1
fi
`;
}

export interface ExtraServicesArgs {
    /** How many extra Services (stack config `services`; 0 still declares the backend). */
    readonly count: number;
    /** The backend's image: the guestbook frontend's, which every node pulls anyway (no new pull). */
    readonly image: string;
    /** The k3s server, where the command runs. */
    readonly server: Node;
    readonly sshPrivateKey?: pulumi.Input<string>;
    readonly inCluster: InCluster;
    /** What must be up first: the nodes Ready (the pod network in place). */
    readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** The extra Services' namespace, their backend Deployment, and the command that makes `count` exist. */
export class ExtraServices extends pulumi.ComponentResource {
    public readonly backend: k8s.apps.v1.Deployment;
    public readonly apply: command.remote.Command;

    constructor(name: string, args: ExtraServicesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cni-compare:services:ExtraServices", name, {}, opts);
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: extraServicesNamespace } }, { parent: this, ...args.inCluster, dependsOn: args.dependsOn });
        this.backend = new k8s.apps.v1.Deployment(
            `${name}-backend`,
            {
                metadata: { name: "extra-service-backend", namespace: namespace.metadata.name, labels: { ...extraServiceBackendLabels } },
                spec: {
                    replicas: extraServiceBackendReplicas,
                    selector: { matchLabels: { ...extraServiceBackendLabels } },
                    template: {
                        metadata: { labels: { ...extraServiceBackendLabels } },
                        spec: {
                            containers: [
                                {
                                    name: "backend",
                                    image: args.image,
                                    ports: [{ containerPort: extraServicePort }],
                                    resources: { requests: { cpu: "10m", memory: "32Mi" } },
                                    readinessProbe: { httpGet: { path: "/", port: extraServicePort }, periodSeconds: 10 },
                                },
                            ],
                        },
                    },
                },
            },
            { parent: this, ...args.inCluster },
        );
        const server = args.server.instance;
        this.apply = new command.remote.Command(
            `${name}-apply`,
            {
                connection: sshConnection(server.publicIp, args.sshPrivateKey),
                create: runAsRoot(extraServicesScript(args.count)),
                triggers: [server.id, args.count],
            },
            { parent: this, dependsOn: [this.backend] },
        );
        this.registerOutputs({});
    }
}
