/**
 * The AWS input table, row by row, against values AWS is documented to reject and to accept.
 * test/program.test.ts applies it to every resource of every stack; policy/pack.test.ts shows the
 * CrossGuard pack reporting it.
 */
import { describe, expect, it } from "vitest";
import { awsInputRules, awsInputViolations, unknownDuringPreview } from "./awsInputRules";

const rule = (props: Record<string, unknown>) =>
    awsInputViolations({ type: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", name: "r", props: { ipProtocol: "tcp", fromPort: 22, toPort: 22, ...props } });

describe("security group texts (EC2 API reference, IpRange.Description / CreateSecurityGroup)", () => {
    it("rejects an apostrophe, which preview accepts and up does not", () => {
        expect(rule({ description: "k3s agent to the server's Kubernetes API" })).toEqual([
            expect.stringMatching(/description .* contains "'"; .*allows only a-z, A-Z, 0-9, spaces and \._-:\/\(\)#,@\[\]\+=&;\{\}!\$\*/),
        ]);
    });

    it("accepts every documented character and rejects what lies outside the set", () => {
        expect(rule({ description: "aZ09 ._-:/()#,@[]+=&;{}!$*" })).toEqual([]);
        for (const bad of ["'", '"', "é", "?", "%", "\n", "<"]) {
            expect(rule({ description: `x${bad}y` }), JSON.stringify(bad)).toHaveLength(1);
        }
    });

    it("caps descriptions at 255 characters", () => {
        expect(rule({ description: "a".repeat(255) })).toEqual([]);
        expect(rule({ description: "a".repeat(256) })).toEqual([expect.stringContaining("256 characters")]);
    });

    it("checks the security group's own description and auto-name", () => {
        const group = (name: string, description: string) => awsInputViolations({ type: "aws:ec2/securityGroup:SecurityGroup", name, props: { description } });
        expect(group("cni-vxlan-nodes", "k3s nodes, vxlan pod network")).toEqual([]);
        expect(group("cni-vxlan-nodes", "the nodes' group")).toHaveLength(1);
        expect(group("sg-nodes", "ok")).toEqual([expect.stringContaining("starts with sg-")]);
    });
});

describe("load balancer and target group names (ELB API reference, CreateLoadBalancer / CreateTargetGroup)", () => {
    const tg = (name: string, props: Record<string, unknown> = {}) => awsInputViolations({ type: "aws:lb/targetGroup:TargetGroup", name, props });

    it("counts Pulumi's auto-name suffix (a hyphen and 7 random characters) against the 32-character limit", () => {
        expect(tg("x".repeat(24))).toEqual([]);
        expect(tg("x".repeat(25))).toEqual([expect.stringContaining("33 characters")]);
    });

    it("checks an explicit name as given, and leaves a name unknown during preview alone", () => {
        expect(tg("ignored", { name: "a".repeat(32) })).toEqual([]);
        expect(tg("ignored", { name: "bad_name" })).toEqual([expect.stringContaining("only alphanumerics and hyphens")]);
        expect(tg("ignored", { name: "-edge" })).toEqual([expect.stringContaining("hyphen")]);
        expect(tg("x".repeat(40), { name: unknownDuringPreview })).toEqual([]);
    });

    it("rejects a load balancer named internal-…", () => {
        expect(awsInputViolations({ type: "aws:lb/loadBalancer:LoadBalancer", name: "internal-lb", props: {} })).toEqual([expect.stringContaining("internal-")]);
    });

    it("keeps health checks within the documented ranges", () => {
        expect(tg("tg", { healthCheck: { interval: 10, healthyThreshold: 2, unhealthyThreshold: 2 }, deregistrationDelay: 10 })).toEqual([]);
        expect(tg("tg", { healthCheck: { interval: 4, healthyThreshold: 1, unhealthyThreshold: 11 }, deregistrationDelay: 3601 })).toHaveLength(4);
    });
});

describe("ports, tags and volumes", () => {
    it("TCP/UDP ports 0-65535 with from <= to; ICMP type/code -1 or 0-255; no ports with protocol -1", () => {
        expect(rule({ fromPort: 10, toPort: 5 })).toHaveLength(1);
        expect(rule({ fromPort: 0, toPort: 65536 })).toHaveLength(1);
        expect(rule({ ipProtocol: "icmp", fromPort: 3, toPort: 4 })).toEqual([]);
        expect(rule({ ipProtocol: "icmp", fromPort: 3, toPort: 256 })).toHaveLength(1);
        expect(rule({ ipProtocol: "-1", fromPort: 22, toPort: 22 })).toHaveLength(1);
        expect(rule({ ipProtocol: "-1", fromPort: undefined, toPort: undefined })).toEqual([]);
    });

    it("tag keys at most 127 characters, never aws:; ELB tags only letters, spaces, numbers and + - = . _ : / @", () => {
        const tagged = (type: string, tags: Record<string, string>) => awsInputViolations({ type, name: "n", props: { tags } });
        expect(tagged("aws:ec2/vpc:Vpc", { Name: "cni-vxlan" })).toEqual([]);
        expect(tagged("aws:ec2/vpc:Vpc", { ["k".repeat(128)]: "v" })).toHaveLength(1);
        expect(tagged("aws:ec2/vpc:Vpc", { "aws:owner": "me" })).toHaveLength(1);
        expect(tagged("aws:ec2/vpc:Vpc", { note: "it's fine on EC2" })).toEqual([]);
        expect(tagged("aws:lb/targetGroup:TargetGroup", { note: "it's not on ELB" })).toHaveLength(1);
    });

    it("gp3 root volumes from 1 to 16384 GiB", () => {
        const instance = (volumeSize: number) => awsInputViolations({ type: "aws:ec2/instance:Instance", name: "i", props: { rootBlockDevice: { volumeSize } } });
        expect(instance(40)).toEqual([]);
        expect(instance(0)).toHaveLength(1);
        expect(instance(16385)).toHaveLength(1);
    });

    it("every row cites the document that states it", () => {
        for (const row of awsInputRules) expect(row.source, row.input).toMatch(/(API Reference|User Guide)/);
    });
});
