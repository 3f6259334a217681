/**
 * The flow matrix's evaluator: security-group rules judged the way AWS judges them (EC2 user
 * guide, "Security group rules"): a CIDR source matches the packet's source address; a group
 * reference matches only the primary private IPs of the group's members, never pod IPs.
 */
import { describe, expect, it } from "vitest";
import { blockedFlows, flowMatrix, onTheWire, ruleAdmits, type FlowAddresses, type WirePacket } from "../components/flows";
import { networkModes, routesPodIpsNatively, serviceProxyName } from "../components/modes";
import { asSecurityGroupRules, loadGeneratorRuleKey, nodeIngressRules } from "../components/nodePair";

const members = ["10.0.0.11", "10.0.0.12"];
const addresses: FlowAddresses = {
    peerNode: "10.0.0.12",
    peerPod: "10.42.1.7",
    operator: "203.0.113.7",
    internet: "192.0.2.33",
    loadBalancer: "10.0.0.200",
    loadGeneratorPublic: "198.51.100.13",
    loadGeneratorPrivate: "10.0.0.13",
};
/** A stack's addresses, with a load generator at `addresses.loadGeneratorPublic`. */
const stackAddresses = { operatorCidr: "203.0.113.7/32", vpcCidr: "10.0.0.0/16", podCidr: "10.42.0.0/16", nodePort: 30099, loadGeneratorPublicCidr: "198.51.100.13/32" };
const packet = (source: string, protocol: WirePacket["protocol"], port?: number, icmpCode?: number): WirePacket => ({ source, protocol, port, icmpCode, shape: "test" });

describe("how AWS matches a rule", () => {
    it("a self-referencing rule matches a member's primary IP, not a pod IP or another VPC address", () => {
        const self = { name: "self", protocol: "tcp", fromPort: 80, toPort: 80, source: "self" };
        expect(ruleAdmits(self, packet("10.0.0.12", "tcp", 80), members)).toBe(true);
        expect(ruleAdmits(self, packet("10.42.1.7", "tcp", 80), members)).toBe(false);
        expect(ruleAdmits(self, packet("10.0.0.13", "tcp", 80), members)).toBe(false);
    });

    it("a CIDR rule matches the source address, and ports and protocol must match too", () => {
        const pods = { name: "pods", protocol: "tcp", fromPort: 5201, toPort: 5210, source: "10.42.0.0/16" };
        expect(ruleAdmits(pods, packet("10.42.1.7", "tcp", 5210), members)).toBe(true);
        expect(ruleAdmits(pods, packet("10.42.1.7", "tcp", 5211), members)).toBe(false);
        expect(ruleAdmits(pods, packet("10.42.1.7", "udp", 5201), members)).toBe(false);
        expect(ruleAdmits(pods, packet("10.43.0.1", "tcp", 5201), members)).toBe(false);
        expect(ruleAdmits({ ...pods, protocol: "-1", fromPort: undefined, toPort: undefined }, packet("10.42.1.7", "udp", 9), members)).toBe(true);
    });

    it("ICMP rules give the type in fromPort and the code in toPort (-1 is any); IP-in-IP matches on protocol 4", () => {
        const fragNeeded = { name: "pmtu", protocol: "icmp", fromPort: 3, toPort: 4, source: "0.0.0.0/0" };
        expect(ruleAdmits(fragNeeded, packet("192.0.2.1", "icmp", 3, 4), members)).toBe(true);
        expect(ruleAdmits(fragNeeded, packet("192.0.2.1", "icmp", 3, 3), members)).toBe(false);
        expect(ruleAdmits(fragNeeded, packet("192.0.2.1", "icmp", 8, 0), members)).toBe(false);
        expect(ruleAdmits({ ...fragNeeded, toPort: -1 }, packet("192.0.2.1", "icmp", 3, 1), members)).toBe(true);
        expect(ruleAdmits({ name: "ipip", protocol: "4", source: "self" }, packet("10.0.0.12", "4"), members)).toBe(true);
    });
});

describe("flows on the wire", () => {
    const snat = flowMatrix({ mode: "host-gw", nodePort: 30099 }).find((f) => f.from === "peer-node" && f.to === "pod" && f.port === 80)!;

    it("kube-proxy's masqueraded NodePort hop: bare node IP to pod port 80 unencapsulated, the tunnel port otherwise", () => {
        expect(onTheWire(snat, "host-gw", addresses)).toMatchObject({ source: "10.0.0.12", protocol: "tcp", port: 80 });
        expect(onTheWire(snat, "calico", addresses)).toMatchObject({ source: "10.0.0.12", protocol: "tcp", port: 80 });
        expect(onTheWire(snat, "vxlan", addresses)).toMatchObject({ source: "10.0.0.12", protocol: "udp", port: 8472 });
        expect(onTheWire(snat, "calico-vxlan", addresses)).toMatchObject({ source: "10.0.0.12", protocol: "udp", port: 4789 });
        expect(onTheWire(snat, "calico-ipip", addresses)).toMatchObject({ source: "10.0.0.12", protocol: "4", port: undefined });
    });

    it.each(networkModes.filter(routesPodIpsNatively))("%s: the rules before the fix (pod CIDR only) lose the masqueraded NodePort hop and hostNetwork DNS", (mode) => {
        const fixed = nodeIngressRules({ mode, ...stackAddresses });
        const before = fixed.filter((r) => !["snat-frontend", "node-dns-udp", "node-dns-tcp"].includes(r.key));
        const flows = flowMatrix({ mode, nodePort: 30099 });
        const lost = blockedFlows(mode, flows, asSecurityGroupRules(before), addresses, members).map((b) => b.flow.name);
        expect(lost).toEqual([expect.stringContaining(`${serviceProxyName(mode)} forwards to a frontend`), expect.stringContaining("hostNetwork pods"), expect.stringContaining("hostNetwork pods")]);
        // The pod CIDR rule is no substitute: these packets carry the node IP.
        expect(blockedFlows(mode, flows, asSecurityGroupRules(fixed), addresses, members)).toEqual([]);
    });

    it("cilium-native: the masqueraded NodePort hop and its rule name Cilium's eBPF NodePort, which does the SNAT there (k3s runs no kube-proxy), never kube-proxy", () => {
        // Cilium docs, "Kubernetes Without kube-proxy": the eBPF NodePort operates in SNAT mode by default.
        const hop = flowMatrix({ mode: "cilium-native", nodePort: 30099 }).find((f) => f.from === "peer-node" && f.to === "pod" && f.port === 80)!;
        expect(hop.name).toBe("NodePort or NLB traffic Cilium eBPF NodePort forwards to a frontend on the other node (masqueraded to the node IP)");
        const rules = nodeIngressRules({ mode: "cilium-native", operatorCidr: "203.0.113.7/32", vpcCidr: "10.0.0.0/16", podCidr: "10.42.0.0/16", nodePort: 30099 });
        expect(rules.find((r) => r.key === "snat-frontend")!.why).toBe("NodePort traffic Cilium eBPF NodePort masquerades to the peer node IP before forwarding it to a frontend pod here");
        for (const mode of ["cilium", "cilium-native"] as const) {
            const texts = [
                ...flowMatrix({ mode, nodePort: 30099 }).map((f) => f.name),
                ...nodeIngressRules({ mode, operatorCidr: "203.0.113.7/32", vpcCidr: "10.0.0.0/16", podCidr: "10.42.0.0/16", nodePort: 30099 }).map((r) => r.why),
            ];
            expect(
                texts.filter((t) => t.includes("kube-proxy")),
                mode,
            ).toEqual([]);
        }
        // The same packet as kube-proxy's: the forwarding node's IP to the pod's port 80.
        expect(onTheWire(hop, "cilium-native", addresses)).toMatchObject({ source: "10.0.0.12", protocol: "tcp", port: 80 });
    });

    it("the message names the mode, the flow, the packet and its shape", () => {
        const [blocked] = blockedFlows("host-gw", [snat], [], addresses, members);
        expect(blocked.message).toBe(
            'mode host-gw: "NodePort or NLB traffic kube-proxy forwards to a frontend on the other node (masqueraded to the node IP)" arrives as tcp port 80 from 10.0.0.12 (unencapsulated (pod IPs routed natively), source peer-node); no rule of the nodes\' security group admits it',
        );
    });
});

describe("the baselines' flows (issue #14)", () => {
    const rules = (mode: "host" | "bridge") => asSecurityGroupRules(nodeIngressRules({ mode, ...stackAddresses }));

    it.each(["host", "bridge"] as const)("%s: Redis between the nodes arrives as TCP 6379 from the peer's node IP, outside the tunnel; without its rule both Redis flows are lost", (mode) => {
        const flows = flowMatrix({ mode, nodePort: 30099 });
        const redis = flows.filter((f) => f.port === 6379);
        expect(redis.map((f) => [f.from, f.to])).toEqual([
            ["peer-node", "node"],
            ["peer-node", "node"],
        ]);
        for (const flow of redis) expect(onTheWire(flow, mode, addresses)).toMatchObject({ source: "10.0.0.12", protocol: "tcp", port: 6379 });
        const all = rules(mode);
        expect(blockedFlows(mode, flows, all, addresses, members)).toEqual([]);
        const withoutRedis = all.filter((r) => r.name !== "node-tcp-6379");
        expect(blockedFlows(mode, flows, withoutRedis, addresses, members).map((b) => b.flow.name)).toEqual(redis.map((f) => f.name));
    });

    it("the load balancer and clients reach the baselines' frontends on 80 (host) and 8081 (bridge), never on the unused NodePort", () => {
        for (const [mode, port] of [
            ["host", 80],
            ["bridge", 8081],
        ] as const) {
            const fromOutside = flowMatrix({ mode, nodePort: 30099 }).filter(
                (f) => ["operator", "load-balancer", "load-generator-public", "load-generator-private"].includes(f.from) && f.port !== 22 && f.port !== 6443,
            );
            expect(
                fromOutside.map((f) => f.port),
                mode,
            ).toEqual([port, port, port, port]);
            expect(
                rules(mode).filter((r) => r.fromPort === 30099),
                mode,
            ).toEqual([]);
        }
    });

    it("bridge: the benchmark's published-port runs arrive from the peer's node IP on the measurement ports, admitted by the same rules as the host-network runs", () => {
        const flows = flowMatrix({ mode: "bridge", nodePort: 30099 }).filter((f) => f.name.includes("published on the other node"));
        expect(flows.map((f) => `${f.protocol}/${f.port}`).sort()).toEqual(["tcp/11111", "tcp/5201", "tcp/5210", "udp/11111", "udp/5201", "udp/5210"]);
        const all = rules("bridge");
        expect(blockedFlows("bridge", flows, all, addresses, members)).toEqual([]);
        expect(
            blockedFlows(
                "bridge",
                flows,
                all.filter((r) => !r.name.startsWith("bench-")),
                addresses,
                members,
            ),
        ).toHaveLength(flows.length);
        expect(flowMatrix({ mode: "host", nodePort: 30099 }).some((f) => f.name.includes("published on the other node"))).toBe(false);
    });

    it("no kube-proxy NodePort hop in the baselines (no Service in the guestbook's path); every pod-network mode has it", () => {
        const hop = (mode: (typeof networkModes)[number]) => flowMatrix({ mode, nodePort: 30099 }).some((f) => f.from === "peer-node" && f.to === "pod" && f.port === 80);
        expect(hop("host")).toBe(false);
        expect(hop("bridge")).toBe(false);
        for (const mode of networkModes.filter((m) => m !== "host" && m !== "bridge")) expect(hop(mode), mode).toBe(true);
    });
});

describe("the load generator's rule is one of the nodes' rules (issue #21)", () => {
    it.each(networkModes)("%s: its requests through the NLB arrive from its public address, admitted by that rule of nodeIngressRules and by no other", (mode) => {
        const rules = asSecurityGroupRules(nodeIngressRules({ mode, ...stackAddresses }));
        const viaNlb = flowMatrix({ mode, nodePort: 30099 }).filter((f) => f.from === "load-generator-public");
        expect(viaNlb).toHaveLength(1);
        expect(blockedFlows(mode, viaNlb, rules, addresses, members)).toEqual([]);
        const without = rules.filter((r) => r.name !== loadGeneratorRuleKey);
        expect(without).toHaveLength(rules.length - 1);
        expect(blockedFlows(mode, viaNlb, without, addresses, members).map((b) => b.flow.name)).toEqual(viaNlb.map((f) => f.name));
    });

    it("without a load generator there is no such rule, and that public address is not admitted on the frontend port", () => {
        const { loadGeneratorPublicCidr: _, ...withoutLoadGenerator } = stackAddresses;
        for (const mode of networkModes) {
            const rules = nodeIngressRules({ mode, ...withoutLoadGenerator });
            expect(
                rules.map((r) => r.key),
                mode,
            ).not.toContain(loadGeneratorRuleKey);
            const viaNlb = flowMatrix({ mode, nodePort: 30099 }).filter((f) => f.from === "load-generator-public");
            expect(blockedFlows(mode, viaNlb, asSecurityGroupRules(rules), addresses, members), mode).toHaveLength(1);
        }
    });
});
