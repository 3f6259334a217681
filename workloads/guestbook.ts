import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
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

        this.deployment = new k8s.apps.v1.Deployment(name, {
            metadata,
            spec: {
                replicas: args.replicas,
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels },
                    spec: {
                        containers: [{
                            name,
                            image: args.image,
                            ports: [{ containerPort: args.port }],
                            env: args.env,
                            resources: args.resources,
                            readinessProbe: args.readinessProbe,
                        }],
                        topologySpreadConstraints: args.spreadOverNodes
                            ? [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: labels } }]
                            : undefined,
                    },
                },
            },
        }, { parent: this });

        this.service = new k8s.core.v1.Service(name, {
            metadata,
            spec: {
                type: args.nodePort === undefined ? "ClusterIP" : "NodePort",
                selector: labels,
                ports: [{ port: args.port, targetPort: args.port, nodePort: args.nodePort }],
            },
        }, { parent: this });

        this.registerOutputs({});
    }
}

export interface GuestbookArgs {
    readonly images: GuestbookImages;
    readonly frontendReplicas: number;
    readonly redisFollowerReplicas: number;
    readonly nodePort: number;
}

/** The upstream containers' own requests (kubernetes/examples guestbook manifests). */
const smallPod = { requests: { cpu: "100m", memory: "100Mi" } };
const redisReady: k8s.types.input.core.v1.Probe = { tcpSocket: { port: redisPort }, periodSeconds: 5 };

/**
 * The PHP + Redis guestbook of the Calico paper: one Redis leader for writes, followers for
 * reads, PHP frontends behind a NodePort Service that the load balancer targets.
 */
export class Guestbook extends pulumi.ComponentResource {
    public readonly namespace: k8s.core.v1.Namespace;
    public readonly leader: ServiceDeployment;
    public readonly followers: ServiceDeployment;
    public readonly frontend: ServiceDeployment;

    constructor(name: string, args: GuestbookArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cni-compare:guestbook:Guestbook", name, {}, opts);
        const child = { parent: this };

        this.namespace = new k8s.core.v1.Namespace(name, { metadata: { name: guestbookNamespace } }, child);
        const namespace = this.namespace.metadata.name;

        this.leader = new ServiceDeployment(guestbookServices.leader, {
            namespace,
            image: args.images.redisLeader,
            replicas: 1,
            port: redisPort,
            resources: smallPod,
            readinessProbe: redisReady,
        }, child);
        this.followers = new ServiceDeployment(guestbookServices.follower, {
            namespace,
            image: args.images.redisFollower,
            replicas: args.redisFollowerReplicas,
            port: redisPort,
            resources: smallPod,
            readinessProbe: redisReady,
            env: [{ name: "GET_HOSTS_FROM", value: "dns" }],
        }, { parent: this, dependsOn: [this.leader] });
        this.frontend = new ServiceDeployment(guestbookServices.frontend, {
            namespace,
            image: args.images.frontend,
            replicas: args.frontendReplicas,
            port: frontendPort,
            resources: smallPod,
            readinessProbe: { httpGet: { path: "/", port: frontendPort }, periodSeconds: 5 },
            env: [{ name: "GET_HOSTS_FROM", value: "dns" }],
            spreadOverNodes: true,
            nodePort: args.nodePort,
        }, { parent: this, dependsOn: [this.followers] });

        this.registerOutputs({});
    }
}
