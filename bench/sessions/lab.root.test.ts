/**
 * The lab transport on real network namespaces (root only): two "nodes" routed to each other,
 * one "pod" behind each with a smaller MTU, measured through runBenchmark with platform "lab".
 * The namespaces are created here (testing/lab-topology.ts, prefix cnib-<random>) and deleted afterwards.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descendantProcesses } from "../../test/descendants";
import { runBenchmark, type BenchSummary } from "../run";
import { routedLab } from "../../test/standins/lab-topology";

const isRoot = process.getuid?.() === 0;
const prefix = `cnib-${randomBytes(3).toString("hex")}`;
const podMtu = 1450;

const lab = routedLab(prefix, podMtu);
const { ns, target } = lab;

let outDir: string;
let summary: BenchSummary;

describe.skipIf(!isRoot)("lab platform (network namespaces; needs root)", () => {
    beforeAll(async () => {
        lab.build();
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
        lab.destroy();
        if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
    });

    it("measures pod↔pod through the routed hosts and host↔host, from inside the namespaces", () => {
        expect(summary.errors).toEqual([]);
        const value = (id: string) => summary.samples.find((s) => s.id === id)!.value;
        expect(value("iperf3.pod.cross.tcp1.gbps")).toBeGreaterThan(0);
        expect(value("iperf3.host.cross.tcp1.gbps")).toBeGreaterThan(0);
        expect(value("latency.pod.cross.p50")).toBeGreaterThan(0);
        const raw = summary.samples.find((s) => s.id === "iperf3.pod.cross.tcp1.gbps")!.raw;
        const client = fs.readFileSync(
            path.join(
                outDir,
                raw.find((r) => /tcp1\.txt$/.test(r))!,
            ),
            "utf8",
        );
        expect(client).toContain(`# shell: pod ${ns.p2}`);
        expect(client).toContain("iperf3 -c '10.202.1.2' ");
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
