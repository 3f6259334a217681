import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { recordHostKey, sshConnection } from "./k3sCluster";
import { hardenedInstanceArgs, type NodePair } from "./nodePair";
import { loadGeneratorScript, runAsRoot } from "./nodeScripts";

export interface LoadGeneratorArgs {
    /** Shares the pair's image, subnet, placement group, key and instance type. */
    readonly nodePair: NodePair;
    readonly instanceType: string;
    readonly operatorCidr: string;
    /** On Spot like the nodes, so the whole stack is priced and interrupted alike. */
    readonly spot: boolean;
    /** Secret: to install the tools over SSH; undefined means ssh-agent. */
    readonly sshPrivateKey?: pulumi.Input<string>;
}

/**
 * A third instance, identical to the nodes and beside them, that drives the measurements from
 * inside the region: from a laptop, WAN latency would drown millisecond differences.
 */
export class LoadGenerator extends pulumi.ComponentResource {
    public readonly instance: aws.ec2.Instance;
    public readonly toolsInstall: command.remote.Command;
    /** The instance's SSH host key line, read at first contact (see recordHostKey). */
    public readonly hostKey: pulumi.Output<string>;

    constructor(name: string, args: LoadGeneratorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cni-compare:aws:LoadGenerator", name, {}, opts);
        const parent = { parent: this };
        const pair = args.nodePair;

        const securityGroup = new aws.ec2.SecurityGroup(
            `${name}-sg`,
            {
                vpcId: pair.vpc.id,
                description: "load generator",
                tags: { Name: `${name}-sg` },
            },
            parent,
        );
        new aws.vpc.SecurityGroupIngressRule(
            `${name}-ssh-operator`,
            {
                securityGroupId: securityGroup.id,
                description: "SSH from the operator only",
                ipProtocol: "tcp",
                fromPort: 22,
                toPort: 22,
                cidrIpv4: args.operatorCidr,
            },
            parent,
        );
        new aws.vpc.SecurityGroupEgressRule(
            `${name}-egress`,
            {
                securityGroupId: securityGroup.id,
                description: "apt, and load towards the nodes and the load balancer",
                ipProtocol: "-1",
                cidrIpv4: "0.0.0.0/0",
            },
            parent,
        );

        this.instance = new aws.ec2.Instance(
            name,
            {
                ...hardenedInstanceArgs({
                    amiId: pair.amiId,
                    instanceType: args.instanceType,
                    subnetId: pair.subnet.id,
                    placementGroup: pair.placementGroup.name,
                    keyName: pair.keyPair.keyName,
                    securityGroupIds: [securityGroup.id],
                    spot: args.spot,
                }),
                tags: { Name: name, role: "loadgen" },
            },
            { parent: this, dependsOn: [pair.internetRoute] },
        );

        // The nodes admit this instance's public address in their own rules (components/nodePair.ts
        // nodeIngressRules), given its address by index.ts.
        this.hostKey = recordHostKey(`${name}-host-key`, this.instance.publicIp, this.instance.id, args.sshPrivateKey, this);
        this.toolsInstall = new command.remote.Command(
            `${name}-tools`,
            {
                connection: sshConnection(this.instance.publicIp, args.sshPrivateKey),
                create: runAsRoot(loadGeneratorScript()),
                triggers: [this.instance.id],
            },
            parent,
        );

        this.registerOutputs({ publicIp: this.instance.publicIp, privateIp: this.instance.privateIp });
    }
}
