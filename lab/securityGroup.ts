/**
 * The stacks' node security group, enforced on real packets in the lab: the rules come from the
 * function the program declares them with (components/nodePair.ts `nodeIngressRules`), with the
 * stack's addresses mapped onto the lab's, as a default-drop filter on each node namespace's
 * underlay interface. The filter sits in mangle PREROUTING: a security group acts before anything
 * on the instance sees the packet (before DNAT and routing) yet is stateful, and that is the first
 * hook with conntrack state. Sources: docs/facts.md, "Rules the provider does not check".
 */
import { asSecurityGroupRules, nodeIngressRules, type IngressRule, type NodeIngressArgs } from "../components/nodePair";
import type { Flow, FlowAddresses, SecurityGroupRule } from "../components/flows";
import { readProject } from "../components/project";
import { inNamespace, type Step } from "./exec";
import { isClusterMode } from "./modes";
import type { LabNode, LabTopology, LabWorkload } from "./topology";

/** The chain each node namespace filters its underlay interface through. */
export const securityGroupChain = "LAB-SG";

/**
 * The load generator's public address in the lab, where none exists (no internet gateway, no
 * NLB): a documentation address (RFC 5737, TEST-NET-2) that no lab namespace holds. Its rule is
 * enforced like every other, and no lab packet carries it, as on AWS only packets through the
 * NLB do; the operator's rule keeps its own probe.
 */
export const labLoadGeneratorPublicIp = "198.51.100.13";

/**
 * A stack's addresses, mapped onto the lab: the operator is the lab's load generator (both drive
 * the benchmark), the VPC is the stacks' default range (the underlay /24 is its first subnet, as
 * the stacks' node subnet is), the pod range and NodePort are the lab's, which equal the stacks'
 * defaults.
 */
export function labStackAddresses(t: LabTopology): Omit<NodeIngressArgs, "mode"> {
    return {
        operatorCidr: `${t.loadGenerator.ip}/32`,
        vpcCidr: readProject().defaults.vpcCidr,
        podCidr: t.podCidr,
        nodePort: t.servicePort,
        loadGeneratorPublicCidr: `${labLoadGeneratorPublicIp}/32`,
    };
}

/** The node security group of the lab's mode, exactly as the program declares it for a stack. */
export function labSecurityGroupRules(t: LabTopology): IngressRule[] {
    return nodeIngressRules({ mode: t.mode, ...labStackAddresses(t) });
}

/** The group's members: the nodes' one underlay address each (their "primary private IP"). */
export function securityGroupMembers(t: LabTopology): string[] {
    return t.nodes.map((n) => n.ip);
}

const iptables = (node: LabNode, ...args: string[]): Step => ({ argv: inNamespace(node.netns, ["iptables", "-w", "5", "-t", "mangle", ...args]) });

/** iptables match arguments for one rule; a "self" rule becomes one line per member address. */
function ruleLines(rule: SecurityGroupRule, members: readonly string[]): string[][] {
    const sources = rule.source === "self" ? members.map((ip) => `${ip}/32`) : [rule.source];
    const protocol = rule.protocol.toLowerCase();
    let match: string[];
    if (protocol === "-1" || protocol === "all") match = [];
    else if (protocol === "tcp" || protocol === "udp") match = ["-p", protocol, "--dport", rule.fromPort === rule.toPort ? `${rule.fromPort}` : `${rule.fromPort}:${rule.toPort}`];
    else if (protocol === "icmp") match = ["-p", "icmp", "--icmp-type", rule.toPort === undefined || rule.toPort === -1 ? `${rule.fromPort}` : `${rule.fromPort}/${rule.toPort}`];
    else match = ["-p", protocol];
    return sources.map((source) => ["-s", source, ...match, "-m", "comment", "--comment", rule.name]);
}

/** Fills the chain on one node: established and related first (stateful), the rules, then the
 * default drop — with packets conntrack calls invalid (late segments of closed connections, which
 * no rule admitted) dropped on a line of their own, so the last line counts only new flows. */
export function securityGroupRuleSteps(t: LabTopology, node: LabNode, rules: readonly SecurityGroupRule[]): Step[] {
    const members = securityGroupMembers(t);
    return [
        iptables(node, "-F", securityGroupChain),
        iptables(node, "-A", securityGroupChain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"),
        ...rules.flatMap((rule) => ruleLines(rule, members).map((line) => iptables(node, "-A", securityGroupChain, ...line, "-j", "ACCEPT"))),
        iptables(node, "-A", securityGroupChain, "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"),
        iptables(node, "-A", securityGroupChain, "-j", "DROP"),
    ];
}

/** The filter on every node: every lab mode is a stack mode with a security group. */
export function securityGroupSteps(t: LabTopology, rules: readonly SecurityGroupRule[] = asSecurityGroupRules(labSecurityGroupRules(t))): Step[] {
    return t.nodes.flatMap((node) => [iptables(node, "-N", securityGroupChain), iptables(node, "-A", "PREROUTING", "-i", "eth0", "-j", securityGroupChain), ...securityGroupRuleSteps(t, node, rules)]);
}

/** Flows the lab cannot send in this topology, with the reason. */
export function unprobeableFlow(flow: Flow, t: LabTopology): string | undefined {
    if (flow.to === "pod" && !isClusterMode(t.mode)) {
        return "the lab's baselines build no pod network for k3s's own pods (the stack keeps flannel vxlan for them)";
    }
    if (flow.from === "internet") return "the lab has no routers beyond the underlay to send ICMP errors from";
    if (flow.from === "load-generator-public") return "the lab has no internet gateway to give the load generator a public address";
    // The probe is bash's /dev/tcp or /dev/udp: it sends nothing else (IP-in-IP, ICMP).
    if (flow.protocol !== "tcp" && flow.protocol !== "udp") return `the probe sends only TCP and UDP, not ${flow.protocol === "4" ? "IP-in-IP" : flow.protocol}`;
    return undefined;
}

/** The other node of the pair. */
function peerOf(t: LabTopology, node: LabNode): LabNode {
    return t.nodes.find((n) => n.index !== node.index)!;
}

/** A pod on `node` (undefined where the mode has no pods). */
function podOn(t: LabTopology, node: LabNode): LabWorkload | undefined {
    return t.workloads.find((w) => w.node === node.index && w.hostInterface !== undefined);
}

/** The flow matrix's addresses as the lab's `receiver` node sees them. */
export function labFlowAddresses(t: LabTopology, receiver: LabNode): FlowAddresses {
    const peer = peerOf(t, receiver);
    return {
        peerNode: peer.ip,
        peerPod: podOn(t, peer)?.ip ?? peer.ip,
        operator: t.loadGenerator.ip,
        internet: "192.0.2.1",
        loadBalancer: t.loadGenerator.ip,
        loadGeneratorPublic: labLoadGeneratorPublicIp,
        loadGeneratorPrivate: t.loadGenerator.ip,
    };
}

/**
 * One packet of `flow` towards `receiver`, sent from the namespace the flow comes from: a TCP
 * connection attempt (bounded to `seconds`) or a UDP datagram. Whether it got through is read
 * from the receiver's drop counter, not from an answer, so no listener is needed.
 */
export function probeArgv(t: LabTopology, flow: Flow, receiver: LabNode, seconds = 0.3): readonly string[] {
    const peer = peerOf(t, receiver);
    const from = flow.from === "peer-node" ? peer.netns : flow.from === "peer-pod" ? podOn(t, peer)!.netns : t.loadGenerator.netns;
    const to = flow.to === "pod" ? podOn(t, receiver)!.ip : receiver.ip;
    const target = `/dev/${flow.protocol}/${to}/${flow.port}`;
    // bash's /dev/tcp and /dev/udp: a connect (TCP) or one datagram (UDP); failures are expected.
    const script = flow.protocol === "tcp" ? `timeout ${seconds} bash -c 'exec 3<>${target}' 2>/dev/null; true` : `echo probe > ${target} 2>/dev/null; true`;
    return inNamespace(from, ["bash", "-c", script]);
}

/** The receiver's default-drop counter: `iptables -nvxL` output of the chain in, packets of new
 * flows no rule admitted out (the last DROP line; the invalid-state line before it is not counted). */
export function droppedPackets(listing: string): number {
    const drop = listing
        .split("\n")
        .filter((line) => /\sDROP\s/.test(line))
        .at(-1);
    if (!drop) throw new Error(`no DROP rule in ${securityGroupChain}:\n${listing}`);
    return Number(drop.trim().split(/\s+/)[0]);
}

export function listChainArgv(node: LabNode): readonly string[] {
    return iptables(node, "-nvxL", securityGroupChain).argv;
}
