/**
 * A session says what it cannot measure (ClusterSession.cannotMeasure); the runner skips those
 * measurements with the reason in summary.json and report.md — not as failures, and without the
 * caller rewriting the results afterwards (the lab used to rename failures "not applicable").
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LoopbackSession } from "./sessions/loopback";
import type { MeasurementId } from "./measure/measurements";
import { runBenchmark } from "./run";
import { loopbackTarget } from "./sample";
import { readSummaryFile } from "./results/summary";

const dirs: string[] = [];
afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A loopback "cluster" without pod addresses: it cannot run what needs pods on two nodes. */
class PodlessSession extends LoopbackSession {
    cannotMeasure(measurement: MeasurementId): string | undefined {
        return measurement === "iperf3" || measurement === "latency" ? "no pod addresses in this test cluster" : undefined;
    }
}

describe("the runner and session capabilities", () => {
    it("skips what a session cannot measure, once per target, with the reason in summary.json and the report", async () => {
        const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-capabilities-"));
        dirs.push(outDir);
        const targets = [loopbackTarget("podless", "vxlan")];
        const progress: string[] = [];
        const summary = await runBenchmark(targets, {
            outDir,
            repetitions: 2,
            measurements: ["iperf3", "latency"],
            notes: ["a caller's note, first"],
            openSession: async (t) => new PodlessSession(t, { http: {} }),
            onProgress: (e) => progress.push(e.message),
        });
        expect(summary.errors).toEqual([]);
        expect(summary.skipped).toEqual([
            { target: "podless", measurement: "iperf3", reason: "no pod addresses in this test cluster" },
            { target: "podless", measurement: "latency", reason: "no pod addresses in this test cluster" },
        ]);
        expect(summary.samples).toEqual([]);
        expect(progress.filter((m) => m.includes("skipped"))).toHaveLength(2);
        const onDisk = readSummaryFile(path.join(outDir, "summary.json"));
        expect(onDisk.skipped).toEqual(summary.skipped);
        expect(onDisk.notes[0]).toBe("a caller's note, first");
        const report = fs.readFileSync(path.join(outDir, "report.md"), "utf8");
        expect(report).toContain("- podless: iperf3 not measured: no pod addresses in this test cluster");
    });
});

describe("summary.json read back", () => {
    it("the committed sample report's summary.json passes the schema", () => {
        const file = path.join(__dirname, "..", "docs", "sample-report", "summary.json");
        expect(readSummaryFile(file).schema).toBe("cni-bench/summary/1");
    });

    it("a wrong field is named with its path", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-summary-"));
        dirs.push(dir);
        const good = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "docs", "sample-report", "summary.json"), "utf8"));
        const file = path.join(dir, "summary.json");
        fs.writeFileSync(file, JSON.stringify({ ...good, samples: [{ ...good.samples[0], value: "fast" }] }));
        expect(() => readSummaryFile(file)).toThrow(/summary\.json: samples\[0\]\.value: Invalid input: expected number, received string/);
    });
});
