/**
 * Tools on the node, traffic in the pod (issue #11), on network namespaces this test creates
 * (root only): a "node" namespace routes between a "pod" namespace (its own veth, like a CNI
 * interface) and a "peer" on the node's NIC. A sleeping process in the pod namespace stands
 * for the pause container. The client runs exactly as the AWS session runs it: the pid comes
 * from `readContainerPid` (the session's `k3s crictl inspect` command, answered by a stand-in
 * `k3s` on the node's PATH with the sleeping process's pid), and the tool runs through
 * PodNetnsShell over a real SSH connection (the in-process server), i.e. `nsenter --target
 * <pid> --net` from the node's own namespace, where the SSH server runs. The iperf3 server on
 * the peer must see the pod's address, and the bytes must cross the pod's veth. The same client
 * run from the node namespace (the control) shows the node's address and leaves the pod's veth
 * untouched. Bounded (1 s runs, 30 s timeouts); everything is removed afterwards.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { iperf3ClientCommand } from "../measure/commands";
import { measurePodMtu } from "../measure/environment";
import { descendantProcesses } from "../../test/descendants";
import { addNamespaces, inNs, ip, vethPair } from "../../test/netns";
import { containerPidCommand, inNetnsOfCommand, pausePodManifest, PodNetnsShell, readContainerPid, sandboxImageCommand } from "./pod-netns";
import { connectSsh, type SshShell } from "./ssh";
import { publicLine, rsaPem, SshStandin } from "../../test/standins/sshd";

const isRoot = process.getuid?.() === 0;
const prefix = `cnin-${randomBytes(3).toString("hex")}`;
const ns = { node: `${prefix}-node`, pod: `${prefix}-pod`, peer: `${prefix}-peer`, podLink: `${prefix}-mtul`, podRoute: `${prefix}-mtur` };
const addr = { podIp: "10.232.1.2", podGw: "10.232.1.1", nodeIp: "10.231.0.1", peerIp: "10.231.0.2" };
/** Two more pods for the MTU cases: one whose eth0 has a jumbo MTU of its own (flannel VXLAN on a
 * 9001 NIC: 8951), one whose eth0 carries the device MTU and whose route the smaller one, as
 * cilium-cni sets up a pod (plugins/cilium-cni/cmd/cmd.go: veth MTU = DeviceMTU, routes with
 * RouteMTU; pkg/mtu/mtu.go: RouteMTU = DeviceMTU − tunnel overhead). */
const mtuPods = {
    link: { netns: ns.podLink, ip: "10.232.2.2", gw: "10.232.2.1", nodeIf: "vmtul", linkMtu: 8951 },
    route: { netns: ns.podRoute, ip: "10.232.3.2", gw: "10.232.3.1", nodeIf: "vmtur", linkMtu: 9001, routeMtu: 8951 },
};
const podVethOnNode = "vpod";

function rxBytes(netns: string, dev: string): number {
    return Number(inNs(netns, "cat", `/sys/class/net/${dev}/statistics/rx_bytes`));
}

function build(): void {
    addNamespaces(Object.values(ns));
    const veth = (a: string, aIf: string, aAddr: string, b: string, bIf: string, bAddr: string, mtu = 1500) => vethPair(prefix, a, aIf, aAddr, b, bIf, bAddr, mtu);
    veth(ns.node, "nic", `${addr.nodeIp}/24`, ns.peer, "nic", `${addr.peerIp}/24`);
    veth(ns.node, podVethOnNode, `${addr.podGw}/24`, ns.pod, "eth0", `${addr.podIp}/24`);
    inNs(ns.pod, "ip", "route", "add", "default", "via", addr.podGw);
    inNs(ns.peer, "ip", "route", "add", "10.232.1.0/24", "via", addr.nodeIp);
    inNs(ns.node, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    for (const p of Object.values(mtuPods)) veth(ns.node, p.nodeIf, `${p.gw}/24`, p.netns, "eth0", `${p.ip}/24`, p.linkMtu);
    inNs(ns.podLink, "ip", "route", "add", "default", "via", mtuPods.link.gw);
    inNs(ns.podRoute, "ip", "route", "add", "default", "via", mtuPods.route.gw, "mtu", String(mtuPods.route.routeMtu));
}

/** One-shot iperf3 server on the peer; resolves with its JSON (which names the client's address). */
function peerServer(port: number): { ready: Promise<void>; result: Promise<{ remote_host: string; bytes: number }>; child: ChildProcess } {
    const child = spawn("ip", ["netns", "exec", ns.peer, "iperf3", "-s", "-1", "-J", "-p", String(port), "-B", addr.peerIp], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    const ready = (async () => {
        for (let i = 0; i < 50; i++) {
            if (inNs(ns.peer, "ss", "-Hltn", `sport = :${port}`).trim()) return;
            await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error("iperf3 server did not listen");
    })();
    const result = new Promise<{ remote_host: string; bytes: number }>((resolve, reject) =>
        child.on("close", () => {
            try {
                const j = JSON.parse(out);
                resolve({ remote_host: j.start.connected[0].remote_host, bytes: j.end.sum_received.bytes });
            } catch (e) {
                reject(new Error(`iperf3 server output: ${out.slice(0, 300)} (${(e as Error).message})`));
            }
        }),
    );
    return { ready, result, child };
}

let server: SshStandin;
let node: SshShell;
let pause: ChildProcess;
/** The processes that hold the MTU pods' namespaces (their "pause containers"). */
let mtuPauses: ChildProcess[] = [];
let stubDir: string;
/** The Kubernetes containerID of the stand-in pause container. */
const containerId = `containerd://${randomBytes(32).toString("hex")}`;

describe.skipIf(!isRoot)("pods without installs: the tool on the node, the traffic in the pod (network namespaces; needs root)", () => {
    beforeAll(async () => {
        build();
        pause = spawn("ip", ["netns", "exec", ns.pod, "sleep", "120"], { stdio: "ignore" });
        mtuPauses = Object.values(mtuPods).map((p) => spawn("ip", ["netns", "exec", p.netns, "sleep", "120"], { stdio: "ignore" }));
        // The node's k3s, as far as the session asks it: crictl inspect of this container id
        // prints the pid containerd reports for it (here the sleeping process in the pod namespace).
        stubDir = fs.mkdtempSync(path.join(os.tmpdir(), "cnin-node-"));
        fs.writeFileSync(
            path.join(stubDir, "k3s"),
            `#!/bin/sh\nfor a; do last=$a; done\nif [ "$1 $2" = "crictl inspect" ] && [ "$last" = "${containerId.replace("containerd://", "")}" ]; then echo ${pause.pid}; exit 0; fi\necho "no such container: $last" >&2; exit 1\n`,
            { mode: 0o755 },
        );
        const key = rsaPem();
        // The SSH server runs in the node's own namespace (the test's), like sshd on a node.
        server = new SshStandin({ username: "root", authorizedKey: publicLine(key), pathPrefix: stubDir });
        await server.start();
        node = await connectSsh("node 1", { host: "127.0.0.1", port: server.port, username: "root", privateKey: key });
    });

    afterAll(async () => {
        await node?.close();
        await server?.stop();
        pause?.kill("SIGKILL");
        for (const p of mtuPauses) p.kill("SIGKILL");
        if (stubDir) fs.rmSync(stubDir, { recursive: true, force: true });
        for (const n of Object.values(ns)) {
            try {
                ip("netns", "del", n);
            } catch {
                // not created
            }
        }
        await new Promise((r) => setTimeout(r, 200));
        expect(descendantProcesses().filter((p) => /iperf3|sleep 120/.test(p.args))).toEqual([]);
    });

    it("iperf3 run through PodNetnsShell reaches the peer from the pod's address, through the pod's own interface", async () => {
        // The session's lookup, run over the node's SSH shell (root here: no "sudo -n ").
        const pid = await readContainerPid(node, containerId, "");
        expect(pid).toBe(pause.pid); // `ip netns exec` execs the command: this is the process in the pod namespace
        expect(fs.statSync(`/proc/${pid}/ns/net`).ino).toBe(fs.statSync(`/run/netns/${ns.pod}`).ino);
        // The test runs as root; on a node the image user needs "sudo -n ".
        const pod = new PodNetnsShell(`pod (pid ${pid})`, (c, o, t, s) => node.stream(c, o, t, s), pid, "");
        const port = 5301;
        const before = rxBytes(ns.node, podVethOnNode);
        const srv = peerServer(port);
        await srv.ready;
        const r = await pod.run(iperf3ClientCommand({ host: addr.peerIp, port, durationSeconds: 1, omitSeconds: 0, streams: 1 }), { timeoutMs: 30_000 });
        expect(r.code, r.stderr).toBe(0);
        const seen = await srv.result;
        expect(seen.remote_host).toBe(addr.podIp);
        // Everything the peer received came in through the pod's veth (plus headers and ACK-side overhead).
        expect(rxBytes(ns.node, podVethOnNode) - before).toBeGreaterThanOrEqual(seen.bytes);
        await pod.close();
    });

    it("control: the same client from the node's own namespace shows the node's address and does not touch the pod's veth", async () => {
        const port = 5302;
        const before = rxBytes(ns.node, podVethOnNode);
        const srv = peerServer(port);
        await srv.ready;
        inNs(ns.node, "sh", "-c", iperf3ClientCommand({ host: addr.peerIp, port, durationSeconds: 1, omitSeconds: 0, streams: 1 }) + " >/dev/null");
        const seen = await srv.result;
        expect(seen.remote_host).toBe(addr.nodeIp);
        expect(rxBytes(ns.node, podVethOnNode) - before).toBeLessThan(10_000); // stray IPv6/ARP at most
    });

    // `nsenter --net` enters the network namespace only: /sys stays the node's sysfs, so a pod
    // MTU read from /sys/class/net is the node's interface of that name (iproute2 `ip netns
    // exec` remounts /sys for the namespace, lib/namespace.c netns_switch; nsenter(1) does not).
    // The session must read it over netlink, where the namespace is the one entered.
    it("the pod MTU read through PodNetnsShell is the pod's eth0, not the node's interface of that name", async () => {
        const nodeEth0 = fs.existsSync("/sys/class/net/eth0/mtu") ? Number(fs.readFileSync("/sys/class/net/eth0/mtu", "utf8")) : undefined;
        expect(nodeEth0, "the case needs a pod MTU the node's own eth0 does not have").not.toBe(mtuPods.link.linkMtu);
        const pod = new PodNetnsShell("pod (jumbo eth0)", (c, o, t, s) => node.stream(c, o, t, s), mtuPauses[0].pid!, "");
        expect(await measurePodMtu(pod, addr.peerIp)).toEqual({ iface: "eth0", mtu: 8951, linkMtu: 8951, routeMtu: undefined });
        await pod.close();
    });

    it("a route MTU below the link's (cilium: veth 9001, route 8951) is the MTU recorded, with both figures", async () => {
        const pod = new PodNetnsShell("pod (route mtu)", (c, o, t, s) => node.stream(c, o, t, s), mtuPauses[1].pid!, "");
        expect(await measurePodMtu(pod, addr.peerIp)).toEqual({ iface: "eth0", mtu: 8951, linkMtu: 9001, routeMtu: 8951 });
        await pod.close();
    });

    it("a pid lookup of a container the node does not run fails with crictl's words, never a pid", async () => {
        const other = `containerd://${"ab".repeat(32)}`;
        await expect(readContainerPid(node, other, "")).rejects.toThrow(new RegExp(`crictl inspect .* ${"ab".repeat(32)}: exit 1: no such container`));
    });

    it("stopping a background tool in the pod ends it, though it runs as root in another namespace", async () => {
        const pid = await readContainerPid(node, containerId, "");
        const pod = new PodNetnsShell("pod", (c, o, t, s) => node.stream(c, o, t, s), pid, "");
        const proc = pod.start("sleep 47");
        await new Promise((r) => setTimeout(r, 500));
        expect(descendantProcesses().some((p) => p.args === "sleep 47")).toBe(true);
        await proc.stop();
        expect(descendantProcesses().filter((p) => p.args === "sleep 47")).toEqual([]);
        await pod.close();
    });
});

describe("pods without installs: the pieces", () => {
    it("the pod is the pause image, never pulled, with no command of ours", () => {
        const pod = pausePodManifest({ name: "p", namespace: "default", nodeName: "n", labels: { a: "b" }, image: "rancher/mirrored-pause:3.6", activeDeadlineSeconds: 60 });
        expect(pod.spec!.containers).toEqual([{ name: "netns", image: "rancher/mirrored-pause:3.6", imagePullPolicy: "Never" }]);
    });

    it("the sandbox image is read from either containerd config schema", () => {
        const read = (toml: string) => execFileSync("sh", ["-c", sandboxImageCommand().replace(/ \/var\/lib\/rancher\S+/, " -")], { input: toml, encoding: "utf8" }).trim();
        expect(read('[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "rancher/mirrored-pause:3.6"\n')).toBe("rancher/mirrored-pause:3.6");
        expect(read("[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = \"rancher/mirrored-pause:3.10.2\"\n")).toBe("rancher/mirrored-pause:3.10.2");
    });

    it("the container pid comes from crictl by the Kubernetes containerID; anything else is refused", () => {
        expect(containerPidCommand("containerd://0123456789abcdef0123")).toBe("k3s crictl inspect --output go-template --template '{{.info.pid}}' 0123456789abcdef0123");
        expect(() => containerPidCommand("docker://x; rm -rf /")).toThrow(/containerID: "docker:\/\/x; rm -rf \/" is not a containerd id/);
        expect(inNetnsOfCommand(4242, "echo 'a b'")).toBe(`sudo -n nsenter --target 4242 --net -- sh -c 'echo '\\''a b'\\'''`);
        expect(() => inNetnsOfCommand(1, "true")).toThrow(/pid: 1 is not a process id of a container/);
    });
});
