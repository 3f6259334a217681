/**
 * The lab's plans, read as text: what each mode would build, before anything is built. No root
 * needed; the root-only tests (datapath.root.test.ts, cleanup.root.test.ts) build them for real.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { freeLoopbackPort } from "../bench/sessions/loopback-guestbook";
import { modeFacts, networkModes } from "../components/modes";
import { birdConfig, birdFiles } from "./bird";
import { LabSession } from "../bench/sessions/lab";
import { measurementIds } from "../bench/measure/measurements";
import { labProfile } from "../bench/profiles";
import { parseLabCommand, UsageError } from "./cli";
import { RemainingTime } from "./remainingTime";
import { backgroundLoadArgv } from "./backgroundLoad";
import { datapathSteps, serviceSteps, tunnelDevice, wireguardKeys } from "./datapath";
import type { Step } from "./exec";
import { awsOnlyReason } from "./modes";
import { apacheModuleDir, defaultFrontendWorkers, findPhpModule, frontendDocroot, guestbookProcesses, labHttpConnections, servedDocroot } from "./guestbook";
import { bgpEstablished, labTarget, unsupportedReason } from "./lab";
import { Ledger, orphanedLedgers, processStartTime, readLedgers } from "./ledger";
import { labModeFacts, labModes, labPodMtu } from "./modes";
import { labTopology, topologyNamespaces } from "./topology";
import { labSecurityGroupRules } from "./securityGroup";
import { parse as parseYaml } from "yaml";
import { projectDir } from "../components/project";

const runId = "abc123";
const line = (s: Step) => s.argv.join(" ");
const plan = (mode: (typeof labModes)[number]) => datapathSteps(labTopology(mode, runId)).map(line);
const hasBinary = (name: string) => spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;

describe("lab topology", () => {
    it.each(labModes.map((m) => [m]))("%s: two nodes on one /24 underlay, each owning a /24 of 10.42.0.0/16 like k3s", (mode) => {
        const t = labTopology(mode, runId);
        expect(t.nodes.map((n) => [n.ip, n.podSubnet])).toEqual([
            ["10.0.0.11", "10.42.0.0/24"],
            ["10.0.0.12", "10.42.1.0/24"],
        ]);
        expect(t.loadGenerator.ip).toBe("10.0.0.10");
        expect(t.mtu.node).toBe(9001);
        for (const ns of topologyNamespaces(t)) expect(ns.startsWith(`cnilab-${runId}-${mode}-`), ns).toBe(true);
    });

    it("pod MTUs are modes.ts's podMtu on a 9001-byte NIC (docs/facts.md: 8951 VXLAN, 8981 IPIP, 9001 unencapsulated)", () => {
        expect(Object.fromEntries(labModes.map((m) => [m, labPodMtu(m)]))).toEqual({
            vxlan: 8951,
            "host-gw": 9001,
            calico: 9001,
            "calico-ipip": 8981,
            "calico-vxlan": 8951,
            wireguard: 8921, // flannel's wireguard backend subtracts 80
            cilium: 8951,
            "cilium-native": 9001,
            host: 9001, // the NIC itself
            bridge: 8951, // the stack's containers sit on flannel's cni0 (vxlan backend)
        });
    });

    it("the guestbook crosses the node pair: leader and a frontend on node 1, follower and a frontend on node 2", () => {
        const t = labTopology("vxlan", runId);
        expect(t.workloads.map((w) => `${w.role}@${w.node}:${w.ip}:${w.port}`)).toEqual([
            "redis-leader@0:10.42.0.2:6379",
            "frontend@0:10.42.0.3:80",
            "redis-follower@1:10.42.1.2:6379",
            "frontend@1:10.42.1.3:80",
        ]);
    });

    it("refuses a run id that would not give safe, short names", () => {
        expect(() => labTopology("vxlan", "../etc")).toThrow(/runId: "..\/etc" must be 6 lowercase hex digits/);
    });
});

describe("lab datapath plans", () => {
    it.each(labModes.filter((m) => !awsOnlyReason(m)).map((m) => [m]))("%s: every command names one of the run's namespaces (nothing touches the host)", (mode) => {
        for (const step of datapathSteps(labTopology(mode, runId))) {
            const [tool, flag, ns, ...rest] = step.argv;
            const scoped = (tool === "ip" && flag === "-n") || (tool === "bridge" && flag === "-n") || (tool === "ip" && flag === "netns" && ns === "exec");
            expect(scoped, line(step)).toBe(true);
            const name = tool === "ip" && flag === "netns" ? rest[0] : ns;
            expect(name.startsWith(`cnilab-${runId}-${mode}-`), line(step)).toBe(true);
        }
    });

    it("vxlan: flannel.1 with modes.ts's VNI and port, MTU −50, a /32 per node, onlink route + ARP + FDB for the peer", () => {
        const { vni, port } = modeFacts.vxlan.tunnel!;
        const p = plan("vxlan");
        const n1 = `cnilab-${runId}-vxlan-node1`;
        expect(p).toContain(`ip -n ${n1} link add flannel.1 address 0e:00:0a:2a:00:00 mtu 8951 type vxlan id ${vni} local 10.0.0.11 dev eth0 dstport ${port} nolearning`);
        expect(p).toContain(`ip -n ${n1} addr add 10.42.0.0/32 dev flannel.1`);
        expect(p).toContain(`ip -n ${n1} route add 10.42.1.0/24 via 10.42.1.0 dev flannel.1 onlink`);
        expect(p).toContain(`ip -n ${n1} neigh add 10.42.1.0 lladdr 0e:00:0a:2a:01:00 dev flannel.1 nud permanent`);
        expect(p).toContain(`bridge -n ${n1} fdb append 0e:00:0a:2a:01:00 dev flannel.1 dst 10.0.0.12 self permanent`);
        expect(p).toContain(`ip -n ${n1} addr add 10.42.0.1/24 dev cni0`);
    });

    it("calico-vxlan: vxlan.calico with Calico's VNI and port from modes.ts, calico-style routed veths", () => {
        const { vni, port } = modeFacts["calico-vxlan"].tunnel!;
        const p = plan("calico-vxlan").join("\n");
        expect(p).toContain(`type vxlan id ${vni} local 10.0.0.11 dev eth0 dstport ${port} nolearning`);
        expect(p).toContain("route add 10.42.1.0/24 via 10.42.1.0 dev vxlan.calico onlink");
        expect(p).toMatch(/link add calileader address ee:ee:ee:ee:ee:ee mtu 8951 type veth/);
        expect(p).toContain("route add default via 169.254.1.1 dev eth0");
        expect(p).not.toContain("cni0");
    });

    it("host-gw: the peer's pod subnet via the peer's underlay address, no tunnel device", () => {
        const p = plan("host-gw");
        expect(p).toContain(`ip -n cnilab-${runId}-host-gw-node1 route add 10.42.1.0/24 via 10.0.0.12 dev eth0`);
        expect(p).toContain(`ip -n cnilab-${runId}-host-gw-node2 route add 10.42.0.0/24 via 10.0.0.11 dev eth0`);
        expect(p.join("\n")).not.toMatch(/type (vxlan|ipip)/);
    });

    it("calico and calico-ipip: no static cross-node routes (BIRD installs them); ipip configures tunl0 at MTU −20", () => {
        expect(plan("calico").join("\n")).not.toMatch(/route add 10\.42\.\d\.0\/24/);
        expect(plan("calico").join("\n")).not.toMatch(/type (vxlan|ipip)/);
        const ipip = plan("calico-ipip");
        expect(ipip).toContain(`ip -n cnilab-${runId}-calico-ipip-node1 link set tunl0 mtu 8981 up`);
        expect(ipip).toContain(`ip -n cnilab-${runId}-calico-ipip-node1 addr add 10.42.0.0/32 dev tunl0`);
        expect(ipip.join("\n")).not.toMatch(/route add 10\.42\.\d\.0\/24/);
    });

    it("cluster modes: a kube-proxy-style NodePort on every node, half the connections to each frontend, masqueraded", () => {
        const rules = serviceSteps(labTopology("host-gw", runId))
            .map(line)
            .filter((l) => l.includes("node1 "));
        const ipt = (rest: string) => `ip netns exec cnilab-${runId}-host-gw-node1 iptables -w 5 -t nat ${rest}`;
        expect(rules).toEqual([
            ipt("-N LAB-NODEPORT"),
            ipt("-A PREROUTING -p tcp -m addrtype --dst-type LOCAL --dport 30099 -j LAB-NODEPORT"),
            ipt("-A OUTPUT -p tcp -m addrtype --dst-type LOCAL --dport 30099 -j LAB-NODEPORT"),
            ipt("-A LAB-NODEPORT -j MARK --set-xmark 0x4000/0x4000"),
            ipt("-A LAB-NODEPORT -p tcp -m statistic --mode random --probability 0.50000 -j DNAT --to-destination 10.42.0.3:80"),
            ipt("-A LAB-NODEPORT -p tcp -j DNAT --to-destination 10.42.1.3:80"),
            ipt("-A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE"),
        ]);
    });

    it("bridge: Docker's docker0 and published ports (8081 → frontend:80, 6379 → redis) through DNAT; host: no pods, no NAT", () => {
        const p = plan("bridge").join("\n");
        expect(p).toContain("addr add 172.17.0.1/16 dev docker0");
        expect(p).toContain("-A DOCKER -p tcp --dport 8081 -j DNAT --to-destination 172.17.0.3:80");
        expect(p).toContain("-A DOCKER -p tcp --dport 6379 -j DNAT --to-destination 172.17.0.2:6379");
        expect(p).toContain("-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE");
        // Docker with --userland-proxy=false puts each endpoint's host veth in hairpin mode (moby
        // libnetwork drivers/bridge CreateEndpoint); k3s's flannel CNI delegates with hairpinMode true.
        for (const mode of ["bridge", "vxlan", "host-gw"] as const) {
            const pods = labTopology(mode, runId).workloads.filter((w) => w.hostInterface);
            const text = plan(mode).join("\n");
            for (const w of pods) expect(text, `${mode}: ${w.hostInterface}`).toContain(`link set ${w.hostInterface} type bridge_slave hairpin on`);
        }
        const host = datapathSteps(labTopology("host", runId));
        // Its only netfilter rules are the stack's security group (mangle), never NAT.
        expect(host.filter((s) => s.argv[4] === "iptables" && s.argv.includes("nat")).map(line), "no NAT rules").toEqual([]);
        expect(host.filter((s) => /-node\d-/.test(line(s))).map(line), "no pod namespaces").toEqual([]);
        expect(labTopology("host", runId).workloads.every((w) => w.netns.endsWith("-node1") || w.netns.endsWith("-node2"))).toBe(true);
    });

    it("names the tunnel device each plugin creates", () => {
        expect(Object.fromEntries(networkModes.map((m) => [m, tunnelDevice(labTopology(m, runId)) ?? null]))).toEqual({
            vxlan: "flannel.1",
            "host-gw": null,
            calico: null,
            "calico-ipip": "tunl0",
            "calico-vxlan": "vxlan.calico",
            wireguard: "flannel-wg",
            cilium: null, // never built in the lab
            "cilium-native": null,
            host: null,
            bridge: null,
        });
    });

    it("a mode the kernel cannot build is skipped with the reason (e.g. no ipip module)", () => {
        const all = { vxlan: true, ipip: true, wireguard: true };
        expect(unsupportedReason("calico-ipip", { ...all, ipip: false })).toMatch(/no IP-in-IP tunnel support \(CONFIG_NET_IPIP/);
        expect(unsupportedReason("vxlan", { ...all, vxlan: false })).toMatch(/no VXLAN support/);
        expect(unsupportedReason("wireguard", { ...all, wireguard: false })).toMatch(/no WireGuard support \(CONFIG_WIREGUARD/);
        expect(unsupportedReason("calico", { vxlan: false, ipip: false, wireguard: false })).toBeUndefined();
    });

    it("Cilium is AWS only, whatever the kernel: its datapath is eBPF its agent loads, and no stand-in is built", () => {
        for (const mode of ["cilium", "cilium-native"] as const) {
            expect(unsupportedReason(mode, { vxlan: true, ipip: true, wireguard: true })).toMatch(/^AWS only: Cilium's datapath is eBPF programs/);
            expect(() => datapathSteps(labTopology(mode, runId))).toThrow(/AWS only/);
        }
    });
});

describe("lab security group", () => {
    /** Each ingress rule on a stack's node security group as its snapshot declares it
     * (snapshots/<mode>/resources.yaml; render/snapshot.test.ts keeps it equal to the program). */
    const declaredOnAws = (mode: string): string[] => {
        const { resources } = parseYaml(readFileSync(path.join(projectDir, "snapshots", mode, "resources.yaml"), "utf8")) as { resources: { type: string; inputs: any; dependsOn?: string[] }[] };
        const group = `aws:ec2/securityGroup:SecurityGroup::cni-${mode}-nodes`;
        return resources
            .filter((r) => r.type === "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule" && r.dependsOn?.includes(group))
            .map((r) => `${r.inputs.ipProtocol} ${r.inputs.fromPort ?? "-"}-${r.inputs.toPort ?? "-"} from ${r.inputs.referencedSecurityGroupId ? "self" : "a CIDR"}: ${r.inputs.description}`)
            .sort();
    };

    it.each(networkModes)("%s: the lab enforces every rule the stack declares on its nodes' security group, the load generator's included (issue #21)", (mode) => {
        const enforced = labSecurityGroupRules(labTopology(mode, runId))
            .map((r) => `${r.protocol} ${r.fromPort ?? "-"}-${r.toPort ?? "-"} from ${r.source === "self" ? "self" : "a CIDR"}: ${r.why}`)
            .sort();
        expect(enforced).toEqual(declaredOnAws(mode));
    });
});

describe("lab WireGuard (flannel wireguard-native)", () => {
    it("derives each node's key pair; the public key is the one `wg pubkey` computes", (ctx) => {
        const t = labTopology("wireguard", runId);
        const keys = t.nodes.map((n) => wireguardKeys(t, n));
        expect(keys[0].privateKey).not.toBe(keys[1].privateKey);
        if (!hasBinary("wg")) return ctx.skip("wireguard-tools (wg) is not installed");
        for (const key of keys) {
            const pub = spawnSync("wg", ["pubkey"], { input: key.privateKey, encoding: "utf8" });
            expect(pub.stdout.trim()).toBe(key.publicKey);
        }
    });

    it("flannel-wg on each node: MTU 9001 − 80, UDP 51820, the peer's pod subnet as allowed IPs, the pod range through it", () => {
        const t = labTopology("wireguard", runId);
        const node1 = plan("wireguard").filter((l) => l.includes("node1"));
        expect(node1).toContain("ip -n cnilab-abc123-wireguard-node1 link add flannel-wg mtu 8921 type wireguard");
        const wg = node1.find((l) => l.includes("wg set"))!;
        expect(wg).toContain(`listen-port 51820`);
        expect(wg).toContain(`peer ${wireguardKeys(t, t.nodes[1]).publicKey} endpoint 10.0.0.12:51820 allowed-ips 10.42.1.0/24`);
        expect(node1).toContain("ip -n cnilab-abc123-wireguard-node1 route add 10.42.0.0/16 dev flannel-wg scope link");
    });
});

describe("lab BIRD configuration", () => {
    const dir = "/run/cni-lab/cnilab-abc123";

    it.each(["calico", "calico-ipip"] as const)("%s: one iBGP mesh session to the peer, own /24 announced as a blackhole", (mode) => {
        const t = labTopology(mode, runId);
        const conf = birdConfig(t, t.nodes[0], birdFiles(dir, t, t.nodes[0]));
        expect(conf).toContain("protocol bgp Mesh_10_0_0_12 {");
        expect(conf).toContain("local 10.0.0.11 as 64512;");
        expect(conf).toContain("neighbor 10.0.0.12 as 64512;");
        expect(conf).toContain("route 10.42.0.0/24 blackhole;");
        expect(conf).toContain("if ( net = 10.42.0.0/24 ) then accept;");
        const viaTunnel = 'if ( source = RTS_BGP ) then { onlink = true; ifname = "tunl0"; gw = bgp_next_hop; }';
        if (mode === "calico-ipip") expect(conf).toContain(viaTunnel);
        else expect(conf).not.toContain("tunl0");
    });

    it.skipIf(!hasBinary("bird"))("both configurations parse with bird -p (bird2 installed by scripts/install-deps.sh)", () => {
        const tmp = mkdtempSync(`${tmpdir()}/lab-bird-`);
        try {
            for (const mode of ["calico", "calico-ipip"] as const) {
                const t = labTopology(mode, runId);
                for (const node of t.nodes) {
                    const files = birdFiles(tmp, t, node);
                    writeFileSync(files.config, birdConfig(t, node, files));
                    const r = spawnSync("bird", ["-p", "-c", files.config], { encoding: "utf8" });
                    expect(r.status, `${mode} ${node.name}: ${r.stderr}`).toBe(0);
                }
            }
        } finally {
            rmSync(tmp, { recursive: true, force: true });
        }
    });

    it("reads birdc's Established state only from the mesh peer's line", () => {
        const t = labTopology("calico", runId);
        const out = [
            "BIRD 2.0.12 ready.",
            "Name       Proto      Table      State  Since         Info",
            "device1    Device     ---        up     18:40:28.380",
            "Mesh_10_0_0_12 BGP        ---        up     18:40:29.246  Established",
        ].join("\n");
        expect(bgpEstablished(out, t.nodes[1])).toBe(true);
        expect(bgpEstablished(out.replace("Established", "Connect"), t.nodes[1])).toBe(false);
        expect(bgpEstablished(out, t.nodes[0])).toBe(false);
    });
});

describe("lab guestbook", () => {
    it("the follower replicates the leader; frontends are Apache + mod_php with keep-alive, N prefork children and the upstream Service env", () => {
        const t = labTopology("calico", runId);
        const procs = guestbookProcesses(t, "/run/x", 3, "/usr/lib/apache2/modules/libphp8.2.so");
        expect(procs.map((p) => p.workload.role)).toEqual(["redis-leader", "redis-follower", "frontend", "frontend"]);
        expect(procs[1].argv.join(" ")).toContain("--replicaof 10.42.0.2 6379");
        expect(procs[0].argv).not.toContain("--replicaof");
        const config = `/run/x/calico-node1-fe-apache.conf`;
        expect(procs[2].argv).toEqual(["apache2", "-f", config, "-D", "FOREGROUND"]);
        const text = procs[2].files![config].split("\n");
        // The directives that make it the upstream frontend's server: prefork + mod_php, keep-alive as Debian ships it.
        for (const line of [
            "LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so",
            "LoadModule php_module /usr/lib/apache2/modules/libphp8.2.so",
            "Listen 10.42.0.3:80",
            "KeepAlive On",
            "MaxKeepAliveRequests 100",
            "MaxRequestWorkers 3",
            "SetEnv REDIS_LEADER_SERVICE_HOST 10.42.0.2",
            "SetEnv REDIS_FOLLOWER_SERVICE_HOST 10.42.1.2",
            "    SetHandler application/x-httpd-php",
        ]) {
            expect(text, `apache config line ${line}`).toContain(line);
        }
        expect(() => guestbookProcesses(t, "/run/x", 0)).toThrow(/--workers: 0 must be a whole number from 1 to 64/);
    });

    it.skipIf(!hasBinary("apache2") || !existsSync(apacheModuleDir))("the frontend's Apache config passes apache2 -t (apache2 and libapache2-mod-php from scripts/install-deps.sh)", () => {
        const tmp = mkdtempSync(`${tmpdir()}/lab-apache-`);
        try {
            const t = labTopology("vxlan", runId);
            const fe = guestbookProcesses(t, tmp, 4, findPhpModule()).find((p) => p.workload.role === "frontend")!;
            // The document root is a per-run copy under /run that www-data can traverse.
            expect(Object.keys(fe.files!)).toContain(`${servedDocroot(runId)}/guestbook.php`);
            for (const [file, text] of Object.entries(fe.files!)) {
                mkdirSync(path.dirname(file), { recursive: true });
                writeFileSync(file, text);
            }
            const r = spawnSync("apache2", ["-t", "-f", fe.argv[2]], { encoding: "utf8" });
            expect(r.status, r.stderr).toBe(0);
            expect(r.stderr).toMatch(/Syntax OK/);
        } finally {
            rmSync(tmp, { recursive: true, force: true });
            rmSync(servedDocroot(runId), { recursive: true, force: true });
        }
    });

    it("a frontend has as many Apache children as the lab's wrk opens connections (one keep-alive connection holds one child)", () => {
        expect(defaultFrontendWorkers).toBeGreaterThanOrEqual(labHttpConnections);
    });

    it("bridge: frontends reach Redis through the ports published on the nodes", () => {
        const procs = guestbookProcesses(labTopology("bridge", runId), "/run/x");
        const text = Object.values(procs[2].files!)[0];
        expect(text).toContain("SetEnv REDIS_LEADER_SERVICE_HOST 10.0.0.11");
        expect(text).toContain("SetEnv REDIS_FOLLOWER_SERVICE_HOST 10.0.0.12");
        expect(procs[1].argv.join(" ")).toContain("--replicaof 10.0.0.11 6379");
    });

    it.skipIf(!hasBinary("php") || !hasBinary("redis-server"))("guestbook.php speaks the upstream API on loopback: set → Updated, get → the value, JSON-escaped", async () => {
        const port = await freeLoopbackPort();
        const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
        const redisAnswers = () => spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout?.trim() === "PONG";
        for (let i = 0; i < 100 && !redisAnswers(); i++) await new Promise((r) => setTimeout(r, 100));
        expect(redisAnswers(), `redis-server on 127.0.0.1:${port} did not answer within 10 s`).toBe(true);
        const env = {
            ...process.env,
            REDIS_LEADER_SERVICE_HOST: "127.0.0.1",
            REDIS_LEADER_SERVICE_PORT: String(port),
            REDIS_FOLLOWER_SERVICE_HOST: "127.0.0.1",
            REDIS_FOLLOWER_SERVICE_PORT: String(port),
        };
        // Its own process group: PHP's workers outlive their parent, so the whole group is stopped.
        const phpPort = await freeLoopbackPort();
        // PHP's built-in server only hosts the script here; the lab serves it with Apache (guestbook.root.test.ts).
        const php = spawn("php", ["-q", "-S", `127.0.0.1:${phpPort}`, "-t", frontendDocroot], { env, stdio: "ignore", detached: true });
        try {
            const base = `http://127.0.0.1:${phpPort}/guestbook.php`;
            let ready = false;
            for (let i = 0; i < 50 && !ready; i++) {
                // Ready means PHP answers and reaches Redis (an error body also comes with 200).
                ready = await fetch(`${base}?cmd=get&key=guestbook`).then(
                    async (r) => r.ok && !(await r.text()).includes("error"),
                    () => false,
                );
                if (!ready) await new Promise((r) => setTimeout(r, 100));
            }
            const set = await (await fetch(`${base}?cmd=set&key=guestbook&value=${encodeURIComponent('a,"b"')}`)).text();
            expect(set).toBe('{"message": "Updated"}');
            const get = await (await fetch(`${base}?cmd=get&key=guestbook`)).text();
            expect(get).toBe('{"data": "a,\\"b\\""}');
            expect(JSON.parse(get)).toEqual({ data: 'a,"b"' });
        } finally {
            process.kill(-php.pid!, "SIGTERM");
            redis.kill("SIGTERM");
        }
    });
});

describe("lab target for the runner", () => {
    it("is a platform-lab Target with host, pod and load-generator namespaces and one frontend URL per node", () => {
        const target = labTarget(labTopology("vxlan", runId));
        expect(target).toMatchObject({ name: "lab-vxlan", platform: "lab", mode: "vxlan", nodePort: 30099, podCidr: "10.42.0.0/16", mtu: { node: 9001, pod: 8951 } });
        expect(target.lab!.hosts).toEqual([
            { netns: `cnilab-${runId}-vxlan-node1`, ip: "10.0.0.11" },
            { netns: `cnilab-${runId}-vxlan-node2`, ip: "10.0.0.12" },
        ]);
        expect(target.lab!.pods.map((p) => `${p.node}:${p.ip}`)).toEqual(["0:10.42.0.2", "0:10.42.0.3", "1:10.42.1.2", "1:10.42.1.3"]);
        expect(target.lab!.loadGenerator).toEqual({ netns: `cnilab-${runId}-vxlan-loadgen`, ip: "10.0.0.10" });
        expect(target.lab!.frontendUrls).toEqual(["http://10.0.0.11:30099", "http://10.0.0.12:30099"]);
    });

    it("host: the node namespaces stand in for pods (host networking); bridge: the frontend containers, reached at their node's address (published ports)", () => {
        const host = labTarget(labTopology("host", runId));
        expect(host.lab!.pods).toEqual([
            { netns: `cnilab-${runId}-host-node1`, ip: "10.0.0.11", node: 0 },
            { netns: `cnilab-${runId}-host-node2`, ip: "10.0.0.12", node: 1 },
        ]);
        // The host stack's frontends answer on Apache's 80 (components/modes.ts baselineFrontendPorts).
        expect(host.lab!.frontendUrls).toEqual(["http://10.0.0.11:80", "http://10.0.0.12:80"]);
        const bridge = labTarget(labTopology("bridge", runId));
        expect(bridge.lab!.pods).toEqual([
            { netns: `cnilab-${runId}-bridge-node1-fe`, ip: "10.0.0.11", node: 0 },
            { netns: `cnilab-${runId}-bridge-node2-fe`, ip: "10.0.0.12", node: 1 },
        ]);
        expect(bridge.nodePort).toBe(labModeFacts.bridge.servicePort);
    });

    it("exports frontends as a stack does (index.ts): port, attachment, replicas, MTU, so the runner labels the HTTP path alike", () => {
        expect(labTarget(labTopology("vxlan", runId)).frontends).toEqual({ port: 30099, attachment: "pod-network", replicas: 2, mtu: 8951 });
        expect(labTarget(labTopology("host", runId)).frontends).toEqual({ port: 80, attachment: "host-network", replicas: 2, mtu: 9001 });
        expect(labTarget(labTopology("bridge", runId)).frontends).toEqual({ port: labModeFacts.bridge.servicePort, attachment: "published-ports", replicas: 2, mtu: 8951 });
    });
});

describe("lab command line", () => {
    it("defaults: every mode, the lab's short benchmark settings, host as the baseline", () => {
        const c = parseLabCommand([], new Date("2026-01-02T03:04:05Z"));
        expect(c.action).toBe("run");
        expect(c.modes).toEqual([...labModes]);
        expect(c.outDir).toMatch(/results\/lab-2026-01-02T03-04-05$/);
        const { budgetSeconds, ...bench } = labProfile;
        expect(c.bench).toMatchObject({ ...bench, baseline: "lab-host" });
        // The lab holds the budget (building and removing count), and hands the runner what is left.
        expect(c.bench).not.toHaveProperty("budgetSeconds");
        expect(c.budgetSeconds).toBe(budgetSeconds);
    });

    it("--modes takes a list or all, and names the bad value and the allowed ones", () => {
        expect(parseLabCommand(["--modes", "vxlan, calico"]).modes).toEqual(["vxlan", "calico"]);
        expect(parseLabCommand(["--modes", "all"]).modes).toEqual([...labModes]);
        expect(() => parseLabCommand(["--modes", "vxlan,flannel"])).toThrow(
            '--modes: "flannel" is not allowed; use all, or a comma-separated list of vxlan, host-gw, wireguard, calico, calico-ipip, calico-vxlan, cilium, cilium-native, host, bridge',
        );
        expect(() => parseLabCommand(["--modes", "host,host"])).toThrow('--modes: "host" is listed twice');
        // Named on its own, a mode the lab never builds is refused now; "all" skips it with the reason.
        expect(() => parseLabCommand(["--modes", "vxlan,cilium"])).toThrow(/^--modes: cilium: AWS only: Cilium's datapath/);
        expect(() => parseLabCommand(["--modes", "weave"])).toThrow(UsageError);
        expect(parseLabCommand(["--modes", "calico"]).bench.baseline).toBeUndefined();
    });

    it("rejects bad numbers naming the flag, and unknown flags", () => {
        expect(() => parseLabCommand(["--pin", "yes"])).toThrow('--pin: "yes" is not allowed; use one of on, off');
        expect(parseLabCommand(["--pin", "off"]).bench.pinCpus).toBe(false);
        expect(parseLabCommand([]).bench).toMatchObject({ pinCpus: true, cases: [...labProfile.cases] });
        expect(parseLabCommand(["--measurements", "iperf3"]).bench.cases, "naming measurements runs all their ordinary cases").toBeUndefined();
        expect(() => parseLabCommand(["--duration", "0"])).toThrow('--duration: "0" must be a whole number from 1 to 600');
        expect(() => parseLabCommand(["--repetitions", "two"])).toThrow('--repetitions: "two" must be a whole number');
        expect(() => parseLabCommand(["--workers", "1.5"])).toThrow("--workers");
        expect(() => parseLabCommand(["--cleanup", "--verify"])).toThrow("--cleanup takes no other option; remove --verify");
        expect(() => parseLabCommand(["--bogus"])).toThrow(UsageError);
        expect(parseLabCommand(["--cleanup"]).action).toBe("cleanup");
    });
});

describe('the lab\'s schedule: interleaved rounds within a budget (docs/lab.md "The method under load")', () => {
    it("by default: interleaved, as many rounds as the 5-minute budget holds, no disturbance", () => {
        const c = parseLabCommand([]);
        expect(c.budgetSeconds).toBe(300);
        expect(c.backgroundLoadPercent).toBeUndefined();
        expect(c.bench).toMatchObject({ schedule: "interleaved", repetitions: labProfile.repetitions, durationSeconds: 1 });
        expect(c.bench.seed).toBeUndefined();
    });

    it("--repetitions fixes the rounds and drops the budget; --budget with it is refused naming both", () => {
        const c = parseLabCommand(["--repetitions", "8", "--seed", "42"]);
        expect(c.budgetSeconds).toBeUndefined();
        expect(c.bench).toMatchObject({ repetitions: 8, seed: 42 });
        expect(parseLabCommand(["--budget", "600"]).budgetSeconds).toBe(600);
        expect(() => parseLabCommand(["--budget", "600", "--repetitions", "8"])).toThrow(/^--budget and --repetitions: the rounds are either fixed/);
        expect(() => parseLabCommand(["--budget", "30"])).toThrow('--budget: "30" must be a whole number from 60 to 86400');
    });

    it("--background-load P starts stress-ng at P % of one CPU in 10-ms busy slices, bounded in time", () => {
        expect(parseLabCommand(["--background-load", "50"]).backgroundLoadPercent).toBe(50);
        expect(() => parseLabCommand(["--background-load", "0"])).toThrow('--background-load: "0" must be a whole number from 1 to 100');
        expect(backgroundLoadArgv(50, 3900)).toEqual(["stress-ng", "--cpu", "1", "--cpu-load", "50", "--cpu-load-slice", "10", "--timeout", "3900s", "--quiet"]);
        expect(() => backgroundLoadArgv(0, 10)).toThrow("background load: 0 is not allowed");
    });

    // stress-ng(1): --cpu-load P holds P % of a CPU by alternating busy slices and sleeps; this
    // checks the real tool does (a 3-s run's user time is about half its wall time, not all of it).
    it.skipIf(spawnSync("stress-ng", ["--version"]).error !== undefined)("the real stress-ng keeps one CPU about half busy, not fully", () => {
        const r = spawnSync("bash", ["-c", `TIMEFORMAT=%U; time ${backgroundLoadArgv(50, 3).join(" ")}`], { encoding: "utf8", timeout: 20_000 });
        const userSeconds = Number(r.stderr.trim().split("\n").pop());
        expect(userSeconds).toBeGreaterThan(0.3);
        expect(userSeconds).toBeLessThan(2.4);
    });
});

describe("lab progress", () => {
    it("the remaining time is re-estimated from the steps measured so far", () => {
        let now = 0;
        const eta = new RemainingTime(() => now);
        expect(eta.update({ kind: "measure", step: 1, steps: 11 })).toBe("");
        now = 10_000; // step 1 took 10 s: 10 steps left → 100 s
        expect(eta.update({ kind: "measure", step: 2, steps: 11 })).toBe(" (≈ 1 min 40 s left at 10.0 s per step)");
        now = 14_000; // steps 1–2 took 14 s: 7 s per step, 9 left → 63 s
        expect(eta.update({ kind: "measure", step: 3, steps: 11 })).toBe(" (≈ 1 min 3 s left at 7.0 s per step)");
        expect(eta.update({ kind: "connect" })).toBe("");
    });
});

describe("what a lab target can measure", () => {
    it("every lab mode, the Docker bridge too (through its published ports), can run every measurement; a layout without pods declares the pod measurements it cannot run", () => {
        const cannot = (t: ReturnType<typeof labTarget>) => measurementIds.filter((m) => new LabSession(t, t.lab!).cannotMeasure(m) !== undefined);
        for (const mode of ["bridge", "vxlan", "host"] as const) expect(cannot(labTarget(labTopology(mode, runId))), mode).toEqual([]);
        const podless = labTarget(labTopology("bridge", runId));
        const layout = { ...podless, lab: { ...podless.lab!, pods: [] } };
        expect(cannot(layout)).toEqual(["iperf3", "latency", "scaling"]);
        expect(new LabSession(layout, layout.lab).cannotMeasure("iperf3")).toMatch(/no pod addresses across hosts/);
    });
});

describe("lab ledger", () => {
    it("records names before they exist, refuses names outside the run, and finds runs whose owner died", () => {
        const dir = mkdtempSync(`${tmpdir()}/lab-ledger-`);
        try {
            const ledger = Ledger.create("00ff00", dir);
            ledger.addNamespaces(["cnilab-00ff00-vxlan-node1"]);
            expect(() => ledger.addNamespaces(["cnilab-111111-vxlan-node1"])).toThrow(/not one of run 00ff00's/);
            expect(() => ledger.addNamespaces(["host-netns"])).toThrow(/not one of run 00ff00's/);
            expect(readLedgers(dir).map((e) => [e.runId, e.namespaces])).toEqual([["00ff00", ["cnilab-00ff00-vxlan-node1"]]]);
            expect(orphanedLedgers(dir), "this process owns it and is alive").toEqual([]);
            const dead = { ...ledger.snapshot, runId: "deadbe", owner: { pid: process.pid, startTime: "1" } };
            writeFileSync(`${dir}/cnilab-deadbe.json`, JSON.stringify(dead));
            expect(orphanedLedgers(dir).map((e) => e.runId)).toEqual(["deadbe"]);
            expect(processStartTime(process.pid)).toMatch(/^\d+$/);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
