/**
 * The whole pipeline on loopback, HTTP half: runBenchmark drives wrk against a real guestbook
 * (php -S + redis-server) through the same command builders a real run sends over SSH; then
 * summary.json and report.md are checked against the raw outputs.
 * (pipeline-network.test.ts does iperf3, sockperf and scaling in a parallel fork.)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descendantProcesses } from "../test/descendants";
import { parseWrk } from "./measure/parse";
import { renderReport } from "./results/report";
import type { BenchSummary, ProgressEvent } from "./run";
import { loopbackTarget, runLoopbackBenchmark } from "./sample";
import { summarize } from "./results/stats";

let outDir: string;
let summary: BenchSummary;
const progress: ProgressEvent[] = [];

beforeAll(async () => {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-pipeline-http-"));
    summary = await runLoopbackBenchmark([loopbackTarget("vxlan", "vxlan"), loopbackTarget("host-gw", "host-gw")], {
        outDir,
        repetitions: 2,
        durationSeconds: 1,
        warmupSeconds: 0,
        baseline: "host-gw",
        maxOverheadPct: 1e9,
        measurements: ["http", "guestbook"],
        // The NodePort run and the writes are the same wrk command with another URL (writes are
        // checked against Redis in tools.test.ts); left out to keep the test short.
        cases: ["http.lb", "guestbook.read"],
        httpConnections: 2,
        httpThreads: 1,
        onProgress: (e) => progress.push(e),
    });
}, 120_000);

afterAll(() => {
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
});

describe("runBenchmark on loopback: HTTP and the guestbook", () => {
    it("measures every target in every repetition, round-robin with the order rotated", () => {
        expect(summary.errors).toEqual([]);
        expect(summary.order).toEqual([
            ["vxlan", "host-gw"],
            ["host-gw", "vxlan"],
        ]);
        const measured = progress.filter((e) => e.kind === "measure").map((e) => `${e.repetition}:${e.target}:${e.measurement}`);
        expect(measured).toEqual(["1:vxlan:http", "1:vxlan:guestbook", "1:host-gw:http", "1:host-gw:guestbook", "2:host-gw:http", "2:host-gw:guestbook", "2:vxlan:http", "2:vxlan:guestbook"]);
        expect(progress.at(-1)?.kind).toBe("done");
        for (const id of ["http.lb.rps", "guestbook.read.latency.p60", "guestbook.read.latency.max", "guestbook.read.non2xx"]) {
            for (const target of ["vxlan", "host-gw"]) {
                expect(
                    summary.samples.filter((s) => s.id === id && s.target === target).map((s) => s.repetition),
                    `${target} ${id}`,
                ).toEqual([1, 2]);
            }
        }
    });

    it("every figure comes from a raw wrk output that names its command, and re-parses to the same value", () => {
        const reparse: Record<string, (text: string) => number> = {
            "http.lb.rps": (t) => parseWrk(t).requestsPerSecond,
            "http.lb.latency.mean": (t) => parseWrk(t).latencyMs.mean,
            "guestbook.read.latency.p60": (t) => parseWrk(t).latencyMs.p60,
            "guestbook.read.errors": (t) => parseWrk(t).socketErrors,
        };
        for (const [id, parse] of Object.entries(reparse)) {
            const samples = summary.samples.filter((s) => s.id === id);
            expect(samples.length).toBe(4);
            for (const s of samples) {
                const file = s.raw.find((r) => !/-(server|warmup|cpu-node\d)\.txt$/.test(r))!;
                const text = fs.readFileSync(path.join(outDir, file), "utf8");
                expect(text).toMatch(new RegExp(`^# target: ${s.target}\n# shell: load generator \\(loopback\\)\n# command: printf [\\s\\S]*\\| timeout [^\\n]* wrk -t 1 -c 2 -d 1s`));
                const stdout = text.split("--- stdout ---\n")[1].split("--- stderr ---")[0];
                expect(parse(stdout)).toBe(s.value);
            }
        }
    });

    it("summary statistics are those of the samples; overhead is against the baseline's median", () => {
        expect(summary.stats.length).toBeGreaterThan(20);
        for (const st of summary.stats) {
            const values = summary.samples.filter((s) => s.target === st.target && s.id === st.id).map((s) => s.value);
            expect(st.stats).toEqual(summarize(values));
        }
        const base = summary.stats.find((s) => s.target === "host-gw" && s.id === "http.lb.latency.mean")!;
        const other = summary.stats.find((s) => s.target === "vxlan" && s.id === "http.lb.latency.mean")!;
        expect(base.overheadPct).toBeUndefined();
        expect(other.overheadPct).toBeCloseTo(((other.stats.median - base.stats.median) / base.stats.median) * 100, 9);
        expect(other.differenceFromBaseline).toBeCloseTo(other.stats.median - base.stats.median, 12);
        expect(summary.gate).toEqual({ maxOverheadPct: 1e9, violations: [], passed: true });
        expect(summary.gatePassed).toBe(true);
    });

    it("writes report.md with field report 1's table and the paper's guestbook table", () => {
        const report = fs.readFileSync(path.join(outDir, "report.md"), "utf8");
        expect(report).toContain("Loopback sample — not a network comparison");
        expect(report).toContain("| mode | path to the frontends | mean latency (ms) [95% CI] | over host-gw (ms) [95% CI] | over host-gw (%) [95% CI] | cost shown? | requests/s |");
        expect(report).toMatch(/\| host-gw \(baseline\) \| load balancer → NodePort \| [\d.]+ \[[\d.]+–[\d.]+\] \| 0 \(baseline\) \| 0 \(baseline\) \| – \| [\d.]+ \|/);
        expect(report).toMatch(
            /\| vxlan \| load balancer → NodePort \| [\d.]+ \[[\d.]+–[\d.]+\] \| [+−]?[\d.]+ \[[+−]?[\d.]+, [+−]?[\d.]+\] \| [+−]?[\d.]+ \[[+−]?[\d.]+, [+−]?[\d.]+\] \| (shown \(interval excludes 0\)|not shown: within noise \(interval contains 0\)) \|/,
        );
        expect(report).toContain("| mode | path to the frontends | mean latency (ms) | p50 (ms) | p99 (ms) | requests/s | node CPU-s per 1k requests |");
        expect(report).toContain("| mode | reads/s | read p50 (ms) | read p60 (ms) | read max (ms) | read socket errors / non-2xx | reads/s vs baseline |");
        expect(fs.readFileSync(path.join(outDir, "charts", "latency-percentiles.svg"), "utf8")).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*host-gw[\s\S]*<\/svg>\n$/);
    });

    it("re-renders the same report offline from summary.json", async () => {
        const before = fs.readFileSync(path.join(outDir, "report.md"), "utf8");
        fs.rmSync(path.join(outDir, "report.md"));
        fs.rmSync(path.join(outDir, "charts"), { recursive: true });
        await renderReport(outDir);
        expect(fs.readFileSync(path.join(outDir, "report.md"), "utf8")).toBe(before);
        expect(fs.existsSync(path.join(outDir, "charts", "latency-percentiles.svg"))).toBe(true);
        await expect(renderReport(os.tmpdir())).rejects.toThrow(/summary\.json does not exist/);
    });

    it("leaves no process running (the guestbook included)", () => {
        expect(descendantProcesses()).toEqual([]);
    });
});
