/** Shared lookups over an offline evaluation, with failure messages that say what is missing. */
import type { Evaluation, RecordedResource } from "../render/evaluate";

export function ofType(evaluation: Evaluation, type: string): RecordedResource[] {
    return evaluation.resources.filter((r) => r.type === type);
}

export function named(evaluation: Evaluation, type: string, name: string): RecordedResource {
    const found = evaluation.resources.find((r) => r.type === type && r.name === name);
    if (!found) {
        const names =
            ofType(evaluation, type)
                .map((r) => r.name)
                .join(", ") || "none";
        throw new Error(`stack ${evaluation.stack}: no ${type} named ${name} (have: ${names})`);
    }
    return found;
}

export function endingWith(evaluation: Evaluation, type: string, suffix: string): RecordedResource {
    const found = ofType(evaluation, type).filter((r) => r.name.endsWith(suffix));
    if (found.length !== 1) {
        throw new Error(`stack ${evaluation.stack}: expected one ${type} ending in ${suffix}, found ${found.length}`);
    }
    return found[0];
}

/** The script a remote Command runs, with the `sudo bash -c '…'` wrapper undone. */
export function rootScript(resource: RecordedResource): string {
    const create = String(resource.inputs.create);
    const match = /^sudo bash -c '([\s\S]*)'$/.exec(create);
    if (!match) throw new Error(`${resource.name}: command is not wrapped by runAsRoot: ${create.slice(0, 80)}`);
    return match[1].replace(/'\\''/g, "'");
}

/** Every string leaf with its dotted path. */
export function stringLeaves(value: unknown, at = ""): [string, string][] {
    if (typeof value === "string") return [[at, value]];
    if (value && typeof value === "object") {
        return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => stringLeaves(child, at ? `${at}.${key}` : key));
    }
    return [];
}

const INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";

/**
 * The ingress rules declared on the nodes' security group (wherever in the program they are
 * declared), as AWS evaluates them: a rule that references the group itself is "self".
 */
export function nodeSecurityGroupRules(evaluation: Evaluation): { name: string; protocol: string; fromPort?: number; toPort?: number; source: string }[] {
    const group = endingWith(evaluation, "aws:ec2/securityGroup:SecurityGroup", "-nodes");
    const groupId = ofType(evaluation, INGRESS_RULE).find((r) => r.dependencies.includes(group.urn))?.inputs.securityGroupId;
    if (typeof groupId !== "string") throw new Error(`stack ${evaluation.stack}: no ingress rule references the nodes' security group`);
    return ofType(evaluation, INGRESS_RULE)
        .filter((r) => r.inputs.securityGroupId === groupId)
        .map((r) => {
            const { ipProtocol, fromPort, toPort, cidrIpv4, referencedSecurityGroupId } = r.inputs as Record<string, any>;
            if (referencedSecurityGroupId !== undefined && referencedSecurityGroupId !== groupId) {
                throw new Error(`${r.name}: references another security group, which this test does not model`);
            }
            const source = referencedSecurityGroupId === groupId ? "self" : cidrIpv4;
            if (typeof source !== "string") throw new Error(`${r.name}: neither a CIDR nor the group itself as source`);
            return { name: r.name, protocol: String(ipProtocol), fromPort, toPort, source };
        });
}
