import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { InCluster } from "../components/k3sCluster";
import type { GuestbookAttachment } from "../components/modes";
import { guestbookPorts } from "../components/podPorts";
import type { GuestbookImages } from "../components/settings";

export const guestbookNamespace = "guestbook";
/** Service names the upstream PHP frontend resolves by DNS (GET_HOSTS_FROM=dns). */
export const guestbookServices = { leader: "redis-leader", follower: "redis-follower", frontend: "frontend" } as const;
export const redisPort = guestbookPorts.redis;
export const frontendPort = guestbookPorts.frontend;

export interface ServiceDeploymentArgs {
    readonly namespace: pulumi.Input<string>;
    readonly image: string;
    readonly replicas: number;
    readonly port: number;
    /** Requests keep the scheduler honest and every mode's pods sized alike. */
    readonly resources: k8s.types.input.core.v1.ResourceRequirements;
    readonly readinessProbe: k8s.types.input.core.v1.Probe;
    readonly env?: k8s.types.input.core.v1.EnvVar[];
    /** Spread replicas evenly over the nodes (the frontends: traffic must cross the pod network). */
    readonly spreadOverNodes?: boolean;
    /** Expose as a NodePort Service on this port instead of ClusterIP. */
    readonly nodePort?: number;
    /** The cluster's provider, and deleted with the server (K3sCluster.inCluster). */
    readonly inCluster: InCluster;
}

/**
 * A Deployment and the Service in front of it, named `name` because the app finds its peers by
 * that DNS name (after pulumi/examples kubernetes-ts-guestbook's ServiceDeployment).
 */
export class ServiceDeployment extends pulumi.ComponentResource {
    public readonly deployment: k8s.apps.v1.Deployment;
    public readonly service: k8s.core.v1.Service;

    constructor(name: string, args: ServiceDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cni-compare:guestbook:ServiceDeployment", name, {}, opts);
        const labels = { "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "guestbook" };
        const metadata = { name, namespace: args.namespace, labels };

        this.deployment = new k8s.apps.v1.Deployment(
            name,
            {
                metadata,
                spec: {
                    replicas: args.replicas,
                    selector: { matchLabels: labels },
                    template: {
                        metadata: { labels },
                        spec: {
                            containers: [
                                {
                                    name,
                                    image: args.image,
                                    ports: [{ containerPort: args.port }],
                                    env: args.env,
                                    resources: args.resources,
                                    readinessProbe: args.readinessProbe,
                                },
                            ],
                            topologySpreadConstraints: args.spreadOverNodes
                                ? [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: labels } }]
                                : undefined,
                        },
                    },
                },
            },
            { parent: this, ...args.inCluster },
        );

        this.service = new k8s.core.v1.Service(
            name,
            {
                metadata,
                spec: {
                    type: args.nodePort === undefined ? "ClusterIP" : "NodePort",
                    selector: labels,
                    ports: [{ port: args.port, targetPort: args.port, nodePort: args.nodePort }],
                },
            },
            { parent: this, ...args.inCluster },
        );

        this.registerOutputs({});
    }
}

/** A node the baselines pin a Redis to, by Kubernetes node name and private address. */
export interface RedisNode {
    readonly name: string;
    readonly address: pulumi.Input<string>;
}

export interface GuestbookArgs {
    /** How the guestbook is attached: the mode table's `guestbook` (components/modes.ts). */
    readonly attachment: GuestbookAttachment;
    readonly images: GuestbookImages;
    /** Frontend replicas on the pod network; the baselines run one frontend per node instead. */
    readonly frontendReplicas: number;
    /** Follower replicas on the pod network; the baselines run one follower. */
    readonly redisFollowerReplicas: number;
    /** The frontend Service's NodePort (pod network only). */
    readonly nodePort: number;
    /** Baselines: the leader's node (node 1) and the follower's (node 2), reached at their addresses. */
    readonly redisNodes: { readonly leader: RedisNode; readonly follower: RedisNode };
    /** The cluster's provider, and deleted with the server (K3sCluster.inCluster). */
    readonly inCluster: InCluster;
}

/** The upstream containers' own requests (kubernetes/examples guestbook manifests). */
const smallPod = { requests: { cpu: "100m", memory: "100Mi" } };
const redisReady: k8s.types.input.core.v1.Probe = { tcpSocket: { port: redisPort }, periodSeconds: 5 };
const frontendReady: k8s.types.input.core.v1.Probe = { httpGet: { path: "/", port: frontendPort }, periodSeconds: 5 };

/**
 * The upstream PHP frontend and follower find Redis by the Service names with GET_HOSTS_FROM=dns,
 * or by the addresses in REDIS_LEADER_SERVICE_HOST / REDIS_FOLLOWER_SERVICE_HOST with
 * GET_HOSTS_FROM=env, always on port 6379 (GoogleCloudPlatform/kubernetes-engine-samples
 * quickstarts/guestbook: php-redis/guestbook.php, redis-follower/run.sh). The baselines use
 * "env" with node addresses, so no name is resolved: neither CoreDNS nor a Service is in the path.
 */
export function redisAddressEnv(leader: pulumi.Input<string>, follower?: pulumi.Input<string>): k8s.types.input.core.v1.EnvVar[] {
    return [
        { name: "GET_HOSTS_FROM", value: "env" },
        { name: "REDIS_LEADER_SERVICE_HOST", value: leader },
        ...(follower === undefined ? [] : [{ name: "REDIS_FOLLOWER_SERVICE_HOST", value: follower }]),
    ];
}

/**
 * The frontend container's port and the node port it is reached on in a baseline. A hostNetwork
 * container's hostPort must equal its containerPort (Kubernetes API, ContainerPort.hostPort: "If
 * HostNetwork is specified, this must match ContainerPort"), and the image's Apache serves 80
 * only; a published port maps any node port to it.
 */
export function baselineFrontendPort(attachment: Extract<GuestbookAttachment, { frontendPort: number }>): { containerPort: number; hostPort: number } {
    if (attachment.kind === "host-network" && attachment.frontendPort !== frontendPort) {
        throw new Error(`host-network frontends answer where the image's Apache listens (${frontendPort}), not on ${attachment.frontendPort}: a hostNetwork container cannot publish another port`);
    }
    return { containerPort: frontendPort, hostPort: attachment.frontendPort };
}

/**
 * The PHP + Redis guestbook of the Calico paper: one Redis leader for writes, followers for
 * reads, PHP frontends. On a pod network: behind Services, the frontends behind a NodePort
 * Service that the load balancer targets. In the baselines (the first field report's host and
 * bridge rows, which ran one container per machine): one frontend per node on the node's
 * frontend port, the leader on node 1 and one follower on node 2, each reached at its node's
 * address — hostNetwork ("host-network"), or a published hostPort ("published-ports").
 */
export class Guestbook extends pulumi.ComponentResource {
    public readonly namespace: k8s.core.v1.Namespace;

    constructor(name: string, args: GuestbookArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cni-compare:guestbook:Guestbook", name, {}, opts);
        this.namespace = new k8s.core.v1.Namespace(name, { metadata: { name: guestbookNamespace } }, { parent: this, ...args.inCluster });
        const namespace = this.namespace.metadata.name;
        if (args.attachment.kind === "pod-network") this.onPodNetwork(namespace, args);
        else this.onNodeAddresses(namespace, args, args.attachment);
        this.registerOutputs({});
    }

    /**
     * Leader, followers and frontends side by side: @pulumi/kubernetes waits for each Deployment's
     * rollout, so a chain would add the three waits up. None needs another to start: a Redis
     * replica keeps retrying its master (redis.conf, REPLICATION: replicas "automatically try to
     * reconnect to masters"), and the frontend's PHP connects to Redis per request
     * (guestbook.php). Whatever one still waits for, it waits no longer than the chain did.
     */
    private onPodNetwork(namespace: pulumi.Output<string>, args: GuestbookArgs): void {
        const inCluster = args.inCluster;
        new ServiceDeployment(
            guestbookServices.leader,
            {
                namespace,
                image: args.images.redisLeader,
                replicas: 1,
                port: redisPort,
                resources: smallPod,
                readinessProbe: redisReady,
                inCluster,
            },
            { parent: this },
        );
        new ServiceDeployment(
            guestbookServices.follower,
            {
                namespace,
                image: args.images.redisFollower,
                replicas: args.redisFollowerReplicas,
                port: redisPort,
                resources: smallPod,
                readinessProbe: redisReady,
                env: [{ name: "GET_HOSTS_FROM", value: "dns" }],
                inCluster,
            },
            { parent: this },
        );
        new ServiceDeployment(
            guestbookServices.frontend,
            {
                namespace,
                image: args.images.frontend,
                replicas: args.frontendReplicas,
                port: frontendPort,
                resources: smallPod,
                readinessProbe: frontendReady,
                env: [{ name: "GET_HOSTS_FROM", value: "dns" }],
                spreadOverNodes: true,
                nodePort: args.nodePort,
                inCluster,
            },
            { parent: this },
        );
    }

    private onNodeAddresses(namespace: pulumi.Output<string>, args: GuestbookArgs, attachment: Extract<GuestbookAttachment, { frontendPort: number }>): void {
        const hostNetwork = attachment.kind === "host-network";
        const frontendPorts = baselineFrontendPort(attachment);
        const { leader, follower } = args.redisNodes;
        const pod = (role: string, image: string, port: number, hostPort: number, probe: k8s.types.input.core.v1.Probe, env?: k8s.types.input.core.v1.EnvVar[]) => {
            const labels = { "app.kubernetes.io/name": role, "app.kubernetes.io/part-of": "guestbook" };
            const spec: k8s.types.input.core.v1.PodSpec = {
                hostNetwork,
                // The addresses come from our env only: no Service variables beside them.
                enableServiceLinks: false,
                containers: [
                    {
                        name: role,
                        image,
                        ports: [{ containerPort: port, hostPort }],
                        env,
                        resources: smallPod,
                        readinessProbe: probe,
                    },
                ],
            };
            return { labels, metadata: { name: role, namespace, labels }, spec };
        };
        // Redis pinned by node name (what k3s --node-name registers; PodSpec.nodeName binds the pod
        // to that node without the scheduler, Kubernetes API reference). Recreate: a surge pod
        // would ask for the same host port on the same node and could not start.
        // Side by side, none waiting for another (see onPodNetwork).
        const pinned = (role: string, node: RedisNode, image: string, env?: k8s.types.input.core.v1.EnvVar[]) => {
            const p = pod(role, image, redisPort, redisPort, redisReady, env);
            return new k8s.apps.v1.Deployment(
                role,
                {
                    metadata: p.metadata,
                    spec: {
                        replicas: 1,
                        strategy: { type: "Recreate" },
                        selector: { matchLabels: p.labels },
                        template: { metadata: { labels: p.labels }, spec: { ...p.spec, nodeName: node.name } },
                    },
                },
                { parent: this, ...args.inCluster },
            );
        };
        pinned(guestbookServices.leader, leader, args.images.redisLeader);
        pinned(guestbookServices.follower, follower, args.images.redisFollower, redisAddressEnv(leader.address));
        // One frontend per node, like the seed's one container per machine: a host or published
        // port exists once per node. The NLB reaches each on its own node, with no hop between nodes.
        const frontend = pod(guestbookServices.frontend, args.images.frontend, frontendPorts.containerPort, frontendPorts.hostPort, frontendReady, redisAddressEnv(leader.address, follower.address));
        new k8s.apps.v1.DaemonSet(
            guestbookServices.frontend,
            {
                metadata: frontend.metadata,
                spec: {
                    selector: { matchLabels: frontend.labels },
                    template: { metadata: { labels: frontend.labels }, spec: frontend.spec },
                },
            },
            { parent: this, ...args.inCluster },
        );
    }
}
