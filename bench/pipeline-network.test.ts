/**
 * The whole pipeline on loopback, network half: iperf3 (pod and host-network baseline),
 * sockperf and the scaling curve through runBenchmark, then the report's throughput, latency,
 * scaling and MTU tables and the charts. (pipeline-http.test.ts does wrk.)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descendantProcesses } from "../test/descendants";
import { parseCpuSamples, parseIperf3, parseSockperf } from "./measure/parse";
import type { BenchSummary } from "./run";
import { loopbackTarget, runLoopbackBenchmark } from "./sample";

let outDir: string;
let summary: BenchSummary;

beforeAll(async () => {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-pipeline-net-"));
    // One target (round-robin and baselines are covered by pipeline-http.test.ts); two repetitions for intervals.
    summary = await runLoopbackBenchmark([loopbackTarget("calico-ipip", "calico-ipip")], {
        outDir,
        repetitions: 2,
        durationSeconds: 1,
        warmupSeconds: 0,
        measurements: ["iperf3", "latency", "scaling"],
        // One case of each kind keeps the test short; the sample report runs them all.
        cases: ["iperf3.pod.cross.tcp1", "iperf3.host.cross.tcp1", "latency.pod.cross"],
        scalingPods: [4],
    });
}, 120_000);

afterAll(() => {
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
});

const stdoutOf = (file: string) => fs.readFileSync(path.join(outDir, file), "utf8").split("--- stdout ---\n")[1].split("--- stderr ---")[0];
const measuredRun = (raw: readonly string[]) => raw.find((r) => !/-(server|warmup|cpu-node\d)\.txt$/.test(r) && !/pair\d/.test(r))!;

describe("runBenchmark on loopback: iperf3, sockperf, scaling", () => {
    it("throughput and latency figures re-parse from their raw outputs", () => {
        expect(summary.errors).toEqual([]);
        for (const s of summary.samples.filter((x) => x.id === "iperf3.pod.cross.tcp1.gbps")) {
            expect(parseIperf3(stdoutOf(measuredRun(s.raw))).gbps).toBe(s.value);
        }
        for (const s of summary.samples.filter((x) => x.id === "latency.pod.cross.p99")) {
            const r = parseSockperf(stdoutOf(measuredRun(s.raw)));
            expect(r.p99Us).toBe(s.value);
            // Real sockperf output: many round trips, ordered percentiles, RTT (--full-rtt).
            expect(r.observations).toBeGreaterThan(100);
            expect(r.p50Us).toBeGreaterThan(0);
            expect(r.p50Us).toBeLessThanOrEqual(r.p90Us);
            expect(r.p90Us).toBeLessThanOrEqual(r.p99Us);
            expect(r.p99Us).toBeLessThanOrEqual(r.maxUs);
        }
        expect(() => parseSockperf("sockperf: ERROR: Can`t connect socket (errno=111 Connection refused)")).toThrow(/sockperf output has no observation count/);
        expect(summary.samples.filter((x) => x.id === "latency.pod.cross.p50")).toHaveLength(2);
    });

    it("CPU-seconds per Gbit come from the node's /proc/stat samples taken during the run", () => {
        const s = summary.samples.find((x) => x.id === "iperf3.pod.cross.tcp1.cpuPerGbit")!;
        const cpuFile = s.raw.find((r) => /cpu-node1\.txt$/.test(r))!;
        const samples = parseCpuSamples(stdoutOf(cpuFile));
        expect(samples.length).toBeGreaterThanOrEqual(2);
        // Busy CPUs = Δbusy jiffies / USER_HZ (100) / Δt between the first and last sample (no
        // warm-up to skip here); CPU-s per Gbit = busy CPUs / Gbit/s.
        const busyCpus = (samples.at(-1)!.busy - samples[0].busy) / 100 / (samples.at(-1)!.time - samples[0].time);
        const run = parseIperf3(stdoutOf(measuredRun(s.raw)));
        expect(s.value).toBeCloseTo(busyCpus / run.gbps, 9);
    });

    it("scaling: 4 pods are 2 cross-node pairs whose received throughput is summed", () => {
        for (const s of summary.samples.filter((x) => x.id === "scaling.4.throughput")) {
            const pairs = s.raw.filter((r) => /pair\d\.txt$/.test(r));
            expect(pairs).toHaveLength(2);
            const sum = pairs.map((r) => parseIperf3(stdoutOf(r)).gbps).reduce((a, b) => a + b, 0);
            expect(s.value).toBeCloseTo(sum, 12);
        }
    });

    it("report: the paper's throughput table with host rows, latency, scaling, MTU per run, the IPIP note", () => {
        const report = fs.readFileSync(path.join(outDir, "report.md"), "utf8");
        expect(report).toContain("| network | TCP 1 stream (Gbit/s) | % of host |");
        expect(report).toMatch(/\| calico-ipip \(host network\) \| [\d.]+ \[/);
        expect(report).toContain("| mode | pod↔pod p50 (µs) | pod↔pod p99 (µs) |");
        expect(report).toMatch(/\| 4 \| [\d.]+ \[[-\d.]+–[\d.]+\] \|\n/);
        expect(report).toMatch(/\| calico-ipip \| 2 \| calico-ipip \| .* \| \d+ \(lo\), \d+ \(lo\) \| \d+ \(lo\) \| 65536 \/ 65536 \|/);
        expect(report).toContain("**This run includes an IP-in-IP mode.**");
        for (const chart of ["throughput.svg", "scaling.svg"]) {
            const svg = fs.readFileSync(path.join(outDir, "charts", chart), "utf8");
            expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*calico-ipip[\s\S]*<\/svg>\n$/);
        }
    });

    it("leaves no process running", () => {
        expect(descendantProcesses()).toEqual([]);
    });
});
