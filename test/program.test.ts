/**
 * The resource graph is the contract. Every stack file is evaluated offline under Pulumi mocks
 * and checked against the requirements, mode by mode. `required` below restates the
 * requirements independently of components/modes.ts, so a wrong entry there fails here.
 */
import { execFileSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { evaluateStackInChild, mockKubeconfig, stackNames, testOperatorCidr, type Evaluation } from "../render/evaluate";
import { blockedFlows, flowMatrix, type FlowAddresses } from "../components/flows";
import { awsInputViolations } from "../policy/awsInputRules";
import { readProject, readStackFile, stackMode } from "../components/project";
import { endingWith, named, nodeSecurityGroupRules, ofType, rootScript, stringLeaves } from "./support";

const INSTANCE = "aws:ec2/instance:Instance";
const COMMAND = "command:remote:Command";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";

interface Required {
    sourceDestCheck: boolean;
    flannelBackend: string;
    /** k3s runs kube-proxy, or Cilium replaces it (--disable-kube-proxy). */
    kubeProxy: boolean;
    /** Node-to-node rules beyond k3s's 6443/10250 and the benchmark ports: [protocol, port]. */
    modePorts: [string, number | undefined][];
    podCidrAdmitted: boolean;
    calico?: { encapsulation: string; bgp: string };
    cilium?: { routingMode: string };
    podMtu: number;
    /** How the guestbook is reached, the port its frontends answer on at every node, and the MTU
     * they send with (issue #14: the baselines put the guestbook on the node addresses). */
    guestbook: "pod-network" | "host-network" | "published-ports";
    frontendPort: number;
    frontendMtu: number;
}

/** The pod-network modes: the frontend Service's NodePort, the pod MTU. */
const onPods = (podMtu: number) => ({ podMtu, guestbook: "pod-network" as const, frontendPort: 30099, frontendMtu: podMtu });

/** Issues #2, #13 and #14 and docs/facts.md, written out by hand. */
const required: Record<string, Required> = {
    vxlan: { sourceDestCheck: true, flannelBackend: "vxlan", kubeProxy: true, modePorts: [["udp", 8472]], podCidrAdmitted: false, ...onPods(8951) },
    // Unencapsulated modes also admit, from the peer node's IP, the pod ports the peer itself
    // reaches: the frontend (kube-proxy masquerades NodePort traffic) and CoreDNS (hostNetwork pods).
    "host-gw": {
        sourceDestCheck: false,
        flannelBackend: "host-gw",
        kubeProxy: true,
        modePorts: [
            ["tcp", 80],
            ["udp", 53],
            ["tcp", 53],
        ],
        podCidrAdmitted: true,
        ...onPods(9001),
    },
    // flannel wireguard-native: UDP 51820, 80 bytes overhead (flannel pkg/backend/wireguard).
    wireguard: { sourceDestCheck: true, flannelBackend: "wireguard-native", kubeProxy: true, modePorts: [["udp", 51820]], podCidrAdmitted: false, ...onPods(8921) },
    calico: {
        sourceDestCheck: false,
        flannelBackend: "none",
        kubeProxy: true,
        modePorts: [
            ["tcp", 179],
            ["tcp", 5473],
            ["tcp", 80],
            ["udp", 53],
            ["tcp", 53],
        ],
        podCidrAdmitted: true,
        calico: { encapsulation: "None", bgp: "Enabled" },
        ...onPods(9001),
    },
    "calico-ipip": {
        sourceDestCheck: true,
        flannelBackend: "none",
        kubeProxy: true,
        modePorts: [
            ["tcp", 179],
            ["tcp", 5473],
            ["4", undefined],
        ],
        podCidrAdmitted: false,
        calico: { encapsulation: "IPIP", bgp: "Enabled" },
        ...onPods(8981),
    },
    "calico-vxlan": {
        sourceDestCheck: true,
        flannelBackend: "none",
        kubeProxy: true,
        modePorts: [
            ["tcp", 5473],
            ["udp", 4789],
        ],
        podCidrAdmitted: false,
        calico: { encapsulation: "VXLAN", bgp: "Disabled" },
        ...onPods(8951),
    },
    // Cilium 1.18: VXLAN on UDP 8472, health checks on TCP 4240 and ICMP echo (System Requirements).
    cilium: {
        sourceDestCheck: true,
        flannelBackend: "none",
        kubeProxy: false,
        modePorts: [
            ["tcp", 4240],
            ["icmp", 8],
            ["udp", 8472],
        ],
        podCidrAdmitted: false,
        cilium: { routingMode: "tunnel" },
        ...onPods(8951),
    },
    "cilium-native": {
        sourceDestCheck: false,
        flannelBackend: "none",
        kubeProxy: false,
        modePorts: [
            ["tcp", 4240],
            ["icmp", 8],
            ["tcp", 80],
            ["udp", 53],
            ["tcp", 53],
        ],
        podCidrAdmitted: true,
        cilium: { routingMode: "native" },
        ...onPods(9001),
    },
    // The field report's baselines (docs/field-reports.md §1). k3s keeps flannel VXLAN for its own pods, so
    // the tunnel port stays open and source/dest check stays on; the guestbook's Redis is reached
    // at the peer's node IP on 6379 (the PHP's fixed port). host: hostNetwork, frontends on the
    // image's Apache port 80, sending with the NIC's MTU. bridge: the seed's published port
    // 8081, DNAT'ed by the CNI portmap plugin to pods on flannel's cni0 (pod MTU 8951).
    host: {
        sourceDestCheck: true,
        flannelBackend: "vxlan",
        kubeProxy: true,
        modePorts: [
            ["udp", 8472],
            ["tcp", 6379],
        ],
        podCidrAdmitted: false,
        podMtu: 8951,
        guestbook: "host-network",
        frontendPort: 80,
        frontendMtu: 9001,
    },
    bridge: {
        sourceDestCheck: true,
        flannelBackend: "vxlan",
        kubeProxy: true,
        modePorts: [
            ["udp", 8472],
            ["tcp", 6379],
        ],
        podCidrAdmitted: false,
        podMtu: 8951,
        guestbook: "published-ports",
        frontendPort: 8081,
        frontendMtu: 8951,
    },
};

const stacks = stackNames();
const evaluations = new Map<string, Evaluation>();

beforeAll(async () => {
    // Two at a time: each evaluation is its own process (Pulumi's runtime is process-global).
    const queue = [...stacks];
    await Promise.all(
        [0, 1].map(async () => {
            for (let stack = queue.shift(); stack; stack = queue.shift()) {
                evaluations.set(stack, await evaluateStackInChild(stack));
            }
        }),
    );
});

it("there is one stack file per network mode, named after it; every other stack file is a variant of a mode", () => {
    expect(stacks.filter((stack) => stack in required)).toEqual(Object.keys(required).sort());
    for (const stack of stacks) expect(Object.keys(required), `stacks/Pulumi.${stack}.yaml`).toContain(stackMode(stack));
});

describe.each(stacks)("stack %s", (stack) => {
    const mode = stackMode(stack);
    const want = required[mode];
    const stackFileProxy = readStackFile(readProject(), stack)?.["cni-compare:serviceProxy"];
    const ev = () => evaluations.get(stack)!;
    const instance = (role: string) => endingWith(ev(), INSTANCE, `-${role}`);
    const command = (suffix: string) => endingWith(ev(), COMMAND, suffix);

    it("evaluates without error and reports its mode", () => {
        expect(ev().error, ev().error).toBeUndefined();
        expect(ev().outputs.mode).toBe(mode);
    });

    it("builds two identical hardened nodes and a load generator in one subnet and cluster placement group", () => {
        const [server, agent, loadgen] = ["server", "agent", "loadgen"].map(instance);
        for (const node of [server, agent, loadgen]) {
            expect(node.inputs.instanceType, node.name).toBe("c6i.4xlarge");
            expect(node.inputs.ami, node.name).toBe("ami-0123456789abcdef0");
            expect(node.inputs.subnetId, node.name).toBe(server.inputs.subnetId);
            expect(node.inputs.placementGroup, node.name).toBe(server.inputs.placementGroup);
            expect(node.inputs.metadataOptions, node.name).toMatchObject({ httpTokens: "required" });
            expect(node.inputs.rootBlockDevice, node.name).toMatchObject({ encrypted: true });
        }
        const [placement] = ofType(ev(), "aws:ec2/placementGroup:PlacementGroup");
        expect(placement.inputs.strategy).toBe("cluster");
        const subnets = ofType(ev(), "aws:ec2/subnet:Subnet");
        expect(subnets).toHaveLength(1);
        expect(subnets[0].inputs).toMatchObject({ cidrBlock: "10.0.0.0/24", availabilityZone: "eu-west-1a" });
        expect(ofType(ev(), "aws:ssm/getParameter:getParameter")).toHaveLength(0); // an invoke, not a resource
    });

    it(`source/dest check is ${want.sourceDestCheck ? "on" : "off"} on both nodes`, () => {
        expect(instance("server").inputs.sourceDestCheck).toBe(want.sourceDestCheck);
        expect(instance("agent").inputs.sourceDestCheck).toBe(want.sourceDestCheck);
    });

    it("opens exactly the node-to-node traffic the mode needs", () => {
        const nodeRules = ofType(ev(), INGRESS).filter((r) => r.name.includes("-nodes-"));
        const selfRules = nodeRules.filter((r) => r.inputs.referencedSecurityGroupId !== undefined);
        const opened = selfRules.map((r) => `${r.inputs.ipProtocol}/${r.inputs.fromPort ?? "-"}-${r.inputs.toPort ?? "-"}`).sort();
        const expected = [
            "tcp/6443-6443",
            "tcp/10250-10250",
            "tcp/5201-5210",
            "udp/5201-5210",
            "tcp/11111-11111",
            "udp/11111-11111",
            ...want.modePorts.map(([protocol, port]) => (protocol === "icmp" ? `icmp/${port}-0` : `${protocol}/${port ?? "-"}-${port ?? "-"}`)),
        ].sort();
        expect(opened).toEqual(expected);
        const podCidrRules = nodeRules.filter((r) => r.inputs.cidrIpv4 === "10.42.0.0/16");
        expect(podCidrRules.length).toBe(want.podCidrAdmitted ? 1 : 0);
        if (want.podCidrAdmitted) expect(podCidrRules[0].inputs.ipProtocol).toBe("-1");
    });

    it("never opens SSH or the Kubernetes API to the world; only the operator reaches them", () => {
        const rules = ofType(ev(), INGRESS);
        // The one rule open to the world: ICMP type 3 code 4, which path-MTU discovery needs.
        const world = rules.filter((r) => String(r.inputs.cidrIpv4).endsWith("/0"));
        expect(world.map((r) => [r.inputs.ipProtocol, r.inputs.fromPort, r.inputs.toPort])).toEqual([["icmp", 3, 4]]);
        for (const port of [22, 6443]) {
            const fromOutside = rules.filter((r) => r.inputs.fromPort === port && r.inputs.cidrIpv4 !== undefined);
            expect(fromOutside.length, `port ${port}`).toBeGreaterThan(0);
            for (const rule of fromOutside) expect(rule.inputs.cidrIpv4, rule.name).toBe(testOperatorCidr);
        }
        const nodePortSources = rules
            .filter((r) => r.inputs.fromPort === want.frontendPort && r.inputs.referencedSecurityGroupId === undefined)
            .map((r) => r.inputs.cidrIpv4)
            .sort();
        expect(nodePortSources).toEqual([testOperatorCidr, "10.0.0.0/16", "198.51.100.13/32"].sort());
    });

    // Issue #21: the rule admitting the load generator's public address is one of the node pair's
    // rules. It was the LoadGenerator component's child before; the alias carries its former URN
    // (as the engine builds it: parent type $ type :: name), so `pulumi up` on an existing stack
    // adopts the rule instead of replacing it (Pulumi docs, resource option aliases).
    it("declares the load generator's rule with the node pair's rules, under an alias to the URN it had as the load generator's child", () => {
        const rule = named(ev(), INGRESS, `cni-${stack}-nodes-nodeport-loadgen`);
        expect(rule.parent).toBe(named(ev(), "cni-compare:aws:NodePair", `cni-${stack}`).urn);
        expect(rule.inputs).toMatchObject({ cidrIpv4: "198.51.100.13/32", ipProtocol: "tcp", fromPort: want.frontendPort, toPort: want.frontendPort });
        expect(rule.aliases).toEqual([
            `urn:pulumi:${stack}::cni-compare::cni-compare:aws:LoadGenerator$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::cni-${stack}-loadgen-nodeport-via-nlb`,
        ]);
        // The load generator no longer edits the nodes' group: none of its children is a rule on it.
        const loadGenerator = named(ev(), "cni-compare:aws:LoadGenerator", `cni-${stack}-loadgen`);
        const nodesGroup = endingWith(ev(), "aws:ec2/securityGroup:SecurityGroup", "-nodes");
        expect(
            ofType(ev(), INGRESS)
                .filter((r) => r.parent === loadGenerator.urn && r.dependencies.includes(nodesGroup.urn))
                .map((r) => r.name),
        ).toEqual([]);
    });

    // The flow matrix (components/flows.ts) states what must get through; the rules here are the
    // ones the program declares, wherever it declares them, evaluated the way AWS does.
    const addresses = (): FlowAddresses => ({
        peerNode: "10.0.0.12", // node-2's primary private IP (render/evaluate.ts)
        peerPod: "10.42.1.7", // a pod on node-2
        operator: testOperatorCidr.replace(/\/\d+$/, ""),
        internet: "192.0.2.33",
        loadBalancer: "10.0.0.200", // an NLB address in the nodes' subnet, not a node
        loadGeneratorPublic: (ev().outputs.loadGenerator as any).publicIp, // arrives through the NLB
        loadGeneratorPrivate: (ev().outputs.loadGenerator as any).privateIp,
    });
    const members = ["10.0.0.11", "10.0.0.12"];

    it("admits every flow of the flow matrix, as it arrives on the wire, through the declared security group", () => {
        const flows = flowMatrix({ mode: mode as any, nodePort: 30099 });
        const blocked = blockedFlows(mode as any, flows, nodeSecurityGroupRules(ev()), addresses(), members);
        expect(blocked.map((b) => b.message)).toEqual([]);
    });

    it("declares no rule that the flow matrix does not need (removing any one blocks a flow)", () => {
        const flows = flowMatrix({ mode: mode as any, nodePort: 30099 });
        const rules = nodeSecurityGroupRules(ev());
        const unneeded = rules
            .filter(
                (rule) =>
                    blockedFlows(
                        mode as any,
                        flows,
                        rules.filter((r) => r !== rule),
                        addresses(),
                        members,
                    ).length === 0,
            )
            .map((rule) => rule.name);
        expect(unneeded, "rules no flow needs: a flow is missing from components/flows.ts, or the rule is superfluous").toEqual([]);
    });

    it("sets every AWS input within the limits AWS enforces (policy/awsInputRules.ts)", () => {
        const violations = ev().resources.flatMap((r) => awsInputViolations({ type: r.type, name: r.name, props: r.inputs }).map((v) => `${r.name}: ${v}`));
        expect(violations).toEqual([]);
    });

    it("exports its Service proxy and extra Service count for the runner, and makes that many Services on the server (issue 23)", () => {
        expect(ev().outputs.serviceProxy).toBe(stackFileProxy ?? (want.kubeProxy ? "iptables" : "ebpf"));
        expect(ev().outputs.services).toBe(0);
        const apply = command("-extra-services-apply");
        expect(rootScript(apply)).toContain("count=0\n");
        // The backend (two pods of the frontend image, no new pull) exists before the command runs.
        const backend = named(ev(), DEPLOYMENT, `cni-${stack}-extra-services-backend`);
        expect(apply.dependencies).toContain(backend.urn);
        expect((backend.inputs as any).spec.replicas).toBe(2);
        expect((backend.inputs as any).spec.template.spec.containers[0].image).toBe("us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5");
        expect(
            ofType(ev(), SERVICE).filter((r) => String(r.parent ?? "").includes("ExtraServices")),
            "no Service is a Pulumi resource of its own",
        ).toEqual([]);
    });

    it("installs the same pinned k3s with the mode's flags, and no secret in any script", () => {
        const server = rootScript(command("-server-install"));
        const agent = rootScript(command("-agent-install"));
        for (const script of [server, agent]) {
            expect(script).toContain("INSTALL_K3S_VERSION='v1.33.4+k3s1'");
            expect(script).toContain(`--node-ip="$node_ip"`);
            expect(script).toContain(`--flannel-iface="$iface"`);
            // kube-proxy's mode: the stack file's serviceProxy, else iptables (issue 23).
            const proxyArgs = script.match(/--kube-proxy-arg=\S+/g) ?? [];
            expect(proxyArgs, "kube-proxy args on both nodes exactly when kube-proxy runs").toEqual(want.kubeProxy ? [`--kube-proxy-arg=proxy-mode=${stackFileProxy ?? "iptables"}`] : []);
            expect(script).not.toContain("mock-k3s-token");
        }
        expect(server).toMatch(/timeout 600 sh -s - \\\n {2}server \\/);
        expect(server).toContain(`--flannel-backend=${want.flannelBackend}`);
        expect(server).toContain("--cluster-cidr=10.42.0.0/16");
        expect(server).toContain("--disable=traefik,servicelb");
        expect(server).toContain("--tls-san=198.51.100.11");
        expect(server.includes("--disable-network-policy")).toBe(want.flannelBackend === "none");
        expect(server.includes("--disable-kube-proxy")).toBe(!want.kubeProxy);
        // Installed beside the server, the agent's start may also wait out the server's dpkg lock
        // wait (600 s) and installer (600 s).
        expect(agent).toMatch(/timeout 1200 sh -s - \\\n {2}agent \\/);
        expect(agent).toContain("K3S_URL='https://10.0.0.11:6443'");
        expect(agent).not.toContain("--flannel-backend"); // server-only option
        // The token travels on stdin, as a secret, the same for both nodes.
        for (const install of [command("-server-install"), command("-agent-install")]) {
            expect(install.secretInputs).toContain("stdin");
            expect(install.inputs.stdin).toBe("mock-k3s-token-0123456789abcdef0123456789abcdef\n");
        }
    });

    it("installs the agent beside the server (test/graph.test.ts), and waits (bounded) for Ready nodes after the pod network", () => {
        const server = command("-server-install");
        const agent = command("-agent-install");
        const ready = command("-nodes-ready");
        expect(agent.dependencies).not.toContain(server.urn);
        expect(rootScript(agent)).toContain("K3S_URL='https://10.0.0.11:6443'"); // the server's private address
        expect(ready.dependencies).toContain(agent.urn);
        expect(rootScript(ready)).toContain("kubectl wait --for=condition=Ready node node-1 node-2");
        expect(rootScript(ready)).toContain("deadline=$((SECONDS + 600))");
        if (want.calico) {
            // dependsOn on a component reaches the engine as its children.
            const installation = endingWith(ev(), "kubernetes:operator.tigera.io/v1:Installation", "-installation");
            expect(ready.dependencies).toContain(installation.urn);
        }
        if (want.cilium) {
            expect(ready.dependencies).toContain(endingWith(ev(), "kubernetes:helm.sh/v3:Release", "-cilium-release").urn);
        }
        // The guestbook's children register only after their parent, which waits for this.
        const guestbook = named(ev(), "cni-compare:guestbook:Guestbook", "guestbook");
        expect(guestbook.dependencies).toContain(ready.urn);
    });

    it(want.cilium ? "installs Cilium with kube-proxy replacement, the mode's routing, IPAM from k3s and the API server's address" : "installs no Cilium", () => {
        const releases = ofType(ev(), "kubernetes:helm.sh/v3:Release").filter((r) => r.inputs.chart === "cilium");
        if (!want.cilium) {
            expect(releases).toHaveLength(0);
            return;
        }
        expect(releases).toHaveLength(1);
        const release = releases[0];
        expect(release.inputs).toMatchObject({ chart: "cilium", version: "1.18.12", repositoryOpts: { repo: "https://helm.cilium.io/" }, namespace: "kube-system" });
        expect(release.dependencies).toContain(command("-agent-install").urn);
        const values = release.inputs.values as any;
        expect(values).toMatchObject({
            kubeProxyReplacement: true, // the 1.18 chart refuses "strict"
            k8sServiceHost: "10.0.0.11", // the server's private IP: no kube-proxy to reach the Service VIP
            k8sServicePort: 6443,
            ipam: { mode: "kubernetes" }, // pod CIDRs from k3s --cluster-cidr
            routingMode: want.cilium.routingMode,
            MTU: 9001,
            operator: { replicas: 1 },
            hubble: { enabled: false },
        });
        // eBPF host routing, not the legacy path: the 1.18 chart masquerades IPv4 with
        // bpf.masquerade off, and the agent then falls back to legacy host routing ("BPF host
        // routing requires enable-bpf-masquerade", cilium daemon/cmd/kube_proxy_replacement.go;
        // Documentation/operations/performance/tuning.rst "eBPF Host-Routing" requirements).
        expect(values.enableIPv4Masquerade, "BPF masquerading works on IPv4 masquerading").toBe(true);
        expect(values.bpf, "eBPF masquerading, which BPF host routing requires").toEqual({ masquerade: true });
        expect(values.bpf.hostLegacyRouting, "host legacy routing stays at its default (off)").toBeUndefined();
        if (want.cilium.routingMode === "native") {
            expect(values).toMatchObject({ autoDirectNodeRoutes: true, ipv4NativeRoutingCIDR: "10.42.0.0/16" });
            expect(values.tunnelProtocol).toBeUndefined();
        } else {
            expect(values.tunnelProtocol).toBe("vxlan");
            expect(values.ipv4NativeRoutingCIDR).toBeUndefined();
        }
    });

    it(want.calico ? "installs Calico with the mode's pool, encapsulation, BGP and MTU" : "installs no Calico", () => {
        const releases = ofType(ev(), "kubernetes:helm.sh/v3:Release").filter((r) => r.inputs.chart !== "cilium");
        const installations = ofType(ev(), "kubernetes:operator.tigera.io/v1:Installation");
        if (!want.calico) {
            expect(releases).toHaveLength(0);
            expect(installations).toHaveLength(0);
            return;
        }
        expect(releases).toHaveLength(1);
        expect(releases[0].inputs).toMatchObject({
            chart: "tigera-operator",
            version: "v3.30.3",
            repositoryOpts: { repo: "https://docs.tigera.io/calico/charts" },
            values: { installation: { enabled: false } },
        });
        expect(releases[0].dependencies).toContain(command("-agent-install").urn);
        expect(installations).toHaveLength(1);
        expect(installations[0].dependencies).toContain(releases[0].urn);
        const network = (installations[0].inputs as any).spec.calicoNetwork;
        expect(network).toMatchObject({
            bgp: want.calico.bgp,
            mtu: want.podMtu,
            containerIPForwarding: "Enabled",
            nodeAddressAutodetectionV4: { cidrs: ["10.0.0.0/24"] },
        });
        expect(network.ipPools).toEqual([
            expect.objectContaining({
                cidr: "10.42.0.0/16", // the same range as k3s --cluster-cidr
                encapsulation: want.calico.encapsulation,
                natOutgoing: "Enabled",
            }),
        ]);
    });

    /** The guestbook's objects: everything but the Service-proxy axis's backend (ExtraServices). */
    const guestbookOf = (type: string) => ofType(ev(), type).filter((r) => !String(r.parent ?? "").includes("ExtraServices"));
    const DAEMONSET = "kubernetes:apps/v1:DaemonSet";
    const podSpec = (workload: { inputs: unknown }) => (workload.inputs as any).spec.template.spec;

    it("every guestbook workload: upstream images, the upstream requests, a readiness probe, a selector matching its pods", () => {
        const workloads = [...guestbookOf(DEPLOYMENT), ...guestbookOf(DAEMONSET)];
        expect(workloads.map((w) => (w.inputs as any).metadata.name).sort()).toEqual(["frontend", "redis-follower", "redis-leader"]);
        for (const workload of workloads) {
            const container = podSpec(workload).containers[0];
            expect(container.resources.requests, workload.name).toMatchObject({ cpu: "100m", memory: "100Mi" });
            expect(container.readinessProbe, workload.name).toBeDefined();
            expect(workload.provider, workload.name).toMatch(/pulumi:providers:kubernetes::cni-.*-k8s::/);
            // The selector must match the pod labels or nothing selects the pods.
            expect((workload.inputs as any).spec.selector.matchLabels).toEqual((workload.inputs as any).spec.template.metadata.labels);
        }
        const frontend = workloads.find((w) => (w.inputs as any).metadata.name === "frontend")!;
        expect(podSpec(frontend).containers[0].image).toBe("us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5");
    });

    if (want.guestbook === "pod-network") {
        it("deploys the guestbook on the pod network: 1 leader, 5 followers, 10 frontends spread over both nodes behind NodePort 30099", () => {
            const replicas = Object.fromEntries(guestbookOf(DEPLOYMENT).map((d) => [(d.inputs as any).metadata.name, (d.inputs as any).spec.replicas]));
            expect(replicas).toEqual({ "redis-leader": 1, "redis-follower": 5, frontend: 10 });
            expect(guestbookOf(DAEMONSET)).toHaveLength(0);
            const services = Object.fromEntries(ofType(ev(), SERVICE).map((s) => [(s.inputs as any).metadata.name, (s.inputs as any).spec]));
            expect(Object.keys(services).sort()).toEqual(["frontend", "redis-follower", "redis-leader"]);
            expect(services["redis-leader"].ports[0].port).toBe(6379);
            expect(services.frontend).toMatchObject({ type: "NodePort", ports: [{ port: 80, nodePort: 30099 }] });
            for (const deployment of guestbookOf(DEPLOYMENT)) {
                expect(podSpec(deployment).hostNetwork, deployment.name).toBeUndefined();
                expect(podSpec(deployment).containers[0].ports[0].hostPort, deployment.name).toBeUndefined();
            }
            const frontend = named(ev(), DEPLOYMENT, "frontend");
            expect(podSpec(frontend).topologySpreadConstraints[0]).toMatchObject({ topologyKey: "kubernetes.io/hostname", maxSkew: 1 });
            expect(podSpec(frontend).containers[0].env).toEqual([{ name: "GET_HOSTS_FROM", value: "dns" }]);
        });
    } else {
        const hostNetwork = want.guestbook === "host-network";
        it(`deploys the guestbook on the node addresses (${hostNetwork ? "hostNetwork" : "published hostPorts"}): one frontend per node on ${want.frontendPort}, the leader on node-1 and one follower on node-2, no Service`, () => {
            expect(ofType(ev(), SERVICE)).toEqual([]);
            const leader = named(ev(), DEPLOYMENT, "redis-leader");
            const follower = named(ev(), DEPLOYMENT, "redis-follower");
            const frontend = named(ev(), DAEMONSET, "frontend");
            expect(guestbookOf(DEPLOYMENT)).toHaveLength(2);
            // Pinned by node name; Recreate, because a surge pod would want the same host port.
            for (const [deployment, node] of [
                [leader, "node-1"],
                [follower, "node-2"],
            ] as const) {
                expect((deployment.inputs as any).spec, deployment.name).toMatchObject({ replicas: 1, strategy: { type: "Recreate" } });
                expect(podSpec(deployment).nodeName, deployment.name).toBe(node);
                expect(podSpec(deployment).containers[0].ports, deployment.name).toEqual([{ containerPort: 6379, hostPort: 6379 }]);
            }
            // host: the image's Apache port is the node's; bridge: the seed's 8081 published to 80.
            expect(podSpec(frontend).containers[0].ports).toEqual([{ containerPort: 80, hostPort: want.frontendPort }]);
            for (const workload of [leader, follower, frontend]) {
                expect(podSpec(workload).hostNetwork, workload.name).toBe(hostNetwork);
                expect(podSpec(workload).enableServiceLinks, workload.name).toBe(false);
            }
            // GET_HOSTS_FROM=env: the PHP and the follower's run.sh read these addresses and connect
            // to port 6379 (kubernetes-engine-samples quickstarts/guestbook); no name is resolved.
            expect(podSpec(frontend).containers[0].env).toEqual([
                { name: "GET_HOSTS_FROM", value: "env" },
                { name: "REDIS_LEADER_SERVICE_HOST", value: "10.0.0.11" },
                { name: "REDIS_FOLLOWER_SERVICE_HOST", value: "10.0.0.12" },
            ]);
            expect(podSpec(follower).containers[0].env).toEqual([
                { name: "GET_HOSTS_FROM", value: "env" },
                { name: "REDIS_LEADER_SERVICE_HOST", value: "10.0.0.11" },
            ]);
            expect(podSpec(leader).containers[0].env).toBeUndefined();
            // Created side by side (test/graph.test.ts): Redis replicas retry their master.
            expect(follower.dependencies).not.toContain(leader.urn);
            expect(frontend.dependencies).not.toContain(follower.urn);
        });
    }

    it("destroy cannot be blocked by the cluster: in-cluster objects go with the server, and an unreachable cluster is tolerated", () => {
        const [provider] = ofType(ev(), "pulumi:providers:kubernetes");
        expect(String(provider.inputs.deleteUnreachable)).toBe("true"); // provider config travels as strings
        const server = instance("server");
        for (const r of ev().resources.filter((r) => r.type.startsWith("kubernetes:"))) expect(r.deletedWith, r.name).toBe(server.urn);
    });

    it(`puts an NLB in front of the frontend port ${want.frontendPort} on both nodes, plain TCP 80 by default`, () => {
        const [lb] = ofType(ev(), "aws:lb/loadBalancer:LoadBalancer");
        expect(lb.inputs).toMatchObject({ loadBalancerType: "network", internal: false });
        const [group] = ofType(ev(), "aws:lb/targetGroup:TargetGroup");
        expect(group.inputs).toMatchObject({ targetType: "instance", protocol: "TCP", port: want.frontendPort, healthCheck: { protocol: "TCP", port: String(want.frontendPort) } });
        for (const attachment of ofType(ev(), "aws:lb/targetGroupAttachment:TargetGroupAttachment")) expect(attachment.inputs.port, attachment.name).toBe(want.frontendPort);
        const attached = ofType(ev(), "aws:lb/targetGroupAttachment:TargetGroupAttachment")
            .map((a) => a.inputs.targetId)
            .sort();
        const nodeIds = (ev().outputs.nodes as any[]).map((n) => n.instanceId).sort();
        expect(attached).toEqual(nodeIds);
        const [listener] = ofType(ev(), "aws:lb/listener:Listener");
        expect(listener.inputs).toMatchObject({ protocol: "TCP", port: 80 });
        // AWS caps both names at 32 characters; Pulumi appends "-" and 7 random characters.
        expect(lb.name.length + 8).toBeLessThanOrEqual(32);
        expect(group.name.length + 8).toBeLessThanOrEqual(32);
    });

    it("exports what the benchmark runner reads, with secrets kept secret", () => {
        const out = ev().outputs as any;
        expect(out.endpoint).toMatch(/^http:\/\/cni-.*\.elb\.eu-west-1\.amazonaws\.com$/);
        // nodePort: where the frontends answer on every node (the lab's targets do the same).
        expect(out.nodePort).toBe(want.frontendPort);
        expect(out.frontends).toEqual({ port: want.frontendPort, attachment: want.guestbook, replicas: want.guestbook === "pod-network" ? 10 : 2, mtu: want.frontendMtu });
        expect(out.nodes.map((n: any) => [n.name, n.role])).toEqual([
            ["node-1", "server"],
            ["node-2", "agent"],
        ]);
        for (const node of out.nodes) {
            expect(Object.keys(node).sort()).toEqual(["availabilityZone", "instanceId", "instanceType", "name", "privateIp", "publicIp", "role", "sshHostKey"]);
        }
        // Host keys read at first contact, one per instance, so the runner can pin them.
        const hostKeys = [...out.nodes.map((n: any) => n.sshHostKey), out.loadGenerator.sshHostKey];
        for (const key of hostKeys) expect(key).toMatch(/^ssh-ed25519 AAAA\S+ root@cni-/);
        expect(new Set(hostKeys).size).toBe(3);
        for (const suffix of ["-server-host-key", "-agent-host-key", "-loadgen-host-key"]) {
            expect(rootScript(command(suffix))).toBe("cat /etc/ssh/ssh_host_ed25519_key.pub");
        }
        expect(out.podCidr).toBe("10.42.0.0/16");
        expect(out.mtu).toEqual({ node: 9001, pod: want.podMtu });
        expect(out.versions).toMatchObject({ k3s: "v1.33.4+k3s1", cni: want.calico ? "calico" : want.cilium ? "cilium" : "flannel" });
        if (want.cilium) expect(out.versions.cniVersion).toBe("1.18.12");
        expect(out.loadGenerator).toMatchObject({ publicIp: "198.51.100.13", privateIp: "10.0.0.13" });
        expect(out.kubeconfig).toContain("server: https://198.51.100.11:6443");
        expect(ev().secretOutputs.sort()).toEqual(["kubeconfig", "sshPrivateKey"]);
    });

    it("no secret value appears in any resource input that is not marked secret", () => {
        const secrets = ["mock-k3s-token-0123456789abcdef", "BEGIN OPENSSH PRIVATE KEY", mockKubeconfig.slice(0, 40)];
        const leaks = ev().resources.flatMap((r) =>
            stringLeaves(r.inputs)
                .filter(([at, text]) => secrets.some((s) => text.includes(s)) && !r.secretInputs.some((p) => at === p || at.startsWith(`${p}.`)))
                .map(([at]) => `${r.name}.${at}`),
        );
        expect(leaks).toEqual([]);
        const kubeconfigRead = command("-kubeconfig");
        expect(kubeconfigRead.inputs.logging).toBe("none");
        const [provider] = ofType(ev(), "pulumi:providers:kubernetes");
        expect(provider.secretInputs).toContain("kubeconfig");
    });

    it("node scripts pass shellcheck", () => {
        for (const suffix of ["-server-install", "-agent-install", "-nodes-ready", "-loadgen-tools"]) {
            const script = rootScript(command(suffix));
            try {
                execFileSync("shellcheck", ["--shell=bash", "-"], { input: script, encoding: "utf8" });
            } catch (e: any) {
                throw new Error(`shellcheck ${suffix}:\n${e.stdout}`);
            }
        }
    });
});

describe("config variants", () => {
    it("a certificate ARN switches the listener to TLS 443", async () => {
        const arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab";
        const ev = await evaluateStackInChild("vxlan", { certificateArn: arn });
        const [listener] = ofType(ev, "aws:lb/listener:Listener");
        expect(listener.inputs).toMatchObject({ protocol: "TLS", port: 443, certificateArn: arn });
        expect(ev.outputs.endpoint).toMatch(/^https:\/\//);
    });

    it("an operator's public key is used as is: no key generated, no private key exported", async () => {
        const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorOperatorOperatorOperatorOperator op@laptop";
        const ev = await evaluateStackInChild("host-gw", { sshPublicKey: key, loadGenerator: "false" });
        expect(ofType(ev, "tls:index/privateKey:PrivateKey")).toHaveLength(0);
        expect(ofType(ev, "aws:ec2/keyPair:KeyPair")[0].inputs.publicKey).toBe(key);
        expect(ev.outputs.sshPrivateKey).toBeUndefined();
        // loadGenerator=false: only the two nodes, no output, and no rule for its address.
        expect(ofType(ev, INSTANCE)).toHaveLength(2);
        expect(ev.outputs.loadGenerator).toBeUndefined();
        expect(
            ofType(ev, INGRESS)
                .map((r) => r.name)
                .filter((n) => n.includes("loadgen")),
        ).toEqual([]);
    });

    it("spot=true puts every instance on one-time Spot, all alike; on-demand by default", async () => {
        const ev = await evaluateStackInChild("calico", { spot: "true" });
        const instances = ofType(ev, INSTANCE);
        expect(instances).toHaveLength(3);
        for (const instance of instances) {
            // EC2 API reference, SpotMarketOptions: a one-time request must terminate on interruption.
            expect(instance.inputs.instanceMarketOptions, instance.name).toEqual({
                marketType: "spot",
                spotOptions: { spotInstanceType: "one-time", instanceInterruptionBehavior: "terminate" },
            });
        }
        expect(ofType(evaluations.get("calico")!, INSTANCE).map((i) => i.inputs.instanceMarketOptions)).toEqual([undefined, undefined, undefined]);
    });

    it("invalid config stops the program before any resource is declared", async () => {
        const ev = await evaluateStackInChild("vxlan", { mode: "weave", operatorCidr: "0.0.0.0/0" });
        expect(ev.error).toContain('mode: "weave" is not a network mode; allowed: vxlan, host-gw, wireguard, calico, calico-ipip, calico-vxlan, cilium, cilium-native, host, bridge');
        expect(ev.error).toContain('operatorCidr: "0.0.0.0/0" must have a prefix from /8 to /32');
        expect(ev.resources).toEqual([]);
    });
});
