import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface NodePortLoadBalancerArgs {
    readonly vpcId: pulumi.Input<string>;
    readonly subnetId: pulumi.Input<string>;
    /** The subnet's route to the internet gateway (NodePair.internetRoute). An internet-facing load
     * balancer in a VPC without an attached gateway is refused: ELB API reference, CreateLoadBalancer,
     * InvalidSubnet ("VPC … has no internet gateway"); and at destroy the gateway cannot detach
     * while the NLB's public addresses are mapped. */
    readonly internetRoute: pulumi.Resource;
    /** Every node: the frontend port answers on each one. */
    readonly instanceIds: pulumi.Input<string>[];
    /** The port the frontends answer on at every node: the NodePort, or a baseline's host or
     * published port (components/modes.ts frontendPortOnNodes). Targets and health checks use it. */
    readonly frontendPort: number;
    /** Set: TLS listener on 443 that terminates with this ACM certificate, like the first field report's LB. */
    readonly certificateArn?: string;
}

/** Modern TLS policy (TLS 1.2/1.3) recommended by AWS for NLB listeners. */
export const tlsPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/**
 * An internet-facing network load balancer in front of a port on every node (the NodePort, or a
 * baseline's host or published port): target type `instance`, health check on that port itself. Client IPs are preserved, so the nodes'
 * security group decides who may reach it (the operator and the VPC).
 */
export class NodePortLoadBalancer extends pulumi.ComponentResource {
    public readonly loadBalancer: aws.lb.LoadBalancer;
    public readonly targetGroup: aws.lb.TargetGroup;
    public readonly listener: aws.lb.Listener;
    /** `http://<dns>` or `https://<dns>`. */
    public readonly url: pulumi.Output<string>;

    constructor(name: string, args: NodePortLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cni-compare:aws:NodePortLoadBalancer", name, {}, opts);
        const parent = { parent: this };
        const tls = args.certificateArn !== undefined;

        this.loadBalancer = new aws.lb.LoadBalancer(
            `${name}-nlb`,
            {
                loadBalancerType: "network",
                internal: false,
                subnets: [args.subnetId],
                // One AZ, like the nodes: cross-zone hops would add latency to one mode's figures by chance.
                enableCrossZoneLoadBalancing: false,
            },
            { parent: this, dependsOn: [args.internetRoute] },
        );

        // A short name: AWS caps target group names at 32 characters, Pulumi's suffix included.
        this.targetGroup = new aws.lb.TargetGroup(
            `${name}-tg`,
            {
                vpcId: args.vpcId,
                targetType: "instance",
                protocol: "TCP",
                port: args.frontendPort,
                preserveClientIp: "true",
                // Fast detection, short drain: stacks live for an experiment, not for years.
                deregistrationDelay: 10,
                healthCheck: {
                    protocol: "TCP",
                    port: String(args.frontendPort),
                    interval: 10,
                    healthyThreshold: 2,
                    unhealthyThreshold: 2,
                },
            },
            parent,
        );

        args.instanceIds.forEach((instanceId, index) => {
            new aws.lb.TargetGroupAttachment(
                `${name}-node-${index + 1}`,
                {
                    targetGroupArn: this.targetGroup.arn,
                    targetId: instanceId,
                    port: args.frontendPort,
                },
                parent,
            );
        });

        this.listener = new aws.lb.Listener(
            `${name}-${tls ? "tls" : "tcp"}`,
            {
                loadBalancerArn: this.loadBalancer.arn,
                ...(tls ? { protocol: "TLS", port: 443, certificateArn: args.certificateArn, sslPolicy: tlsPolicy } : { protocol: "TCP", port: 80 }),
                defaultActions: [{ type: "forward", targetGroupArn: this.targetGroup.arn }],
            },
            parent,
        );

        this.url = pulumi.interpolate`${tls ? "https" : "http"}://${this.loadBalancer.dnsName}`;
        this.registerOutputs({ url: this.url });
    }
}
