/**
 * The policy rules, offline: every committed stack snapshot passes them (render/snapshot.test.ts
 * keeps those snapshots equal to what the program declares now), and deliberately broken copies
 * of the same resources fail with a message naming what is wrong.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { networkModes, routesPodIpsNatively } from "../components/modes";
import { comparisonInstanceTypes } from "../components/settings";
import { stackNames } from "../render/evaluate";
import { snapshotRoot } from "../render/snapshotFolder";
import { knownValues } from "./previewValues";
import {
    adminPortsFromInternet,
    comparisonNodePair,
    encryptedVolumes,
    evaluatePolicies,
    imdsV2Required,
    INGRESS_RULE,
    INSTANCE,
    networkModeOf,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    sourceDestCheckForMode,
    unknownDuringPreview,
    type PolicyResourceView,
} from "./rules";

interface Snapshot {
    readonly stack: string;
    readonly config: Record<string, string>;
    readonly resources: PolicyResourceView[];
}

function snapshot(stack: string): Snapshot {
    const file = parse(readFileSync(path.join(snapshotRoot, stack, "resources.yaml"), "utf8"));
    const resources = (file.resources as { type: string; name: string; inputs: Record<string, unknown> }[]).map((r) => ({ type: r.type, name: r.name, props: r.inputs }));
    return { stack, config: file.config, resources };
}

/** A deep copy of a stack's resources with one resource's props changed. */
function mutated(base: Snapshot, name: string, change: (props: Record<string, any>) => void): PolicyResourceView[] {
    const copy = structuredClone(base.resources) as { type: string; name: string; props: Record<string, any> }[];
    const target = copy.find((r) => r.name === name);
    if (!target) throw new Error(`stack ${base.stack} has no resource ${name}`);
    change(target.props);
    return copy;
}

const find = (resources: readonly PolicyResourceView[], name: string) => resources.find((r) => r.name === name)!;

describe.each(stackNames())("stack %s as committed", (stack) => {
    it("passes every policy", () => {
        const s = snapshot(stack);
        expect(s.resources.length).toBeGreaterThan(40);
        expect(evaluatePolicies(s.resources, { configuredMode: s.config["cni-compare:mode"], stackName: stack })).toEqual([]);
    });
});

describe("no SSH or Kubernetes API from the internet", () => {
    const vxlan = snapshot("vxlan");

    it("flags an ingress rule that opens SSH or the API to 0.0.0.0/0 or ::/0", () => {
        const ssh = find(
            mutated(vxlan, "cni-vxlan-nodes-ssh-operator", (p) => {
                p.cidrIpv4 = "0.0.0.0/0";
            }),
            "cni-vxlan-nodes-ssh-operator",
        );
        expect(adminPortsFromInternet(ssh.type, ssh.props)).toEqual(["opens SSH (TCP 22) to 0.0.0.0/0: admit only the operator's CIDR (config operatorCidr)"]);
        const api = find(
            mutated(vxlan, "cni-vxlan-nodes-api-operator", (p) => {
                delete p.cidrIpv4;
                p.cidrIpv6 = "::/0";
            }),
            "cni-vxlan-nodes-api-operator",
        );
        expect(adminPortsFromInternet(api.type, api.props)).toEqual([expect.stringContaining("opens the Kubernetes API (TCP 6443) to ::/0")]);
        // The whole stack then fails, naming the rule and the resource.
        const lines = evaluatePolicies(
            mutated(vxlan, "cni-vxlan-nodes-ssh-operator", (p) => {
                p.cidrIpv4 = "0.0.0.0/0";
            }),
            { stackName: "vxlan" },
        );
        expect(lines).toEqual([expect.stringMatching(/^no-admin-ports-from-internet: cni-vxlan-nodes-ssh-operator: opens SSH/)]);
    });

    it("flags all-protocol and port-range rules that include 22 or 6443, not rules beside them", () => {
        const all = { ipProtocol: "-1", cidrIpv4: "0.0.0.0/0" };
        expect(adminPortsFromInternet(INGRESS_RULE, all)).toHaveLength(2);
        expect(adminPortsFromInternet(INGRESS_RULE, { ipProtocol: "tcp", fromPort: 0, toPort: 65535, cidrIpv4: "0.0.0.0/0" })).toHaveLength(2);
        expect(adminPortsFromInternet(INGRESS_RULE, { ipProtocol: "6", fromPort: 6000, toPort: 7000, cidrIpv4: "0.0.0.0/0" })).toEqual([expect.stringContaining("6443")]);
        expect(adminPortsFromInternet(INGRESS_RULE, { ipProtocol: "tcp", fromPort: 80, toPort: 443, cidrIpv4: "0.0.0.0/0" })).toEqual([]);
        expect(adminPortsFromInternet(INGRESS_RULE, { ipProtocol: "udp", fromPort: 22, toPort: 22, cidrIpv4: "0.0.0.0/0" })).toEqual([]);
        expect(adminPortsFromInternet(INGRESS_RULE, { ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: "203.0.113.7/32" })).toEqual([]);
    });

    it("checks aws:ec2/securityGroupRule ingress and inline security-group ingress too", () => {
        const rule = { type: "ingress", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["10.0.0.0/16", "0.0.0.0/0"] };
        expect(adminPortsFromInternet(SECURITY_GROUP_RULE, rule)).toEqual([expect.stringContaining("opens SSH (TCP 22) to 0.0.0.0/0")]);
        expect(adminPortsFromInternet(SECURITY_GROUP_RULE, { ...rule, type: "egress" })).toEqual([]);
        expect(adminPortsFromInternet(SECURITY_GROUP_RULE, { ...rule, cidrBlocks: [], ipv6CidrBlocks: ["::/0"], protocol: "all" })).toHaveLength(2);

        const group = find(
            mutated(vxlan, "cni-vxlan-nodes", (p) => {
                p.ingress = [
                    { protocol: "tcp", fromPort: 80, toPort: 80, cidrBlocks: ["0.0.0.0/0"] },
                    { protocol: "tcp", fromPort: 6443, toPort: 6443, cidrBlocks: ["0.0.0.0/0"] },
                ];
            }),
            "cni-vxlan-nodes",
        );
        expect(group.type).toBe(SECURITY_GROUP);
        expect(adminPortsFromInternet(group.type, group.props)).toEqual([expect.stringMatching(/Kubernetes API \(TCP 6443\) to 0\.0\.0\.0\/0 \(ingress\[1\]\)/)]);
        expect(adminPortsFromInternet(SECURITY_GROUP, find(vxlan.resources, "cni-vxlan-nodes").props)).toEqual([]);
    });
});

describe("hardened instances", () => {
    const calico = snapshot("calico");

    it("IMDSv2: flags instances without httpTokens=required", () => {
        for (const change of [
            (p: any) => {
                delete p.metadataOptions;
            },
            (p: any) => {
                p.metadataOptions.httpTokens = "optional";
            },
        ]) {
            const server = find(mutated(calico, "cni-calico-server", change), "cni-calico-server");
            expect(imdsV2Required(server.type, server.props)).toEqual([expect.stringMatching(/^metadataOptions\.httpTokens is (null|"optional"): set it to "required"/)]);
        }
        expect(imdsV2Required(INSTANCE, { metadataOptions: { httpEndpoint: "disabled" } })).toEqual([]);
        expect(imdsV2Required("aws:ec2/vpc:Vpc", {})).toEqual([]);
    });

    it("encryption: flags an unencrypted or unset root volume and unencrypted extra volumes", () => {
        const unencrypted = find(
            mutated(calico, "cni-calico-loadgen", (p) => {
                p.rootBlockDevice.encrypted = false;
            }),
            "cni-calico-loadgen",
        );
        expect(encryptedVolumes(unencrypted.type, unencrypted.props)).toEqual([expect.stringMatching(/^rootBlockDevice\.encrypted is false: set it to true/)]);
        expect(encryptedVolumes(INSTANCE, { rootBlockDevice: { encrypted: true }, ebsBlockDevices: [{ encrypted: true }, { deviceName: "/dev/sdf" }] })).toEqual([
            "ebsBlockDevices[1].encrypted is null: set it to true",
        ]);
        expect(encryptedVolumes(INSTANCE, {})).toEqual([expect.stringContaining("rootBlockDevice.encrypted is null")]);
        expect(encryptedVolumes("aws:ebs/volume:Volume", { size: 10 })).toEqual(["encrypted is null: set it to true"]);
    });
});

describe("the comparison node pair", () => {
    const hostGw = snapshot("host-gw");

    it("flags nodes that differ in type, image or subnet", () => {
        const differentType = mutated(hostGw, "cni-host-gw-agent", (p) => {
            p.instanceType = "c5.4xlarge";
        });
        expect(comparisonNodePair(differentType).map((v) => v.message)).toEqual([
            'instanceType differs between the nodes (server "c6i.4xlarge", agent "c5.4xlarge"): both nodes must be launched identically',
        ]);
        const otherSubnet = mutated(hostGw, "cni-host-gw-agent", (p) => {
            p.subnetId = "subnet-other";
            p.ami = "ami-other";
        });
        expect(comparisonNodePair(otherSubnet).map((v) => v.message.split(" differs")[0])).toEqual(["ami", "subnetId"]);
        expect(comparisonNodePair(otherSubnet)[0].name).toBe("cni-host-gw-agent");
    });

    it("flags a type that is not 16 vCPU / 32 GiB, and a load generator of another type", () => {
        const big = mutated(hostGw, "cni-host-gw-server", (p) => {
            p.instanceType = "c5n.4xlarge";
        });
        expect(comparisonNodePair(big).map((v) => `${v.name}: ${v.message}`)).toEqual([
            `cni-host-gw-server: instanceType "c5n.4xlarge" is not a 16 vCPU / 32 GiB type; allowed: ${comparisonInstanceTypes.join(", ")}`,
            expect.stringMatching(/^cni-host-gw-agent: instanceType differs/),
            expect.stringMatching(/^cni-host-gw-loadgen: instanceType "c6i.4xlarge" differs from the nodes' "c5n.4xlarge"/),
        ]);
    });

    it("flags a stack without exactly one server and one agent", () => {
        const noAgent = structuredClone(hostGw.resources).filter((r) => r.name !== "cni-host-gw-agent");
        expect(comparisonNodePair(noAgent).map((v) => v.message)).toEqual([
            "a comparison cluster has exactly two nodes, one instance tagged role=server and one role=agent; found 1 tagged role=server, 0 tagged role=agent",
        ]);
        const twoServers = mutated(hostGw, "cni-host-gw-agent", (p) => {
            p.tags.role = "server";
        });
        expect(comparisonNodePair(twoServers)[0].message).toContain("found 2 tagged role=server, 0 tagged role=agent");
    });

    it("does not guess about values Pulumi only knows after creation", () => {
        const unknown = mutated(hostGw, "cni-host-gw-agent", (p) => {
            p.subnetId = unknownDuringPreview;
            p.placementGroup = unknownDuringPreview;
        });
        expect(comparisonNodePair(unknown)).toEqual([]);
        expect(adminPortsFromInternet(INGRESS_RULE, { ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: unknownDuringPreview })).toEqual([]);
        expect(adminPortsFromInternet(INGRESS_RULE, { ipProtocol: "tcp", fromPort: unknownDuringPreview, toPort: unknownDuringPreview, cidrIpv4: "0.0.0.0/0" })).toHaveLength(2);
    });
});

describe("source/dest check follows the network mode", () => {
    it.each(networkModes)("%s: the committed nodes pass, and flipping the check on one node is flagged", (mode) => {
        const s = snapshot(mode);
        const mustBeOff = routesPodIpsNatively(mode);
        expect(sourceDestCheckForMode(mode, s.resources)).toEqual([]);
        const flipped = mutated(s, `cni-${mode}-server`, (p) => {
            p.sourceDestCheck = mustBeOff;
        });
        expect(sourceDestCheckForMode(mode, flipped)).toEqual([
            {
                urn: undefined,
                name: `cni-${mode}-server`,
                message: mustBeOff
                    ? `sourceDestCheck is true (AWS default: on) but mode ${mode} routes pod IPs natively: set it to false or EC2 drops pod traffic`
                    : `sourceDestCheck is off but mode ${mode} encapsulates pod traffic: leave it on`,
            },
        ]);
    });

    it("an unset check counts as on (the AWS default)", () => {
        const unset = mutated(snapshot("host-gw"), "cni-host-gw-agent", (p) => {
            delete p.sourceDestCheck;
        });
        expect(sourceDestCheckForMode("host-gw", unset).map((v) => v.message)).toEqual([expect.stringContaining("sourceDestCheck is null")]);
    });

    it("reads the mode from config, else from the stack name, and says when it cannot", () => {
        expect(networkModeOf("calico-ipip", "dev")).toEqual({ mode: "calico-ipip" });
        expect(networkModeOf(undefined, "host-gw")).toEqual({ mode: "host-gw" });
        expect(networkModeOf("weave", "vxlan")).toEqual({ problem: expect.stringContaining('config cni-compare:mode is "weave", not a network mode; allowed: vxlan, host-gw') });
        expect(networkModeOf(undefined, "dev")).toEqual({ problem: expect.stringContaining('the stack name "dev" is not one of vxlan') });
        // A host-gw stack checked as vxlan fails: its nodes have the check off.
        const hostGw = snapshot("host-gw");
        expect(evaluatePolicies(hostGw.resources, { configuredMode: "vxlan" })).toEqual([
            expect.stringMatching(/^source-dest-check-per-mode: cni-host-gw-agent: sourceDestCheck is off but mode vxlan/),
            expect.stringMatching(/^source-dest-check-per-mode: cni-host-gw-server: sourceDestCheck is off but mode vxlan/),
        ]);
        expect(evaluatePolicies(hostGw.resources, { stackName: "dev" })).toEqual([expect.stringMatching(/^source-dest-check-per-mode: \(stack\): cannot tell the network mode/)]);
    });
});

describe("CrossGuard's preview proxy", () => {
    it("knownValues turns values unknown during preview into a marker instead of throwing", async () => {
        // The sentinels are internal to @pulumi/policy: the proxy throws UnknownValueError on them.
        const proxy = (await import("@pulumi/policy/proxy")) as any;
        const props = proxy.unknownCheckingProxy({
            instanceType: "c6i.4xlarge",
            subnetId: proxy.unknownStringValue,
            vpcSecurityGroupIds: [proxy.unknownStringValue, "sg-1"],
            tags: { role: "agent" },
        });
        expect(() => props.subnetId).toThrow(/can't be known during preview/);
        expect(knownValues(props)).toEqual({
            instanceType: "c6i.4xlarge",
            subnetId: unknownDuringPreview,
            vpcSecurityGroupIds: [unknownDuringPreview, "sg-1"],
            tags: { role: "agent" },
        });
    });
});
