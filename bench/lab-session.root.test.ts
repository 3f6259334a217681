/**
 * The lab transport on real network namespaces (root only): two "nodes" routed to each other,
 * one "pod" behind each with a smaller MTU, measured through runBenchmark with platform "lab".
 * The namespaces are created here (prefix cnib-<random>) and deleted afterwards.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descendantProcesses } from "./descendants";
import { runBenchmark, type BenchSummary } from "./run";
import type { Target } from "./targets";

const isRoot = process.getuid?.() === 0;
const prefix = `cnib-${randomBytes(3).toString("hex")}`;
const ns = { h1: `${prefix}-h1`, h2: `${prefix}-h2`, p1: `${prefix}-p1`, p2: `${prefix}-p2` };
const podMtu = 1450;

function ip(...args: string[]): void {
    execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}
function inNs(name: string, ...args: string[]): void {
    ip("netns", "exec", name, ...args);
}

/** h1 (10.201.0.1) ↔ h2 (10.201.0.2); p1 10.202.1.2 behind h1, p2 10.202.2.2 behind h2. */
function buildTopology(): void {
    for (const n of Object.values(ns)) {
        ip("netns", "add", n);
        inNs(n, "ip", "link", "set", "lo", "up");
    }
    const veth = (a: string, aIf: string, aAddr: string, b: string, bIf: string, bAddr: string, mtu = 1500) => {
        ip("link", "add", `${prefix}a`, "type", "veth", "peer", "name", `${prefix}b`);
        ip("link", "set", `${prefix}a`, "netns", a);
        ip("link", "set", `${prefix}b`, "netns", b);
        inNs(a, "ip", "link", "set", `${prefix}a`, "name", aIf);
        inNs(b, "ip", "link", "set", `${prefix}b`, "name", bIf);
        for (const [n, dev, addr] of [[a, aIf, aAddr], [b, bIf, bAddr]]) {
            inNs(n, "ip", "link", "set", dev, "mtu", String(mtu));
            inNs(n, "ip", "addr", "add", addr, "dev", dev);
            inNs(n, "ip", "link", "set", dev, "up");
        }
    };
    veth(ns.h1, "nic", "10.201.0.1/24", ns.h2, "nic", "10.201.0.2/24");
    veth(ns.h1, "cali1", "10.202.1.1/24", ns.p1, "eth0", "10.202.1.2/24", podMtu);
    veth(ns.h2, "cali2", "10.202.2.1/24", ns.p2, "eth0", "10.202.2.2/24", podMtu);
    inNs(ns.p1, "ip", "route", "add", "default", "via", "10.202.1.1");
    inNs(ns.p2, "ip", "route", "add", "default", "via", "10.202.2.1");
    inNs(ns.h1, "ip", "route", "add", "10.202.2.0/24", "via", "10.201.0.2");
    inNs(ns.h2, "ip", "route", "add", "10.202.1.0/24", "via", "10.201.0.1");
    for (const h of [ns.h1, ns.h2]) inNs(h, "sysctl", "-qw", "net.ipv4.ip_forward=1");
}

const target: Target = {
    name: "lab-routed",
    platform: "lab",
    mode: "host-gw",
    nodePort: 30080,
    nodes: [{ name: "h1" }, { name: "h2" }],
    podCidr: "10.202.0.0/16",
    mtu: { node: 1500, pod: podMtu },
    lab: {
        hosts: [
            { netns: ns.h1, ip: "10.201.0.1" },
            { netns: ns.h2, ip: "10.201.0.2" },
        ],
        pods: [
            { netns: ns.p1, ip: "10.202.1.2", node: 0 },
            { netns: ns.p2, ip: "10.202.2.2", node: 1 },
        ],
        loadGenerator: { netns: ns.h1, ip: "10.201.0.1" },
        frontendUrls: [],
    },
};

let outDir: string;
let summary: BenchSummary;

describe.skipIf(!isRoot)("lab platform (network namespaces; needs root)", () => {
    beforeAll(async () => {
        buildTopology();
        outDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-lab-"));
        summary = await runBenchmark([target], {
            outDir,
            repetitions: 1,
            durationSeconds: 1,
            warmupSeconds: 0,
            measurements: ["iperf3", "latency"],
            cases: ["iperf3.pod.cross.tcp1", "iperf3.host.cross.tcp1", "latency.pod.cross"],
        });
    }, 60_000);

    afterAll(() => {
        for (const n of Object.values(ns)) {
            try {
                ip("netns", "del", n);
            } catch {
                // not created
            }
        }
        if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
    });

    it("measures pod↔pod through the routed hosts and host↔host, from inside the namespaces", () => {
        expect(summary.errors).toEqual([]);
        const value = (id: string) => summary.samples.find((s) => s.id === id)!.value;
        expect(value("iperf3.pod.cross.tcp1.gbps")).toBeGreaterThan(0);
        expect(value("iperf3.host.cross.tcp1.gbps")).toBeGreaterThan(0);
        expect(value("latency.pod.cross.p50")).toBeGreaterThan(0);
        const raw = summary.samples.find((s) => s.id === "iperf3.pod.cross.tcp1.gbps")!.raw;
        const client = fs.readFileSync(path.join(outDir, raw.find((r) => /tcp1\.txt$/.test(r))!), "utf8");
        expect(client).toContain(`# shell: pod ${ns.p2}`);
        expect(client).toContain("iperf3 -c 10.202.1.2 ");
    });

    it("records the MTUs as measured inside the namespaces: pod 1450, node NIC 1500", () => {
        const env = summary.environments[0].environment;
        expect(env.platform).toBe("lab");
        expect(env.podMtu).toBe(podMtu);
        expect(env.podInterface).toBe("eth0");
        expect(env.nodes.map((n) => `${n.nicInterface}:${n.nicMtu}`)).toEqual(["nic:1500", "nic:1500"]);
        expect(fs.readFileSync(path.join(outDir, "report.md"), "utf8")).toContain("| 1500 (nic), 1500 (nic) | 1450 (eth0) | 1500 / 1450 |");
    });

    it("the report says plainly that a lab run reproduces datapaths, not control planes, on one machine's CPU", () => {
        const report = fs.readFileSync(path.join(outDir, "report.md"), "utf8");
        expect(report).toContain("not the plugins' control planes");
        expect(report).toContain("on one machine's CPU");
    });

    it("leaves no process running", () => {
        expect(descendantProcesses()).toEqual([]);
    });
});
