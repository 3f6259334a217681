/**
 * Constraints AWS enforces on inputs this program sets but that the Pulumi AWS provider does not
 * check: `pulumi preview` passes and `pulumi up` fails at the first offending resource (the
 * apostrophe in a security-group rule description was one; hashicorp/terraform-provider-aws#18874
 * shows the same failure). One row per constraint, each citing the AWS document that states it.
 * `npm test` applies the table to every resource of every stack file (test/program.test.ts, "sets every AWS input within the limits AWS enforces");
 * the CrossGuard pack applies the same rows during `pulumi preview` (policy/rules.ts).
 */

/** A resource as the table sees it: its type, its Pulumi resource name and its inputs. */
export interface AwsInputView {
    readonly type: string;
    /** The Pulumi resource name; the provider derives auto-names from it. */
    readonly name: string;
    readonly props: Readonly<Record<string, unknown>>;
}

export interface AwsInputRule {
    /** Resource types the row applies to; "aws:*" means every AWS resource. */
    readonly types: readonly string[];
    /** The input, as a reader of the resource would name it. */
    readonly input: string;
    /** What AWS accepts, in words. */
    readonly constraint: string;
    /** The AWS (or Pulumi) document that states the constraint. */
    readonly source: string;
    /** Violations for one resource; empty when the input is absent or fine. */
    readonly check: (resource: AwsInputView) => string[];
}

const SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup";
const INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule";
const LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer";
const TARGET_GROUP = "aws:lb/targetGroup:TargetGroup";
const LISTENER = "aws:lb/listener:Listener";
const PLACEMENT_GROUP = "aws:ec2/placementGroup:PlacementGroup";
const KEY_PAIR = "aws:ec2/keyPair:KeyPair";
const INSTANCE = "aws:ec2/instance:Instance";

/**
 * Stands in for a property Pulumi cannot know during preview (an ID or address a resource gets
 * when it is created). Rules never report a violation on it: they run again with real values
 * when the stack is updated.
 */
export const unknownDuringPreview = "(unknown until the resource is created)";

/** Security-group descriptions and names: a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$* (max 255). */
const securityGroupText = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;

/**
 * Pulumi auto-names a resource "<resource name>-" plus 7 random hex characters and refuses a
 * name longer than the provider's maximum ("name '…-' plus 7 random chars is longer than
 * maximum length 32"; pulumi/pulumi sdk/go/common/resource NewUniqueHex, which the AWS
 * provider's auto-naming calls). During preview the engine has already filled `name` in.
 */
export const autoNameSuffixLength = 8;

function effectiveName(resource: AwsInputView): { name: string; auto: boolean } | undefined {
    const explicit = resource.props.name;
    if (explicit === unknownDuringPreview) return undefined;
    if (typeof explicit === "string" && explicit !== "") return { name: explicit, auto: false };
    return { name: `${resource.name}-${"x".repeat(autoNameSuffixLength - 1)}`, auto: true };
}

function text(resource: AwsInputView, input: string): string | undefined {
    const value = resource.props[input];
    return typeof value === "string" && value !== unknownDuringPreview ? value : undefined;
}

function characters(value: string, allowed: RegExp): string {
    return [...new Set([...value].filter((c) => !allowed.test(c)))].map((c) => JSON.stringify(c)).join(", ");
}

function securityGroupTextCheck(input: string, what: string) {
    return (resource: AwsInputView): string[] => {
        const value = text(resource, input);
        if (value === undefined) return [];
        const problems: string[] = [];
        if (value.length > 255) problems.push(`${input} is ${value.length} characters; ${what} allows at most 255`);
        const bad = characters(value, securityGroupText);
        if (bad) problems.push(`${input} ${JSON.stringify(value)} contains ${bad}; ${what} allows only a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*`);
        return problems;
    };
}

/** Load balancer and target group names: at most 32 alphanumerics or hyphens, no hyphen at either end. */
function elbNameCheck(what: string, extra?: (name: string) => string | undefined) {
    return (resource: AwsInputView): string[] => {
        const named = effectiveName(resource);
        if (!named) return [];
        const shown = named.auto
            ? `auto-name ${JSON.stringify(named.name.slice(0, -(autoNameSuffixLength - 1)))} + ${autoNameSuffixLength - 1} random characters`
            : `name ${JSON.stringify(named.name)}`;
        const problems: string[] = [];
        if (named.name.length > 32)
            problems.push(`${shown} is ${named.name.length} characters; a ${what} name has at most 32 (shorten the Pulumi resource name to ${32 - autoNameSuffixLength} or fewer)`);
        if (!/^[a-zA-Z0-9-]*$/.test(named.name)) problems.push(`${shown} has ${characters(named.name, /[a-zA-Z0-9-]/)}; a ${what} name has only alphanumerics and hyphens`);
        if (named.name.startsWith("-") || named.name.endsWith("-")) problems.push(`${shown} begins or ends with a hyphen; a ${what} name must not`);
        const more = extra?.(named.name);
        if (more) problems.push(`${shown} ${more}`);
        return problems;
    };
}

function integerRange(input: string, min: number, max: number, what: string) {
    return (resource: AwsInputView): string[] => {
        const value = readPath(resource.props, input);
        if (value === undefined || value === unknownDuringPreview) return [];
        const n = Number(value);
        return Number.isInteger(n) && n >= min && n <= max ? [] : [`${input} is ${JSON.stringify(value)}; ${what} must be a whole number from ${min} to ${max}`];
    };
}

function readPath(props: Readonly<Record<string, unknown>>, dotted: string): unknown {
    let value: unknown = props;
    for (const key of dotted.split(".")) {
        if (!value || typeof value !== "object") return undefined;
        value = (value as Record<string, unknown>)[key];
    }
    return value;
}

/** ELB tag keys and values: letters, spaces, numbers and + - = . _ : / @ (Unicode). */
const elbTagText = /^[\p{L}\p{Z}\p{N}+\-=._:/@]*$/u;

function tagChecks(resource: AwsInputView): string[] {
    const tags = resource.props.tags;
    if (!tags || typeof tags !== "object") return [];
    const entries = Object.entries(tags as Record<string, unknown>);
    const elb = [LOAD_BALANCER, TARGET_GROUP, LISTENER].includes(resource.type);
    const problems: string[] = [];
    if (entries.length > 50) problems.push(`tags has ${entries.length} entries; AWS allows at most 50 user tags per resource`);
    for (const [key, raw] of entries) {
        const value = String(raw);
        if ([...key].length > 127) problems.push(`tag key ${JSON.stringify(key)} is over 127 characters`);
        if ([...value].length > (elb ? 255 : 256)) problems.push(`tag ${key} value is over ${elb ? 255 : 256} characters`);
        if (key.toLowerCase().startsWith("aws:")) problems.push(`tag key ${JSON.stringify(key)} begins with the reserved prefix aws:`);
        if (elb && (!elbTagText.test(key) || !elbTagText.test(value))) {
            problems.push(`tag ${JSON.stringify(key)}=${JSON.stringify(value)} has characters Elastic Load Balancing rejects; allowed: letters, spaces, numbers and + - = . _ : / @`);
        }
    }
    return problems;
}

function portRange(resource: AwsInputView): string[] {
    const protocol = String(resource.props.ipProtocol ?? "").toLowerCase();
    const from = resource.props.fromPort;
    const to = resource.props.toPort;
    if (from === unknownDuringPreview || to === unknownDuringPreview) return [];
    if (protocol === "tcp" || protocol === "udp") {
        const ok = [from, to].every((p) => Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 65535) && (from as number) <= (to as number);
        return ok ? [] : [`fromPort ${JSON.stringify(from ?? null)} / toPort ${JSON.stringify(to ?? null)}: ${protocol} needs both, 0 to 65535, fromPort <= toPort`];
    }
    if (protocol === "icmp") {
        const ok = [from, to].every((p) => Number.isInteger(p) && (p as number) >= -1 && (p as number) <= 255);
        return ok ? [] : [`fromPort (ICMP type) ${JSON.stringify(from ?? null)} / toPort (ICMP code) ${JSON.stringify(to ?? null)}: each -1 (any) or 0 to 255`];
    }
    if (protocol === "-1" && (from !== undefined || to !== undefined)) {
        return [`ipProtocol -1 (all traffic) takes no fromPort/toPort; AWS rejects a port range with it`];
    }
    return [];
}

function asciiName(max: number, what: string) {
    return (resource: AwsInputView): string[] => {
        const named = effectiveName(resource);
        if (!named) return [];
        const problems: string[] = [];
        if (named.name.length > max) problems.push(`name ${JSON.stringify(named.name)} is ${named.name.length} characters; a ${what} name has at most ${max}`);
        if (!/^[\x20-\x7e]*$/.test(named.name)) problems.push(`name ${JSON.stringify(named.name)} has non-ASCII characters; a ${what} name is ASCII`);
        return problems;
    };
}

const ec2Api = "Amazon EC2 API Reference";
const elbApi = "Elastic Load Balancing API Reference (version 2015-12-01)";

export const awsInputRules: readonly AwsInputRule[] = [
    {
        types: [SECURITY_GROUP],
        input: "description",
        constraint: "at most 255 characters: a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*",
        source: `${ec2Api}, CreateSecurityGroup, GroupDescription`,
        check: securityGroupTextCheck("description", "a security group description"),
    },
    {
        types: [SECURITY_GROUP],
        input: "name",
        constraint: "at most 255 characters of the description's set; must not start with sg-",
        source: `${ec2Api}, CreateSecurityGroup, GroupName`,
        check: (resource) => {
            const named = effectiveName(resource);
            if (!named) return [];
            const problems = securityGroupTextCheck("name", "a security group name")({ ...resource, props: { name: named.name } });
            if (named.name.toLowerCase().startsWith("sg-")) problems.push(`name ${JSON.stringify(named.name)} starts with sg-, which AWS reserves`);
            return problems;
        },
    },
    {
        types: [INGRESS_RULE, EGRESS_RULE],
        input: "description",
        constraint: "at most 255 characters: a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*",
        source: `${ec2Api}, IpRange.Description (and SecurityGroupRuleRequest.Description)`,
        check: securityGroupTextCheck("description", "a security group rule description"),
    },
    {
        types: [INGRESS_RULE, EGRESS_RULE],
        input: "fromPort/toPort",
        constraint: "TCP/UDP: 0-65535, from <= to; ICMP: type and code -1 or 0-255; protocol -1: no ports",
        source: `${ec2Api}, IpPermission.FromPort/ToPort`,
        check: portRange,
    },
    {
        types: [LOAD_BALANCER],
        input: "name",
        constraint: "at most 32 alphanumerics or hyphens, no hyphen first or last, not beginning with internal- (Pulumi's 8-character auto-name suffix included)",
        source: `${elbApi}, CreateLoadBalancer, Name`,
        check: elbNameCheck("load balancer", (name) => (name.startsWith("internal-") ? "begins with internal-, which AWS reserves" : undefined)),
    },
    {
        types: [TARGET_GROUP],
        input: "name",
        constraint: "at most 32 alphanumerics or hyphens, no hyphen first or last (Pulumi's 8-character auto-name suffix included)",
        source: `${elbApi}, CreateTargetGroup, Name`,
        check: elbNameCheck("target group"),
    },
    {
        types: [TARGET_GROUP],
        input: "healthCheck.interval",
        constraint: "5 to 300 seconds",
        source: `${elbApi}, CreateTargetGroup, HealthCheckIntervalSeconds`,
        check: integerRange("healthCheck.interval", 5, 300, "the health check interval"),
    },
    {
        types: [TARGET_GROUP],
        input: "healthCheck.healthyThreshold",
        constraint: "2 to 10",
        source: `${elbApi}, CreateTargetGroup, HealthyThresholdCount`,
        check: integerRange("healthCheck.healthyThreshold", 2, 10, "the healthy threshold"),
    },
    {
        types: [TARGET_GROUP],
        input: "healthCheck.unhealthyThreshold",
        constraint: "2 to 10",
        source: `${elbApi}, CreateTargetGroup, UnhealthyThresholdCount`,
        check: integerRange("healthCheck.unhealthyThreshold", 2, 10, "the unhealthy threshold"),
    },
    {
        types: [TARGET_GROUP],
        input: "deregistrationDelay",
        constraint: "0 to 3600 seconds",
        source: `${elbApi}, TargetGroupAttribute deregistration_delay.timeout_seconds`,
        check: integerRange("deregistrationDelay", 0, 3600, "the deregistration delay"),
    },
    {
        types: [PLACEMENT_GROUP],
        input: "name",
        constraint: "at most 255 ASCII characters",
        source: `${ec2Api}, CreatePlacementGroup, GroupName`,
        check: asciiName(255, "placement group"),
    },
    {
        types: [KEY_PAIR],
        input: "keyName",
        constraint: "at most 255 ASCII characters",
        source: `${ec2Api}, ImportKeyPair, KeyName`,
        check: (resource) => asciiName(255, "key pair")({ ...resource, props: { name: resource.props.keyName } }),
    },
    {
        types: [INSTANCE],
        input: "rootBlockDevice.volumeSize",
        constraint: "gp3: 1 to 16384 GiB",
        source: "Amazon EBS User Guide, Amazon EBS volume types (gp3 size 1 GiB - 16 TiB)",
        check: integerRange("rootBlockDevice.volumeSize", 1, 16384, "a gp3 volume size"),
    },
    {
        types: ["aws:*"],
        input: "tags",
        constraint: "at most 50; key at most 127 characters, not beginning with aws:; value at most 256 (255 and letters, spaces, numbers, + - = . _ : / @ only for Elastic Load Balancing)",
        source: "Amazon EC2 User Guide, Tag restrictions; Elastic Load Balancing User Guide, Tag your Network Load Balancer (Restrictions)",
        check: tagChecks,
    },
];

/** Every violation of the table by one resource, each naming the input and the document. */
export function awsInputViolations(resource: AwsInputView): string[] {
    const lines: string[] = [];
    for (const rule of awsInputRules) {
        const applies = rule.types.includes(resource.type) || (rule.types.includes("aws:*") && resource.type.startsWith("aws:"));
        if (!applies) continue;
        for (const problem of rule.check(resource)) lines.push(`${problem} (${rule.source})`);
    }
    return lines;
}
