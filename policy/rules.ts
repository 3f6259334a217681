/**
 * The invariants a comparison cluster relies on, as pure functions: a resource's type and
 * properties (or a whole stack's resources) in, violation messages out. policy/index.ts
 * registers them as a CrossGuard policy pack (`pulumi preview --policy-pack policy`); the tests
 * run them offline against the rendered stacks and against deliberately broken copies.
 *
 * Why each rule exists: docs/facts.md ("Hardening", "Fair pair") and components/modes.ts.
 */
import { isNetworkMode, networkModes, routesPodIpsNatively, type NetworkMode } from "../components/modes";
import { comparisonInstanceTypes } from "../components/settings";
import { awsInputViolations, unknownDuringPreview } from "./awsInputRules";

export { unknownDuringPreview };

/** One resource as the rules see it (CrossGuard's PolicyResource, reduced). */
export interface PolicyResourceView {
    readonly type: string;
    readonly name: string;
    /** Set by the policy engine; offline inputs may leave it out. */
    readonly urn?: string;
    readonly props: Readonly<Record<string, unknown>>;
}

export interface StackViolation {
    readonly message: string;
    /** The offending resource; undefined when the stack as a whole is wrong. */
    readonly urn?: string;
    readonly name?: string;
}

export const INSTANCE = "aws:ec2/instance:Instance";
export const INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
export const SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule";
export const SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup";
export const EBS_VOLUME = "aws:ebs/volume:Volume";

/** Ports that are never opened to the internet: SSH and the k3s API (docs/facts.md, "Hardening"). */
export const adminPorts: readonly { readonly port: number; readonly what: string }[] = [
    { port: 22, what: "SSH" },
    { port: 6443, what: "the Kubernetes API" },
];

/** The whole IPv4 and IPv6 internet. */
const worldCidrs = ["0.0.0.0/0", "::/0"];

/** The instance tag `role` that marks the two cluster nodes (components/nodePair.ts). */
export const nodeRoles = ["server", "agent"] as const;

function isUnknown(value: unknown): boolean {
    return value === unknownDuringPreview;
}

function record(value: unknown): Record<string, unknown> | undefined {
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function list(value: unknown): unknown[] {
    return Array.isArray(value) ? value : [];
}

/** Protocols, as AWS spells them, that carry TCP ports: "-1"/"all" means every protocol and port. */
function portsOpened(protocol: unknown, fromPort: unknown, toPort: unknown): (port: number) => boolean {
    const p = String(protocol).toLowerCase();
    if (p === "-1" || p === "all") return () => true;
    if (p !== "tcp" && p !== "6" && !isUnknown(protocol)) return () => false;
    if (isUnknown(fromPort) || isUnknown(toPort) || isUnknown(protocol)) return () => true; // cannot rule it out
    const from = Number(fromPort);
    const to = Number(toPort ?? fromPort);
    return (port) => Number.isFinite(from) && Number.isFinite(to) && from <= port && port <= to;
}

/** One ingress permission, whichever of the three AWS resource shapes it came from. */
interface Ingress {
    readonly sources: readonly unknown[];
    readonly protocol: unknown;
    readonly fromPort: unknown;
    readonly toPort: unknown;
    /** Where in the resource, for the message. */
    readonly at: string;
}

function ingressOf(type: string, props: Readonly<Record<string, unknown>>): Ingress[] {
    switch (type) {
        case INGRESS_RULE:
            return [{ sources: [props.cidrIpv4, props.cidrIpv6], protocol: props.ipProtocol, fromPort: props.fromPort, toPort: props.toPort, at: "" }];
        case SECURITY_GROUP_RULE:
            if (props.type !== "ingress") return [];
            return [{ sources: [...list(props.cidrBlocks), ...list(props.ipv6CidrBlocks)], protocol: props.protocol, fromPort: props.fromPort, toPort: props.toPort, at: "" }];
        case SECURITY_GROUP:
            return list(props.ingress).map((rule, index) => {
                const r = record(rule) ?? {};
                return { sources: [...list(r.cidrBlocks), ...list(r.ipv6CidrBlocks)], protocol: r.protocol, fromPort: r.fromPort, toPort: r.toPort, at: ` (ingress[${index}])` };
            });
        default:
            return [];
    }
}

/** No security-group rule admits SSH or the Kubernetes API from 0.0.0.0/0 or ::/0. */
export function adminPortsFromInternet(type: string, props: Readonly<Record<string, unknown>>): string[] {
    const violations: string[] = [];
    for (const ingress of ingressOf(type, props)) {
        const world = ingress.sources.filter((source) => typeof source === "string" && worldCidrs.includes(source));
        if (world.length === 0) continue;
        const opens = portsOpened(ingress.protocol, ingress.fromPort, ingress.toPort);
        for (const { port, what } of adminPorts.filter((p) => opens(p.port))) {
            violations.push(`opens ${what} (TCP ${port}) to ${world.join(" and ")}${ingress.at}: admit only the operator's CIDR (config operatorCidr)`);
        }
    }
    return violations;
}

/** Instances answer metadata requests only with a session token (IMDSv2). */
export function imdsV2Required(type: string, props: Readonly<Record<string, unknown>>): string[] {
    if (type !== INSTANCE) return [];
    const options = record(props.metadataOptions);
    const tokens = options?.httpTokens;
    if (options?.httpEndpoint === "disabled" || tokens === "required" || isUnknown(tokens) || isUnknown(props.metadataOptions)) return [];
    return [`metadataOptions.httpTokens is ${JSON.stringify(tokens ?? null)}: set it to "required" (IMDSv2 only; IMDSv1 lets any SSRF read the instance's credentials)`];
}

/** Root and attached EBS volumes are encrypted. */
export function encryptedVolumes(type: string, props: Readonly<Record<string, unknown>>): string[] {
    const unencrypted = (value: unknown) => value !== true && value !== "true" && !isUnknown(value);
    if (type === EBS_VOLUME) {
        return unencrypted(props.encrypted) ? [`encrypted is ${JSON.stringify(props.encrypted ?? null)}: set it to true`] : [];
    }
    if (type !== INSTANCE) return [];
    const violations: string[] = [];
    const root = record(props.rootBlockDevice);
    if (!isUnknown(props.rootBlockDevice) && unencrypted(root?.encrypted)) {
        violations.push(`rootBlockDevice.encrypted is ${JSON.stringify(root?.encrypted ?? null)}: set it to true (an unset value means the account default, which is usually unencrypted)`);
    }
    list(props.ebsBlockDevices).forEach((device, index) => {
        const encrypted = record(device)?.encrypted;
        if (unencrypted(encrypted)) violations.push(`ebsBlockDevices[${index}].encrypted is ${JSON.stringify(encrypted ?? null)}: set it to true`);
    });
    return violations;
}

/** Launch settings that must be the same on both nodes for the comparison to be fair. */
export const pairSettings = [
    "instanceType",
    "ami",
    "subnetId",
    "availabilityZone",
    "placementGroup",
    "vpcSecurityGroupIds",
    "rootBlockDevice",
    "metadataOptions",
    "cpuOptions",
    "ebsOptimized",
    "creditSpecification",
    "instanceMarketOptions",
] as const;

function roleOf(resource: PolicyResourceView): unknown {
    return record(resource.props.tags)?.role;
}

function identify(resource: PolicyResourceView): Pick<StackViolation, "urn" | "name"> {
    return { urn: resource.urn, name: resource.name };
}

/**
 * Exactly two nodes (tag role=server and role=agent), each a 16 vCPU / 32 GiB type, launched
 * identically; every other instance of the stack (the load generator) is the same type too.
 */
export function comparisonNodePair(resources: readonly PolicyResourceView[]): StackViolation[] {
    const violations: StackViolation[] = [];
    const instances = resources.filter((r) => r.type === INSTANCE);
    for (const instance of instances) {
        const type = instance.props.instanceType;
        if (!isUnknown(type) && !(comparisonInstanceTypes as readonly unknown[]).includes(type)) {
            violations.push({ ...identify(instance), message: `instanceType ${JSON.stringify(type ?? null)} is not a 16 vCPU / 32 GiB type; allowed: ${comparisonInstanceTypes.join(", ")}` });
        }
    }
    const nodes = nodeRoles.map((role) => ({ role, found: instances.filter((i) => roleOf(i) === role) }));
    const problems = nodes.filter((n) => n.found.length !== 1);
    if (problems.length > 0) {
        const counts = nodes.map((n) => `${n.found.length} tagged role=${n.role}`).join(", ");
        violations.push({ message: `a comparison cluster has exactly two nodes, one instance tagged role=server and one role=agent; found ${counts}` });
        return violations;
    }
    const [server, agent] = nodes.map((n) => n.found[0]);
    for (const setting of pairSettings) {
        const a = server.props[setting];
        const b = agent.props[setting];
        if (isUnknown(a) || isUnknown(b) || JSON.stringify(a) === JSON.stringify(b)) continue;
        violations.push({
            ...identify(agent),
            message: `${setting} differs between the nodes (server ${JSON.stringify(a ?? null)}, agent ${JSON.stringify(b ?? null)}): both nodes must be launched identically`,
        });
    }
    for (const other of instances.filter((i) => i !== server && i !== agent)) {
        const type = other.props.instanceType;
        if (isUnknown(type) || isUnknown(server.props.instanceType) || type === server.props.instanceType) continue;
        violations.push({
            ...identify(other),
            message: `instanceType ${JSON.stringify(type ?? null)} differs from the nodes' ${JSON.stringify(server.props.instanceType)}: the load generator must match the nodes`,
        });
    }
    return violations;
}

/**
 * The network mode a stack is checked against: the stack's `cni-compare:mode` config, or else
 * the stack name (this project names each stack after its mode).
 */
export function networkModeOf(configuredMode: string | undefined, stackName: string | undefined): { mode: NetworkMode } | { problem: string } {
    if (configuredMode !== undefined && configuredMode !== "") {
        return isNetworkMode(configuredMode)
            ? { mode: configuredMode }
            : { problem: `config cni-compare:mode is ${JSON.stringify(configuredMode)}, not a network mode; allowed: ${networkModes.join(", ")}` };
    }
    if (stackName !== undefined && isNetworkMode(stackName)) return { mode: stackName };
    return { problem: `cannot tell the network mode: config cni-compare:mode is not set and the stack name ${JSON.stringify(stackName ?? "")} is not one of ${networkModes.join(", ")}` };
}

/**
 * Both nodes have source/destination checking off exactly when the mode routes pod IPs
 * natively (host-gw, Calico without encapsulation): EC2 drops those packets otherwise, and
 * turning the check off anywhere else only weakens the instance.
 */
export function sourceDestCheckForMode(mode: NetworkMode, resources: readonly PolicyResourceView[]): StackViolation[] {
    const mustBeOff = routesPodIpsNatively(mode);
    const violations: StackViolation[] = [];
    for (const node of resources.filter((r) => r.type === INSTANCE && (nodeRoles as readonly unknown[]).includes(roleOf(r)))) {
        const check = node.props.sourceDestCheck;
        if (isUnknown(check)) continue;
        const off = check === false || check === "false";
        if (mustBeOff && !off) {
            violations.push({
                ...identify(node),
                message: `sourceDestCheck is ${JSON.stringify(check ?? null)} (AWS default: on) but mode ${mode} routes pod IPs natively: set it to false or EC2 drops pod traffic`,
            });
        } else if (!mustBeOff && off) {
            violations.push({ ...identify(node), message: `sourceDestCheck is off but mode ${mode} encapsulates pod traffic: leave it on` });
        }
    }
    return violations;
}

/** A resource-level rule: what CrossGuard's validateResource runs. */
export interface ResourceRule {
    readonly name: string;
    readonly description: string;
    readonly check: (type: string, props: Readonly<Record<string, unknown>>, name: string) => string[];
}

/** A stack-level rule: sees every resource at once (and the mode, from config or stack name). */
export interface StackRule {
    readonly name: string;
    readonly description: string;
    readonly check: (resources: readonly PolicyResourceView[], stack: { readonly configuredMode?: string; readonly stackName?: string }) => StackViolation[];
}

export const resourceRules: readonly ResourceRule[] = [
    { name: "no-admin-ports-from-internet", description: "No security-group rule admits SSH (22) or the Kubernetes API (6443) from 0.0.0.0/0 or ::/0.", check: adminPortsFromInternet },
    { name: "imdsv2-required", description: "EC2 instances require IMDSv2 session tokens (metadataOptions.httpTokens = required).", check: imdsV2Required },
    { name: "encrypted-volumes", description: "EC2 root and attached EBS volumes are encrypted.", check: encryptedVolumes },
    {
        name: "aws-input-constraints",
        description: "Inputs obey the limits AWS enforces but the provider does not check (policy/awsInputRules.ts: descriptions, names, tags, ranges).",
        check: (type, props, name) => awsInputViolations({ type, name, props }),
    },
];

export const stackRules: readonly StackRule[] = [
    {
        name: "comparison-node-pair",
        description: "Exactly two nodes (role=server, role=agent) of one 16 vCPU / 32 GiB type, launched identically; the load generator matches them.",
        check: (resources) => comparisonNodePair(resources),
    },
    {
        name: "source-dest-check-per-mode",
        description: "Source/destination check is off on both nodes exactly when the network mode routes pod IPs natively.",
        check: (resources, stack) => {
            const mode = networkModeOf(stack.configuredMode, stack.stackName);
            return "problem" in mode ? [{ message: mode.problem }] : sourceDestCheckForMode(mode.mode, resources);
        },
    },
];

/** Every violation of every rule for one stack, each line naming the rule and the resource. */
export function evaluatePolicies(resources: readonly PolicyResourceView[], stack: { readonly configuredMode?: string; readonly stackName?: string }): string[] {
    const lines: string[] = [];
    for (const rule of resourceRules) {
        for (const resource of resources) {
            for (const message of rule.check(resource.type, resource.props, resource.name)) lines.push(`${rule.name}: ${resource.name}: ${message}`);
        }
    }
    for (const rule of stackRules) {
        for (const v of rule.check(resources, stack)) lines.push(`${rule.name}: ${v.name ?? "(stack)"}: ${v.message}`);
    }
    return lines;
}
