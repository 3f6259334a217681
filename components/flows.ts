/**
 * The flow matrix: every flow a running comparison cluster needs to reach one of its nodes, as the
 * packet looks when it arrives at the node's interface (after encapsulation and NAT), checked
 * against security-group rules the way AWS evaluates them. Every flow is derived from the mode's
 * traffic and tunnel in modes.ts, so a new mode cannot skip this.
 * Wire shapes and rule semantics, with sources: docs/facts.md, "Rules the provider does not check".
 */
import { containsIp } from "./cidr";
import { measurementPorts } from "./measurementPorts";
import { clusterNodeTraffic, frontendPortOnNodes, isBaseline, modeFacts, routesPodIpsNatively, serviceProxyName, tunnelTraffic, type NetworkMode } from "./modes";
import { clusterDnsPort, guestbookPorts, metricsServerPort } from "./podPorts";

/** Where a flow comes from, as a stack's address plan names it. */
export type FlowSource =
    /** The operator's machine: SSH, kubectl, curl. An address inside operatorCidr. */
    | "operator"
    /** Any address on the internet: routers sending ICMP errors on the path. */
    | "internet"
    /** The network load balancer's private addresses in the subnet (health checks). */
    | "load-balancer"
    /** The load generator through the internet-facing NLB, which preserves its public address. */
    | "load-generator-public"
    /** The load generator straight to a NodePort inside the VPC (its private address). */
    | "load-generator-private"
    /** A process in the other node's own network namespace: k3s, kube-proxy's SNAT, hostNetwork pods. */
    | "peer-node"
    /** A pod on the other node (its own pod IP). */
    | "peer-pod";

/** What the flow reaches on the receiving node. */
export type FlowTarget = "node" | "pod";

export type FlowProtocol = "tcp" | "udp" | "icmp" | "4";

export interface Flow {
    readonly name: string;
    readonly from: FlowSource;
    readonly to: FlowTarget;
    readonly protocol: FlowProtocol;
    /** TCP/UDP destination port; the ICMP type for ICMP; absent for IP-in-IP. */
    readonly port?: number;
    /** ICMP code (ICMP only). */
    readonly icmpCode?: number;
}

/** The packet as the receiving node's ENI sees it. */
export interface WirePacket {
    readonly source: string;
    readonly protocol: FlowProtocol;
    readonly port?: number;
    readonly icmpCode?: number;
    /** How the flow became this packet (tunnel, SNAT), for messages. */
    readonly shape: string;
}

/** Concrete addresses standing in for each source (a stack's or the lab's). */
export interface FlowAddresses {
    /** Primary private IP of the other node: the source of node-originated packets. */
    readonly peerNode: string;
    /** A pod IP on the other node. */
    readonly peerPod: string;
    readonly operator: string;
    readonly internet: string;
    readonly loadBalancer: string;
    readonly loadGeneratorPublic: string;
    readonly loadGeneratorPrivate: string;
}

/** A security-group ingress rule as AWS evaluates it. */
export interface SecurityGroupRule {
    /** Identifies the rule in messages (the resource or rule key). */
    readonly name: string;
    /** "tcp", "udp", "icmp", "-1" (everything) or an IP protocol number such as "4". */
    readonly protocol: string;
    readonly fromPort?: number;
    readonly toPort?: number;
    /** A CIDR, or "self": the group's own members (their primary private IPs only). */
    readonly source: string;
}

export interface FlowMatrixArgs {
    readonly mode: NetworkMode;
    /** The frontend Service's NodePort (the pod-network modes); the baselines' frontend ports
     * come from the mode table. */
    readonly nodePort: number;
}

/** Every flow that must reach a node of the stack, named for the reader of a failing test. */
export function flowMatrix(args: FlowMatrixArgs): Flow[] {
    // The NodePort, or a baseline's host/published port: both arrive at the node's own address.
    const frontend = frontendPortOnNodes(args.mode, args.nodePort);
    const flows: Flow[] = [
        { name: "SSH from the operator (Pulumi installs k3s over SSH; the benchmark runner)", from: "operator", to: "node", protocol: "tcp", port: 22 },
        { name: "Kubernetes API from the operator (Pulumi's Kubernetes provider, kubectl)", from: "operator", to: "node", protocol: "tcp", port: 6443 },
        { name: "guestbook through the NLB from the operator (client IP preserved)", from: "operator", to: "node", protocol: "tcp", port: frontend },
        { name: "guestbook through the NLB from the load generator (its public IP, preserved)", from: "load-generator-public", to: "node", protocol: "tcp", port: frontend },
        { name: "guestbook straight to the frontend port of a node from the load generator", from: "load-generator-private", to: "node", protocol: "tcp", port: frontend },
        { name: "NLB health checks on the frontend port of each node", from: "load-balancer", to: "node", protocol: "tcp", port: frontend },
        // EC2 user guide, "Network MTU for your EC2 instance": PMTUD needs inbound ICMP
        // Destination Unreachable / fragmentation needed (type 3, code 4); routers anywhere send it.
        { name: "ICMP fragmentation-needed for path MTU discovery (9001-byte VPC, 1500 beyond)", from: "internet", to: "node", protocol: "icmp", port: 3, icmpCode: 4 },
    ];
    // The cluster's own node-to-node traffic as the mode table declares it; the guestbook's flows
    // below are written out independently, so the rules derived from the table are checked.
    for (const traffic of clusterNodeTraffic(args.mode)) {
        const protocol = traffic.protocol;
        if (protocol === "4") flows.push({ name: traffic.why, from: "peer-node", to: "node", protocol });
        else if (protocol === "icmp") flows.push({ name: traffic.why, from: "peer-node", to: "node", protocol, port: traffic.fromPort, icmpCode: traffic.toPort });
        else flows.push({ name: traffic.why, from: "peer-node", to: "node", protocol, port: traffic.fromPort });
    }
    const publishedPorts = modeFacts[args.mode].guestbook.kind === "published-ports";
    for (const [tool, ports] of Object.entries(measurementPorts)) {
        for (const protocol of ["tcp", "udp"] as const) {
            for (const port of new Set([ports.first, ports.last])) {
                flows.push({ name: `${tool} host-network baseline between the nodes (${protocol} ${port})`, from: "peer-node", to: "node", protocol, port });
                flows.push({ name: `${tool} between pods on the two nodes (${protocol} ${port})`, from: "peer-pod", to: "pod", protocol, port });
                if (publishedPorts) {
                    // The bridge row's own measurement: a server pod publishing the port on its
                    // node, a client pod on the other (masqueraded to its node IP on the way out).
                    flows.push({ name: `${tool} through a port published on the other node (${protocol} ${port})`, from: "peer-node", to: "node", protocol, port });
                }
            }
        }
    }
    if (isBaseline(args.mode)) {
        // The baselines reach Redis at the peer's node IP (hostNetwork, or a published port whose
        // sender is masqueraded to its node IP): never a pod IP, never the tunnel.
        flows.push(
            { name: "guestbook frontend to Redis at the other node's address", from: "peer-node", to: "node", protocol: "tcp", port: guestbookPorts.redis },
            { name: "guestbook Redis follower replicating from the leader at the other node's address", from: "peer-node", to: "node", protocol: "tcp", port: guestbookPorts.redis },
        );
    } else {
        flows.push(
            { name: "guestbook frontend to Redis on the other node", from: "peer-pod", to: "pod", protocol: "tcp", port: guestbookPorts.redis },
            {
                name: `NodePort or NLB traffic ${serviceProxyName(args.mode)} forwards to a frontend on the other node (masqueraded to the node IP)`,
                from: "peer-node",
                to: "pod",
                protocol: "tcp",
                port: guestbookPorts.frontend,
            },
        );
    }
    flows.push(
        { name: "pod DNS to CoreDNS on the other node (udp)", from: "peer-pod", to: "pod", protocol: "udp", port: clusterDnsPort },
        { name: "pod DNS to CoreDNS on the other node (tcp)", from: "peer-pod", to: "pod", protocol: "tcp", port: clusterDnsPort },
        { name: "hostNetwork pods (the host baseline) resolving names at CoreDNS on the other node (udp)", from: "peer-node", to: "pod", protocol: "udp", port: clusterDnsPort },
        { name: "hostNetwork pods (the host baseline) resolving names at CoreDNS on the other node (tcp)", from: "peer-node", to: "pod", protocol: "tcp", port: clusterDnsPort },
        { name: "Kubernetes API server to metrics-server on the other node (aggregated API)", from: "peer-node", to: "pod", protocol: "tcp", port: metricsServerPort },
    );
    return flows;
}

function sourceAddress(source: FlowSource, addresses: FlowAddresses): string {
    switch (source) {
        case "operator":
            return addresses.operator;
        case "internet":
            return addresses.internet;
        case "load-balancer":
            return addresses.loadBalancer;
        case "load-generator-public":
            return addresses.loadGeneratorPublic;
        case "load-generator-private":
            return addresses.loadGeneratorPrivate;
        case "peer-node":
            return addresses.peerNode;
        case "peer-pod":
            return addresses.peerPod;
    }
}

/** The packet a flow puts on the wire in a mode: tunnelled flows become the tunnel's outer packet. */
export function onTheWire(flow: Flow, mode: NetworkMode, addresses: FlowAddresses): WirePacket {
    const tunnel = modeFacts[mode].tunnel;
    if (flow.to === "pod" && tunnel) {
        // Both pod-sourced and node-sourced packets towards a pod subnet leave through the tunnel
        // device; the outer header carries the peer's node IP.
        const outer = tunnelTraffic(tunnel);
        const port = outer.protocol === "4" ? undefined : outer.fromPort;
        return { source: addresses.peerNode, protocol: outer.protocol, port, shape: `inside ${tunnel.owner} from the peer node IP` };
    }
    const source = sourceAddress(flow.from, addresses);
    const shape = flow.to === "pod" ? `unencapsulated (${routesPodIpsNatively(mode) ? "pod IPs routed natively" : "no tunnel"}), source ${flow.from}` : `source ${flow.from}`;
    return { source, protocol: flow.protocol, port: flow.port, icmpCode: flow.icmpCode, shape };
}

function inRange(value: number | undefined, from: number | undefined, to: number | undefined): boolean {
    if (from === undefined || from === -1) return true;
    return value !== undefined && from <= value && value <= (to ?? from);
}

/** Whether one rule admits a packet, by AWS's rules; `members` are the group's primary private IPs. */
export function ruleAdmits(rule: SecurityGroupRule, packet: WirePacket, members: readonly string[]): boolean {
    const sourceMatches = rule.source === "self" ? members.includes(packet.source) : containsIp(rule.source, packet.source);
    if (!sourceMatches) return false;
    const protocol = rule.protocol.toLowerCase();
    if (protocol === "-1" || protocol === "all") return true;
    if (protocol !== packet.protocol) return false;
    switch (packet.protocol) {
        case "tcp":
        case "udp":
            return inRange(packet.port, rule.fromPort, rule.toPort);
        case "icmp":
            // fromPort = ICMP type, toPort = ICMP code; -1 is any.
            return inRange(packet.port, rule.fromPort, rule.fromPort) && (rule.toPort === undefined || rule.toPort === -1 || rule.toPort === packet.icmpCode);
        default:
            return true; // protocols without ports (IP-in-IP) match on the protocol alone
    }
}

export interface BlockedFlow {
    readonly flow: Flow;
    readonly packet: WirePacket;
    readonly message: string;
}

/** The flows no rule admits, each with a message naming the mode, the flow and its packet. */
export function blockedFlows(mode: NetworkMode, flows: readonly Flow[], rules: readonly SecurityGroupRule[], addresses: FlowAddresses, members: readonly string[]): BlockedFlow[] {
    const blocked: BlockedFlow[] = [];
    for (const flow of flows) {
        const packet = onTheWire(flow, mode, addresses);
        if (rules.some((rule) => ruleAdmits(rule, packet, members))) continue;
        const what =
            packet.protocol === "icmp" ? `icmp type ${packet.port} code ${packet.icmpCode}` : packet.port === undefined ? `IP protocol ${packet.protocol}` : `${packet.protocol} port ${packet.port}`;
        blocked.push({
            flow,
            packet,
            message: `mode ${mode}: "${flow.name}" arrives as ${what} from ${packet.source} (${packet.shape}); no rule of the nodes' security group admits it`,
        });
    }
    return blocked;
}
