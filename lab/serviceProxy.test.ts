/**
 * kube-proxy's rule sets as text: chain names by kube-proxy's hash scheme, the rules per Service,
 * the nftables maps. No root: the root test (serviceProxy.root.test.ts) has the kernel accept them.
 */
import { describe, expect, it } from "vitest";
import { serviceCidr } from "../components/settings";
import {
    countIptablesSave,
    countNftJson,
    guestbookFrontendService,
    iptablesRuleSet,
    ipvsUnsupportedReason,
    kubeExtChain,
    kubeSepChain,
    kubeSvcChain,
    labServiceCidr,
    labServices,
    maxLabServices,
    nftablesRuleSet,
    nftEndpointChainBase,
    nftServiceChainBase,
    iptablesTables,
    iptablesJumps,
    labServiceProxyModes,
    type LabService,
    type LabServiceProxyMode,
} from "./serviceProxy";
import { datapathSteps, serviceSteps } from "./datapath";
import { frontendEndpoints, labTarget } from "./lab";
import { labTopology } from "./topology";
import { labTools } from "./tools";
import { targetSchema } from "../bench/targets";
import { LabSession } from "../bench/sessions/lab";

const frontends = [
    { ip: "10.42.0.3", port: 80 },
    { ip: "10.42.1.3", port: 80 },
];
const node = { ip: "10.0.0.11", clusterCidr: "10.42.0.0/16" };
const nodePort = 30080;

const service = (namespace: string, name: string, portName: string, clusterIP: string, port: number, endpoints = frontends): LabService => ({
    namespace,
    name,
    portName,
    protocol: "tcp",
    clusterIP,
    port,
    endpoints,
});

/** The rules of one chain in an iptables-restore text or iptables-save output. */
const rulesOf = (text: string, chain: string) => text.split("\n").filter((l) => l.startsWith(`-A ${chain} `));

describe("kube-proxy's chain names", () => {
    // Names as every cluster shows them: kube-proxy hashes "namespace/name:port" + protocol
    // (pkg/proxy/iptables/proxier.go portProtoHash), so the default Services' chains are the same
    // everywhere: KUBE-SVC-NPX46M4PTMTKRN6Y is default/kubernetes:https, KUBE-SVC-TCOU7JCQXEZGVUNU
    // kube-dns's udp port "dns", KUBE-SVC-ERIFXISQEP7F7OF4 its tcp port "dns-tcp".
    it("iptables: KUBE-SVC- + the first 16 base32 characters of sha256(servicePortName + protocol)", () => {
        expect(kubeSvcChain(service("default", "kubernetes", "https", "10.43.0.1", 443))).toBe("KUBE-SVC-NPX46M4PTMTKRN6Y");
        expect(kubeSvcChain({ ...service("kube-system", "kube-dns", "dns-tcp", "10.43.0.10", 53) })).toBe("KUBE-SVC-ERIFXISQEP7F7OF4");
    });

    it("iptables: KUBE-EXT- shares the Service's hash; KUBE-SEP- hashes the endpoint too, so every endpoint of every Service has its own chain", () => {
        const s = service("guestbook", "frontend", "", "10.43.0.2", 80);
        expect(kubeExtChain(s).slice("KUBE-EXT-".length)).toBe(kubeSvcChain(s).slice("KUBE-SVC-".length));
        const seps = frontends.map((e) => kubeSepChain(s, e));
        expect(new Set(seps).size).toBe(2);
        expect(
            seps.every((c) => /^KUBE-SEP-[A-Z2-7]{16}$/.test(c) && c.length <= 28),
            "iptables chain names are at most 28 characters",
        ).toBe(true);
        expect(kubeSepChain(service("svc-scale", "svc-1", "http", "10.43.1.0", 80), frontends[0])).not.toBe(seps[0]);
    });

    // A k3s cluster's `nft list table ip kube-proxy` shows service-2QRHZV4L-default/kubernetes/tcp/https
    // and its endpoint chain endpoint-MIBO4EMV-default/kubernetes/tcp/https__10.34.4.142/6443
    // (pkg/proxy/nftables/proxier.go hashAndTruncate: 8 base32 characters, "-", the name).
    it("nftables: HASH-namespace/name/protocol/port and HASH-…__ip/port", () => {
        const kubernetes = service("default", "kubernetes", "https", "10.43.0.1", 443, [{ ip: "10.34.4.142", port: 6443 }]);
        expect(nftServiceChainBase(kubernetes)).toBe("2QRHZV4L-default/kubernetes/tcp/https");
        expect(nftEndpointChainBase(kubernetes, kubernetes.endpoints[0])).toBe("MIBO4EMV-default/kubernetes/tcp/https__10.34.4.142/6443");
    });
});

describe("the lab's Services", () => {
    it("the guestbook's NodePort Service and N extra ClusterIP Services, each ClusterIP in k3s's Service range and distinct", () => {
        const services = labServices(nodePort, frontends, 1000);
        expect(services).toHaveLength(1001);
        expect(services[0]).toMatchObject({ namespace: "guestbook", name: "frontend", nodePort });
        expect(services.slice(1).every((s) => s.nodePort === undefined && s.endpoints.length === 2)).toBe(true);
        const ips = services.map((s) => s.clusterIP);
        expect(new Set(ips).size).toBe(ips.length);
        expect(ips.every((ip) => ip.startsWith("10.43.") && ip !== "10.43.0.1" && ip !== "10.43.0.10")).toBe(true);
        expect(labServices(nodePort, frontends, maxLabServices).at(-1)!.clusterIP).toBe("10.43.255.254");
    });

    it("the Service range is k3s's, as the stacks define it", () => {
        expect(labServiceCidr).toBe(serviceCidr);
    });

    it.each([-1, 1.5, maxLabServices + 1, Number.NaN])("refuses %s Services, naming the count and the range", (n) => {
        expect(() => labServices(nodePort, frontends, n)).toThrow(new RegExp(`^services: .* allowed: a whole number from 0 to ${maxLabServices}`));
    });

    it("the guestbook Service is the one the stacks declare (workloads/guestbook.ts)", async () => {
        const { guestbookNamespace, guestbookServices, frontendPort } = await import("../workloads/guestbook");
        expect(guestbookFrontendService).toMatchObject({ namespace: guestbookNamespace, name: guestbookServices.frontend, port: frontendPort });
    });
});

describe("iptables rule set (iptables-restore input)", () => {
    it("per Service: one KUBE-SERVICES rule to its KUBE-SVC chain, a masquerade rule and one rule per endpoint there, two rules per KUBE-SEP chain", () => {
        for (const n of [0, 1, 10]) {
            const services = labServices(nodePort, frontends, n);
            const text = iptablesRuleSet(services, node);
            // +1: the NodePort jump, last.
            expect(rulesOf(text, "KUBE-SERVICES"), `${n} Services`).toHaveLength(n + 2);
            expect(rulesOf(text, "KUBE-SERVICES").at(-1)).toMatch(/-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS$/);
            for (const s of services) {
                expect(text).toContain(`:${kubeSvcChain(s)} - [0:0]`);
                expect(rulesOf(text, kubeSvcChain(s))).toHaveLength(1 + s.endpoints.length);
                for (const e of s.endpoints) expect(rulesOf(text, kubeSepChain(s, e))).toHaveLength(2);
            }
            // nat: 3 KUBE-POSTROUTING + 1 KUBE-MARK-MASQ + NodePort (KUBE-NODEPORTS 1, KUBE-EXT 2, nodeports jump 1) + 8 per Service.
            expect(text.split("\n").filter((l) => l.startsWith("-A ") && !l.startsWith("-A KUBE-F")).length).toBe(4 + 4 + 8 * (n + 1));
        }
    });

    it("endpoints are picked at random: probability 1/2 on the first of two, the last unconditional", () => {
        const [frontend] = labServices(nodePort, frontends, 0);
        const [first, last] = rulesOf(iptablesRuleSet([frontend], node), kubeSvcChain(frontend)).slice(1);
        expect(first).toContain("-m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-");
        expect(last).not.toContain("statistic");
    });

    it("NodePort: KUBE-NODEPORTS → KUBE-EXT (mark for masquerade) → KUBE-SVC; a KUBE-SEP DNATs and marks hairpin traffic", () => {
        const [frontend] = labServices(nodePort, frontends, 0);
        const text = iptablesRuleSet([frontend], node);
        expect(rulesOf(text, "KUBE-NODEPORTS")).toEqual([`-A KUBE-NODEPORTS -m comment --comment guestbook/frontend -m tcp -p tcp --dport ${nodePort} -j ${kubeExtChain(frontend)}`]);
        expect(rulesOf(text, kubeExtChain(frontend))).toEqual([
            `-A ${kubeExtChain(frontend)} -m comment --comment "masquerade traffic for guestbook/frontend external destinations" -j KUBE-MARK-MASQ`,
            `-A ${kubeExtChain(frontend)} -j ${kubeSvcChain(frontend)}`,
        ]);
        expect(rulesOf(text, kubeSepChain(frontend, frontends[1]))).toEqual([
            `-A ${kubeSepChain(frontend, frontends[1])} -m comment --comment guestbook/frontend -s 10.42.1.3 -j KUBE-MARK-MASQ`,
            `-A ${kubeSepChain(frontend, frontends[1])} -m comment --comment guestbook/frontend -m tcp -p tcp -j DNAT --to-destination 10.42.1.3:80`,
        ]);
        expect(rulesOf(text, "KUBE-POSTROUTING").at(-1)).toBe('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully');
    });

    it("over 1000 endpoints kube-proxy drops the per-endpoint comments (largeClusterMode), not the others", () => {
        const small = labServices(nodePort, frontends, 499); // 1000 endpoints
        const large = labServices(nodePort, frontends, 500); // 1002 endpoints
        const sep = (services: LabService[]) => rulesOf(iptablesRuleSet(services, node), kubeSepChain(services[0], frontends[0]))[0];
        expect(sep(small)).toContain("--comment guestbook/frontend");
        expect(sep(large)).not.toContain("--comment");
        expect(rulesOf(iptablesRuleSet(large, node), "KUBE-SERVICES")[0]).toContain('--comment "guestbook/frontend cluster IP"');
    });

    it("the filter table's chains on the per-connection path: KUBE-FORWARD accepts marked and established traffic", () => {
        const text = iptablesRuleSet(labServices(nodePort, frontends, 0), node);
        expect(text.startsWith("*filter\n")).toBe(true);
        expect(rulesOf(text, "KUBE-FORWARD")).toHaveLength(3);
        expect(rulesOf(text, "KUBE-FORWARD")[1]).toContain("-m mark --mark 0x00004000/0x00004000 -j ACCEPT");
    });

    it("whole tables: the node's own rules kept, kube-proxy's jumps first in their chains (prepended, last first), old Service chains gone", () => {
        const before = iptablesTables(
            {
                filter: "*filter\n:INPUT ACCEPT [5:300]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:LAB-SG - [0:0]\n-A INPUT -i eth0 -j LAB-SG\n-A LAB-SG -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
                nat: "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth9 -j MASQUERADE\nCOMMIT\n",
            },
            iptablesRuleSet(labServices(nodePort, frontends, 3), node),
        );
        // What iptables-save would print of it: the same text, as the two tables.
        const [filter, nat] = before.split(/(?=^\*nat$)/m);
        const now = labServices(nodePort, frontends, 1);
        const after = iptablesTables({ filter, nat }, iptablesRuleSet(now, node));
        expect(after).toContain(":INPUT ACCEPT [0:0]\n");
        expect(after).toContain("-A INPUT -i eth0 -j LAB-SG\n-A LAB-SG -p tcp --dport 22 -j ACCEPT\n");
        expect(after).toContain("-A POSTROUTING -o eth9 -j MASQUERADE\n");
        expect(after.match(/^:KUBE-SVC-/gm)).toHaveLength(2);
        expect(after.match(/^:KUBE-SEP-/gm)).toHaveLength(4);
        const inputRules = rulesOf(after, "INPUT");
        const inputJumps = iptablesJumps.filter((j) => j.table === "filter" && j.chain === "INPUT");
        expect(inputRules.slice(0, inputJumps.length).map((r) => r.split(" -j ")[1])).toEqual(inputJumps.map((j) => j.target).reverse());
        expect(inputRules.at(-1)).toBe("-A INPUT -i eth0 -j LAB-SG");
        expect(rulesOf(after, "PREROUTING")).toEqual(['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES']);
        const removed = iptablesTables({ filter: after.split(/(?=^\*nat$)/m)[0], nat: after.split(/(?=^\*nat$)/m)[1] });
        expect(removed).not.toMatch(/KUBE-/);
        expect(removed).toContain("-A LAB-SG -p tcp --dport 22 -j ACCEPT\n");
    });

    it("counts an iptables-save: rules, chains by prefix", () => {
        const text = iptablesRuleSet(labServices(nodePort, frontends, 5), node);
        const counts = countIptablesSave(text);
        expect(counts.chains("KUBE-SVC-")).toBe(6);
        expect(counts.chains("KUBE-SEP-")).toBe(12);
        expect(counts.rulesIn("KUBE-SERVICES")).toBe(7);
    });
});

describe("nftables rule set (nft -f input)", () => {
    it("replaces table ip kube-proxy in one transaction: add, delete, then the whole table", () => {
        const lines = nftablesRuleSet(labServices(nodePort, frontends, 0), node).split("\n");
        expect(lines.slice(0, 3)).toEqual(["add table ip kube-proxy", "delete table ip kube-proxy", 'add table ip kube-proxy { comment "rules for kube-proxy" ; }']);
    });

    it("base chains with kube-proxy's hooks and priorities", () => {
        const text = nftablesRuleSet([], node);
        for (const chain of [
            "filter-prerouting { type filter hook prerouting priority -110 ; }",
            "filter-input { type filter hook input priority -110 ; }",
            "filter-forward { type filter hook forward priority -110 ; }",
            "filter-output { type filter hook output priority -110 ; }",
            "filter-output-post-dnat { type filter hook output priority -90 ; }",
            "nat-prerouting { type nat hook prerouting priority -100 ; }",
            "nat-output { type nat hook output priority -100 ; }",
            "nat-postrouting { type nat hook postrouting priority 100 ; }",
        ]) {
            expect(text).toContain(`add chain ip kube-proxy ${chain}\n`);
        }
        expect(text).toContain("add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips\n");
        expect(text).toContain("add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports\n");
        expect(text).toContain(`add element ip kube-proxy nodeport-ips { ${node.ip} }\n`);
    });

    it("one service-ips element per Service, a service chain choosing an endpoint chain with numgen random mod N, each endpoint chain DNATing", () => {
        const services = labServices(nodePort, frontends, 10);
        const text = nftablesRuleSet(services, node);
        expect(text.split("\n").filter((l) => l.startsWith("add element ip kube-proxy service-ips ")).length).toBe(11);
        const svc = `service-${nftServiceChainBase(services[3])}`;
        const eps = frontends.map((e) => `endpoint-${nftEndpointChainBase(services[3], e)}`);
        expect(text).toContain(`add element ip kube-proxy service-ips { ${services[3].clusterIP} . tcp . 80 : goto ${svc} }\n`);
        expect(text).toContain(`add rule ip kube-proxy ${svc} numgen random mod 2 vmap { 0 : goto ${eps[0]} , 1 : goto ${eps[1]} }\n`);
        expect(text).toContain(`add rule ip kube-proxy ${eps[1]} ip saddr 10.42.1.3 jump mark-for-masquerade\nadd rule ip kube-proxy ${eps[1]} meta l4proto tcp dnat to 10.42.1.3:80\n`);
    });

    it("the NodePort: a service-nodeports element to the external chain, which marks and goes to the service chain", () => {
        const [frontend] = labServices(nodePort, frontends, 0);
        const base = nftServiceChainBase(frontend);
        const text = nftablesRuleSet([frontend], node);
        expect(base).toMatch(/^[A-Z2-7]{8}-guestbook\/frontend\/tcp\/$/);
        expect(text).toContain(`add element ip kube-proxy service-nodeports { tcp . ${nodePort} : goto external-${base} }\n`);
        expect(text).toContain(`add rule ip kube-proxy external-${base} jump mark-for-masquerade\nadd rule ip kube-proxy external-${base} goto service-${base}\n`);
    });

    it("counts nft's JSON listing: chains, rules, service-ips elements", () => {
        const json = JSON.stringify({
            nftables: [
                { metainfo: {} },
                { table: { name: "kube-proxy" } },
                { chain: { name: "services" } },
                { chain: { name: "service-AAAAAAAA-a/b/tcp/p" } },
                { chain: { name: "endpoint-BBBBBBBB-a/b/tcp/p__10.42.0.3/80" } },
                {
                    map: {
                        name: "service-ips",
                        elem: [
                            [{}, {}],
                            [{}, {}],
                        ],
                    },
                },
                { rule: { chain: "services" } },
            ],
        });
        expect(countNftJson(json)).toEqual({ "nft chains": 3, "nft rules": 1, "service-* chains": 1, "endpoint-* chains": 1, "service-ips elements": 2 });
    });
});

describe("IPVS", () => {
    it("says why not when the kernel shows no IPVS, nothing when it does", () => {
        expect(ipvsUnsupportedReason({ procNetIpVs: false, moduleAvailable: false, kernelRelease: "6.1.0-test" })).toBe(
            "this kernel has no IPVS (CONFIG_IP_VS / module ip_vs: /proc/net/ip_vs is absent and /lib/modules/6.1.0-test/modules.dep lists no ip_vs.ko)",
        );
        expect(ipvsUnsupportedReason({ procNetIpVs: true, moduleAvailable: false, kernelRelease: "x" })).toBeUndefined();
        expect(ipvsUnsupportedReason({ procNetIpVs: false, moduleAvailable: true, kernelRelease: "x" })).toBeUndefined();
    });
});

describe("a lab target with a Service proxy", () => {
    const t = labTopology("vxlan", "abc123");

    it("the default run keeps the lab's reduced NodePort rules; a proxy mode builds none (kube-proxy's rule set replaces them)", () => {
        const plain = datapathSteps(t).map((s) => s.argv.join(" "));
        expect(plain.some((l) => l.includes("LAB-NODEPORT"))).toBe(true);
        for (const mode of labServiceProxyModes) {
            const steps = datapathSteps(labTopology("vxlan", "abc123", mode)).map((s) => s.argv.join(" "));
            expect(
                steps.some((l) => l.includes("LAB-NODEPORT") || l.includes("MASQUERADE")),
                mode,
            ).toBe(false);
            expect(steps.length, mode).toBe(plain.length - serviceSteps(t).length);
        }
    });

    it("carries its proxy mode and the frontend pods as endpoints, in its name and in a layout the targets schema accepts", () => {
        const target = labTarget(labTopology("vxlan", "abc123", "nftables"));
        expect(target.name).toBe("lab-vxlan-nftables");
        expect(target.lab?.serviceProxy).toEqual({ mode: "nftables", endpoints: frontendEndpoints(t) });
        expect(frontendEndpoints(t)).toEqual([
            { ip: "10.42.0.3", port: 80 },
            { ip: "10.42.1.3", port: 80 },
        ]);
        expect(targetSchema.safeParse(target).success).toBe(true);
        expect(labTarget(t).lab).not.toHaveProperty("serviceProxy");
        expect(labTarget(t).name).toBe("lab-vxlan");
    });

    it("the schema refuses a proxy mode the lab does not render, naming the field", () => {
        const target = labTarget(labTopology("vxlan", "abc123", "iptables"));
        const bad = { ...target, lab: { ...target.lab, serviceProxy: { mode: "ipvs", endpoints: frontendEndpoints(t) } } };
        const r = targetSchema.safeParse(bad);
        expect(r.success).toBe(false);
        expect(r.error?.issues[0].path).toEqual(["lab", "serviceProxy", "mode"]);
    });

    it("the session has a ServiceProxyControl exactly when the target has a proxy; it refuses a bad count before touching a namespace", async () => {
        expect(new LabSession(labTarget(t), labTarget(t).lab!).serviceProxy).toBeUndefined();
        const target = labTarget(labTopology("vxlan", "abc123", "iptables"));
        const control = new LabSession(target, target.lab!).serviceProxy!;
        expect(control.mode).toBe("iptables");
        // The namespaces of run abc123 do not exist: a count that got past the check would fail differently.
        await expect(control.setServices(-1)).rejects.toThrow(/^target "lab-vxlan-iptables": services -1 is not a Service count; allowed: a whole number from 0 to/);
        await expect(control.setServices(2.5)).rejects.toThrow(/services 2.5 is not a Service count/);
    });

    it("the tools: nft only for the nftables mode, iptables-restore and iptables-save for iptables, each with its Debian package", () => {
        const commands = (modes: LabServiceProxyMode[]) => labTools({ action: "run", modes: ["vxlan"], serviceProxies: modes, bench: {} }).map((tool) => `${tool.command}:${tool.package}`);
        expect(commands([])).not.toContain("nft:nftables");
        expect(commands(["nftables"])).toContain("nft:nftables");
        expect(commands(["iptables"])).toEqual(expect.arrayContaining(["iptables-restore:iptables", "iptables-save:iptables"]));
        expect(commands(["iptables"])).not.toContain("nft:nftables");
    });
});
