import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { SecurityGroupRule } from "./flows";
import { measurementPorts } from "./measurementPorts";
import { frontendPortOnNodes, nodeToNodeTraffic, routesPodIpsNatively, serviceProxyName, type NetworkMode } from "./modes";
import { clusterDnsPort, guestbookPorts } from "./podPorts";

/** Ubuntu 24.04 LTS, resolved once per stack so every instance boots the same image. */
export const ubuntuAmiParameter = "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id";
export const ubuntuRelease = "24.04";
/** The login user of Canonical's images. */
export const sshUser = "ubuntu";

export interface NodePairArgs {
    /** Network mode; decides the node-to-node rules and source/destination checking. */
    readonly mode: NetworkMode;
    /** EC2 type of both nodes (validated to be 16 vCPU / 32 GiB by the caller). */
    readonly instanceType: string;
    readonly vpcCidr: string;
    /** The one subnet both nodes share (host-gw needs L2 adjacency). */
    readonly subnetCidr: string;
    /** Pod range: admitted as a source where pod IPs travel unencapsulated. */
    readonly podCidr: string;
    /** The only source allowed to reach SSH, the Kubernetes API and the NodePort from outside. */
    readonly operatorCidr: string;
    /** The guestbook frontend Service's NodePort (pod-network modes; the baselines' frontend
     * ports come from the mode table, see frontendPortOnNodes). */
    readonly nodePort: number;
    /** OpenSSH public key installed for the `ubuntu` user. */
    readonly sshPublicKey: pulumi.Input<string>;
    /** Launch both nodes as one-time Spot Instances. */
    readonly spot: boolean;
    /** The load generator's public address; undefined when the stack has none. It exists only
     * once the load generator does, which is built on this pair's subnet: pass a deferred output
     * (index.ts). */
    readonly loadGeneratorPublicIp?: pulumi.Input<string>;
}

/** One node of the pair, as the rest of the program needs it. */
export interface Node {
    readonly role: "server" | "agent";
    readonly instance: aws.ec2.Instance;
}

/**
 * Two identical instances in one subnet of one AZ, in a `cluster` placement group, with a
 * security group that opens exactly what the mode needs between them. Also owns the VPC, so
 * that a stack is self-contained and `pulumi destroy` leaves nothing behind.
 */
export class NodePair extends pulumi.ComponentResource {
    public readonly vpc: aws.ec2.Vpc;
    public readonly subnet: aws.ec2.Subnet;
    /**
     * The subnet's route to the internet gateway (it waits for the route table, which waits for the
     * gateway). Whatever needs the internet from this subnet depends on it: instances reached over
     * SSH at their public address, and the internet-facing NLB. At destroy the same edge lets the
     * gateway go only after them.
     */
    public readonly internetRoute: aws.ec2.RouteTableAssociation;
    public readonly placementGroup: aws.ec2.PlacementGroup;
    public readonly securityGroup: aws.ec2.SecurityGroup;
    public readonly keyPair: aws.ec2.KeyPair;
    public readonly amiId: pulumi.Output<string>;
    public readonly availabilityZone: pulumi.Output<string>;
    public readonly server: Node;
    public readonly agent: Node;

    constructor(name: string, args: NodePairArgs, opts?: pulumi.ComponentResourceOptions) {
        // The load generator's address is not among the recorded inputs: it waits for the load
        // generator, which waits for children of this component, which wait for its registration.
        const { loadGeneratorPublicIp: _, ...inputs } = args;
        super("cni-compare:aws:NodePair", name, inputs, opts);
        const invoke = { parent: this };

        this.amiId = aws.ssm.getParameterOutput({ name: ubuntuAmiParameter }, invoke).value;
        this.availabilityZone = this.firstZoneOffering(args.instanceType);
        const network = this.network(name, args);
        this.vpc = network.vpc;
        this.subnet = network.subnet;
        this.internetRoute = network.internetRoute;

        // `cluster`: both nodes on the same network spine, the fairest and fastest pair AWS offers
        // (and the 10 Gbps per-flow cap instead of 5).
        this.placementGroup = new aws.ec2.PlacementGroup(`${name}-placement`, { strategy: "cluster" }, { parent: this });
        this.keyPair = new aws.ec2.KeyPair(`${name}-key`, { publicKey: args.sshPublicKey }, { parent: this });
        this.securityGroup = this.nodeSecurityGroup(name, args);
        this.server = this.launch(name, "server", args);
        this.agent = this.launch(name, "agent", args);

        this.registerOutputs({ vpcId: this.vpc.id, subnetId: this.subnet.id, availabilityZone: this.availabilityZone });
    }

    /** The first AZ (sorted, so the choice is stable) that offers the instance type. */
    private firstZoneOffering(instanceType: string): pulumi.Output<string> {
        return aws.ec2
            .getInstanceTypeOfferingsOutput({ locationType: "availability-zone", filters: [{ name: "instance-type", values: [instanceType] }] }, { parent: this })
            .locations.apply((zones) => {
                if (zones.length === 0) {
                    throw new Error(`instanceType ${instanceType} is not offered in any availability zone of this region`);
                }
                return [...zones].sort()[0];
            });
    }

    /** The VPC, its internet gateway and route table, and the one subnet the nodes share. */
    private network(name: string, args: NodePairArgs): Pick<NodePair, "vpc" | "subnet" | "internetRoute"> {
        const parent = { parent: this };
        const vpc = new aws.ec2.Vpc(
            `${name}-vpc`,
            {
                cidrBlock: args.vpcCidr,
                enableDnsHostnames: true,
                enableDnsSupport: true,
                tags: { Name: name },
            },
            parent,
        );
        const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: { Name: name } }, parent);
        const routes = new aws.ec2.RouteTable(
            `${name}-routes`,
            {
                vpcId: vpc.id,
                routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }],
                tags: { Name: name },
            },
            parent,
        );
        const subnet = new aws.ec2.Subnet(
            `${name}-subnet`,
            {
                vpcId: vpc.id,
                cidrBlock: args.subnetCidr,
                availabilityZone: this.availabilityZone,
                mapPublicIpOnLaunch: true,
                tags: { Name: name },
            },
            parent,
        );
        const internetRoute = new aws.ec2.RouteTableAssociation(`${name}-subnet-routes`, { subnetId: subnet.id, routeTableId: routes.id }, parent);
        return { vpc, subnet, internetRoute };
    }

    /** The nodes' security group: every rule of `nodeIngressRules`, and egress to anywhere. */
    private nodeSecurityGroup(name: string, args: NodePairArgs): aws.ec2.SecurityGroup {
        const securityGroup = new aws.ec2.SecurityGroup(
            `${name}-nodes`,
            {
                vpcId: this.vpc.id,
                description: `k3s nodes, ${args.mode} pod network`,
                tags: { Name: `${name}-nodes` },
            },
            { parent: this },
        );
        const loadGeneratorPublicCidr = args.loadGeneratorPublicIp === undefined ? undefined : pulumi.interpolate`${args.loadGeneratorPublicIp}/32`;
        // The load generator's rule was a child of the LoadGenerator component (`${name}-loadgen`)
        // until the rules became one list here: the alias makes `pulumi up` on an existing stack
        // adopt it instead of creating a duplicate, which EC2 refuses (Pulumi docs, resource option
        // aliases; EC2 API, AuthorizeSecurityGroupIngress: InvalidPermission.Duplicate).
        const formerLoadGeneratorRule = pulumi.createUrn(
            `${name}-loadgen-nodeport-via-nlb`,
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            pulumi.createUrn(`${name}-loadgen`, "cni-compare:aws:LoadGenerator"),
        );
        for (const rule of nodeIngressRules({ ...args, loadGeneratorPublicCidr })) {
            const aliases = rule.key === loadGeneratorRuleKey ? [formerLoadGeneratorRule] : undefined;
            new aws.vpc.SecurityGroupIngressRule(
                `${name}-nodes-${rule.key}`,
                {
                    securityGroupId: securityGroup.id,
                    description: rule.why,
                    ipProtocol: rule.protocol,
                    fromPort: rule.fromPort,
                    toPort: rule.toPort,
                    cidrIpv4: rule.source === "self" ? undefined : rule.source,
                    referencedSecurityGroupId: rule.source === "self" ? securityGroup.id : undefined,
                },
                { parent: this, aliases },
            );
        }
        new aws.vpc.SecurityGroupEgressRule(
            `${name}-nodes-egress`,
            {
                securityGroupId: securityGroup.id,
                description: "installers, images and apt",
                ipProtocol: "-1",
                cidrIpv4: "0.0.0.0/0",
            },
            { parent: this },
        );
        return securityGroup;
    }

    /** One node: the shared hardened launch settings, in the pair's subnet, placement group and security group. */
    private launch(name: string, role: Node["role"], args: NodePairArgs): Node {
        return {
            role,
            instance: new aws.ec2.Instance(
                `${name}-${role}`,
                {
                    ...hardenedInstanceArgs({
                        amiId: this.amiId,
                        instanceType: args.instanceType,
                        subnetId: this.subnet.id,
                        placementGroup: this.placementGroup.name,
                        keyName: this.keyPair.keyName,
                        securityGroupIds: [this.securityGroup.id],
                        spot: args.spot,
                    }),
                    // Pod packets leave with pod source addresses in the native-routing modes; EC2
                    // drops them unless the check is off (FACTS.md).
                    sourceDestCheck: !routesPodIpsNatively(args.mode),
                    tags: { Name: `${name}-${role}`, role },
                },
                { parent: this, dependsOn: [this.internetRoute] },
            ),
        };
    }
}

/** `Address` is how a CIDR known only at deployment is given: pulumi.Output<string> in the program,
 * a plain string in the tests and the lab. */
export interface IngressRule<Address = string> {
    /** Stable suffix of the rule's resource name. */
    readonly key: string;
    readonly protocol: string;
    readonly fromPort?: number;
    readonly toPort?: number;
    /** A CIDR, or "self" for the nodes' own security group. */
    readonly source: string | Address;
    readonly why: string;
}

export interface NodeIngressArgs<Address = string> extends Pick<NodePairArgs, "mode" | "operatorCidr" | "vpcCidr" | "podCidr" | "nodePort"> {
    /** The load generator's public address as a /32; undefined when there is no load generator. */
    readonly loadGeneratorPublicCidr?: Address;
}

/** The key of the rule that admits the load generator's requests through the NLB. */
export const loadGeneratorRuleKey = "nodeport-loadgen";

/**
 * Every ingress rule the node security group gets for a mode: the whole contract in one list.
 * components/flows.ts states independently what must get through; the tests check these rules
 * against that matrix, rule by rule, and the lab enforces them on real packets.
 */
export function nodeIngressRules<Address = string>(args: NodeIngressArgs<Address>): IngressRule<Address>[] {
    // The NodePort, or a baseline's host or published port: where the NLB reaches the frontends.
    const frontend = frontendPortOnNodes(args.mode, args.nodePort);
    const rules: IngressRule<Address>[] = [
        { key: "ssh-operator", protocol: "tcp", fromPort: 22, toPort: 22, source: args.operatorCidr, why: "SSH from the operator only" },
        { key: "api-operator", protocol: "tcp", fromPort: 6443, toPort: 6443, source: args.operatorCidr, why: "Kubernetes API from the operator only" },
        { key: "nodeport-operator", protocol: "tcp", fromPort: frontend, toPort: frontend, source: args.operatorCidr, why: "guestbook frontend port from the operator (the NLB preserves client IPs)" },
        { key: "nodeport-vpc", protocol: "tcp", fromPort: frontend, toPort: frontend, source: args.vpcCidr, why: "guestbook frontend port from the VPC: NLB health checks and the load generator" },
        // Path-MTU discovery: 9001-byte jumbo frames inside the VPC meet 1500-byte links beyond
        // the internet gateway, whose routers may be anywhere (EC2 user guide, "Network maximum
        // transmission unit (MTU) for your EC2 instance": allow ICMP type 3 code 4 inbound).
        { key: "pmtu-internet", protocol: "icmp", fromPort: 3, toPort: 4, source: "0.0.0.0/0", why: "ICMP fragmentation-needed for path MTU discovery, from any router" },
    ];
    if (args.loadGeneratorPublicCidr !== undefined) {
        // Requests to the internet-facing NLB leave through the internet gateway, so they arrive
        // from the load generator's public address, which the NLB preserves as the client IP.
        rules.push({
            key: loadGeneratorRuleKey,
            protocol: "tcp",
            fromPort: frontend,
            toPort: frontend,
            source: args.loadGeneratorPublicCidr,
            why: "guestbook frontend port from the public address of the load generator (through the NLB)",
        });
    }
    // k3s, the mode's control plane and tunnel, and (baselines) Redis on the node addresses.
    for (const traffic of nodeToNodeTraffic(args.mode)) {
        const ports = traffic.protocol === "4" ? {} : { fromPort: traffic.fromPort, toPort: traffic.toPort };
        const name = traffic.protocol === "4" ? "ipip" : `${traffic.protocol}-${traffic.fromPort}`;
        rules.push({ key: `node-${name}`, protocol: traffic.protocol, ...ports, source: "self", why: traffic.why });
    }
    // The host-network baseline runs the same servers node to node.
    for (const [tool, ports] of Object.entries(measurementPorts)) {
        for (const protocol of ["tcp", "udp"]) {
            rules.push({ key: `bench-${tool}-${protocol}`, protocol, fromPort: ports.first, toPort: ports.last, source: "self", why: `${tool} host-network baseline between the nodes` });
        }
    }
    if (routesPodIpsNatively(args.mode)) {
        rules.push({
            key: "pod-network",
            protocol: "-1",
            source: args.podCidr,
            why: "pod-to-pod packets carry pod IPs on the wire; a self-referencing rule does not match them",
        });
        // It also admits pods reaching the peer node's own address in cilium-native: Cilium's BPF
        // masquerading leaves pod-to-remote-node traffic unmasqueraded under native routing (and
        // masquerades it to the node IP in tunnel mode, outside the tunnel), cilium
        // bpf/lib/nat.h snat_v4_needs_masquerade. Its NodePort SNAT keeps the node IP, as kube-proxy's.
        // Unencapsulated, packets that the peer node itself sends to a pod here carry the peer's
        // node IP and the pod's port: NodePort/NLB traffic the mode's Service proxy (kube-proxy,
        // or Cilium's eBPF NodePort) masquerades before forwarding it to a frontend on this node
        // (modes.ts serviceProxyNames), and hostNetwork pods asking CoreDNS. Encapsulated modes
        // carry both inside the tunnel port.
        rules.push(
            {
                key: "snat-frontend",
                protocol: "tcp",
                fromPort: guestbookPorts.frontend,
                toPort: guestbookPorts.frontend,
                source: "self",
                why: `NodePort traffic ${serviceProxyName(args.mode)} masquerades to the peer node IP before forwarding it to a frontend pod here`,
            },
            { key: "node-dns-udp", protocol: "udp", fromPort: clusterDnsPort, toPort: clusterDnsPort, source: "self", why: "DNS from hostNetwork pods on the peer node to CoreDNS here" },
            { key: "node-dns-tcp", protocol: "tcp", fromPort: clusterDnsPort, toPort: clusterDnsPort, source: "self", why: "DNS over TCP from hostNetwork pods on the peer node to CoreDNS here" },
        );
    }
    return rules;
}

/** The rules as components/flows.ts evaluates them. */
export function asSecurityGroupRules(rules: readonly IngressRule[]): SecurityGroupRule[] {
    return rules.map((rule) => ({ name: rule.key, protocol: rule.protocol, fromPort: rule.fromPort, toPort: rule.toPort, source: rule.source }));
}

export interface HardenedInstanceArgs {
    readonly amiId: pulumi.Input<string>;
    readonly instanceType: string;
    readonly subnetId: pulumi.Input<string>;
    readonly placementGroup: pulumi.Input<string>;
    readonly keyName: pulumi.Input<string>;
    readonly securityGroupIds: pulumi.Input<string>[];
    /** One-time Spot Instance instead of on-demand. */
    readonly spot: boolean;
}

/**
 * Spot as RunInstances spells it (EC2 API reference, SpotMarketOptions): a one-time request, which
 * AWS requires to terminate on interruption. A stack whose instance is reclaimed loses that
 * node; the comparison is then re-run, never silently continued on a different pair.
 */
export const spotMarketOptions = {
    marketType: "spot",
    spotOptions: { spotInstanceType: "one-time", instanceInterruptionBehavior: "terminate" },
} as const;

/** Root volume size: k3s, images and results fit with room to spare. */
export const rootVolumeGiB = 40;

/** The launch settings every instance of a stack shares: same image, placement and hardening. */
export function hardenedInstanceArgs(args: HardenedInstanceArgs): aws.ec2.InstanceArgs {
    return {
        ami: args.amiId,
        instanceType: args.instanceType,
        subnetId: args.subnetId,
        placementGroup: args.placementGroup,
        keyName: args.keyName,
        vpcSecurityGroupIds: args.securityGroupIds,
        associatePublicIpAddress: true,
        // IMDSv2 only; hop limit 1 keeps pods (one hop further) away from the metadata service.
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
        rootBlockDevice: { volumeType: "gp3", volumeSize: rootVolumeGiB, encrypted: true, deleteOnTermination: true },
        instanceMarketOptions: args.spot ? spotMarketOptions : undefined,
    };
}
