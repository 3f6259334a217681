/**
 * Issue #11: separate stacks are measured at the same time (each stack's own measurements one
 * after the other), and a plan the vCPU quota limits waits in waves instead of failing — both
 * through the real orchestrator, the engine stand-in and (for the overlap) the real runner.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { runBenchmark } from "../bench/run";
import type { ClusterSession, Environment, PodRequest } from "../bench/sessions/session";
import type { Shell } from "../bench/sessions/shell";
import type { Target } from "../bench/targets";
import { sleep } from "../core/wait";
import { fakeOutputs, StandInEngine, standInBenchmark, standInCompareOptions } from "../test/compare/stand-in-engine";
import { targetFromStackOutputs, type OutputValues } from "../bench/stack-outputs";
import { useTempDirs } from "../test/temp-dirs";
import { Ledger } from "./ledger";
import { runComparison, type CompareOptions } from "./orchestrator";

const tempDir = useTempDirs("compare-concurrency-");
const modes = ["vxlan", "host-gw", "calico"];

interface Interval {
    readonly target: string;
    readonly start: number;
    readonly end: number;
}

const noShell: Shell = {
    name: "unused",
    run: () => Promise.reject(new Error("this stand-in session runs no commands")),
    start: () => {
        throw new Error("this stand-in session runs no commands");
    },
    close: async () => undefined,
};

/**
 * A session whose only work is asking for pods: each request takes `workMs` and is recorded as an
 * interval, then fails (no pods here), so the runner records the measurement as failed and goes on.
 */
function recordingSession(target: Target, intervals: Interval[], workMs: number): ClusterSession {
    return {
        target,
        loadGenerator: noShell,
        hosts: [noShell, noShell],
        hostIps: ["192.0.2.1", "192.0.2.2"],
        http: {},
        sharedKernel: false,
        async pods(_request: PodRequest) {
            const start = performance.now();
            await sleep(workMs);
            intervals.push({ target: target.name, start, end: performance.now() });
            throw new Error("stand-in session: no pods");
        },
        async releasePods() {},
        async environment(): Promise<Environment> {
            return {
                platform: target.platform,
                mode: target.mode,
                nodes: [],
                configuredMtu: target.mtu,
                sharedKernel: false,
            };
        },
        async close() {},
    };
}

function overlaps(a: Interval, b: Interval): boolean {
    return a.start < b.end && b.start < a.end;
}

function options(overrides: Partial<CompareOptions>): CompareOptions {
    return standInCompareOptions(modes, 20, tempDir(), overrides);
}

describe("measuring separate stacks at the same time", () => {
    const measureWith = async (schedule: "concurrent" | "round-robin" | undefined) => {
        const engine = new StandInEngine(undefined, { upMs: 30, destroyMs: 10 });
        const ledger = new Ledger(path.join(tempDir(), ".compare-ledger"));
        const intervals: Interval[] = [];
        const report = await runComparison(
            {
                engine,
                ledger,
                runBenchmark: (targets, bench) =>
                    runBenchmark(targets, { ...bench, measurements: ["latency"], cases: ["latency.pod.cross"], repetitions: 2, openSession: async (t) => recordingSession(t, intervals, 150) }),
            },
            options({ bench: { outDir: path.join(tempDir(), "out"), schedule } }),
        );
        return { report, intervals, engine, ledger };
    };
    /** What the run recorded in summary.json, and the report's sentence about it. */
    const recorded = (report: Awaited<ReturnType<typeof measureWith>>["report"]) => {
        const outDir = report.benchmarks[0].summary!.outDir;
        const summary = JSON.parse(fs.readFileSync(path.join(outDir, "summary.json"), "utf8")) as { settings: { schedule?: string } };
        const md = fs.readFileSync(path.join(outDir, "report.md"), "utf8");
        return { schedule: summary.settings.schedule, md };
    };

    it("by default (aws-k3s targets): measurements of different stacks overlap; within a stack they never do", async () => {
        const { report, intervals, engine, ledger } = await measureWith(undefined);
        expect(intervals, "2 repetitions × 3 stacks, one measurement each").toHaveLength(6);
        for (const a of intervals) {
            for (const b of intervals) {
                if (a === b) continue;
                if (a.target === b.target) expect(overlaps(a, b), `${a.target}: its own repetitions ran at the same time`).toBe(false);
            }
        }
        const crossStack = intervals.some((a) => intervals.some((b) => a.target !== b.target && overlaps(a, b)));
        expect(crossStack, "no two stacks were measured at the same time").toBe(true);
        // Every stack overlaps every other one in the first repetition: they start together.
        const first = modes.map((m) => intervals.filter((i) => i.target === m).sort((x, y) => x.start - y.start)[0]);
        for (const a of first) for (const b of first) if (a !== b) expect(overlaps(a, b), `${a.target} and ${b.target} did not run together`).toBe(true);
        // Teardown is unchanged: every stack destroyed and removed, the ledger empty.
        expect(report.stacks.map((s) => s.finalState)).toEqual(modes.map(() => "destroyed"));
        expect(engine.events.filter((e) => e.op === "destroy-during-update")).toEqual([]);
        expect(ledger.entries()).toEqual([]);
        // summary.json records it, and the report says what happened (defect 8: it always said round-robin).
        const { schedule, md } = recorded(report);
        expect(schedule).toBe("concurrent");
        expect(md).toMatch(/Targets were measured concurrently: separate clusters, all at the same time/);
        expect(md).not.toMatch(/round-robin/);
    });

    it("--schedule round-robin: no two stacks are ever measured at the same time", async () => {
        const { intervals, report } = await measureWith("round-robin");
        expect(intervals).toHaveLength(6);
        const crossStack = intervals.filter((a) => intervals.some((b) => a.target !== b.target && overlaps(a, b)));
        expect(crossStack, "round-robin measured two stacks at once").toEqual([]);
        const { schedule, md } = recorded(report);
        expect(schedule).toBe("round-robin");
        expect(md).toMatch(/Targets were measured round-robin, one at a time, the order rotated each repetition: 1: vxlan → host-gw → calico; 2: host-gw → calico → vxlan\./);
        expect(md).not.toMatch(/measured concurrently/);
    });

    it("an abort while stacks are measured concurrently ends every stack's work before the sessions close", async () => {
        const intervals: Interval[] = [];
        const closedAt: number[] = [];
        const abort = new AbortController();
        const targets = modes.map((m, i) => targetFromStackOutputs(m, fakeOutputs(m, i) as unknown as OutputValues));
        const run = runBenchmark(targets, {
            outDir: path.join(tempDir(), "out"),
            measurements: ["latency"],
            cases: ["latency.pod.cross"],
            repetitions: 5,
            signal: abort.signal,
            openSession: async (t) => {
                const session = recordingSession(t, intervals, 100);
                return { ...session, close: async () => void closedAt.push(performance.now()) };
            },
        });
        setTimeout(() => abort.abort(), 150);
        await expect(run).rejects.toThrow(/benchmark aborted; partial results/);
        expect(closedAt, "every session is closed").toHaveLength(3);
        const lastWork = Math.max(...intervals.map((i) => i.end));
        expect(Math.min(...closedAt), "a session was closed while a measurement of another stack still ran").toBeGreaterThanOrEqual(lastWork);
        expect(intervals.length, "the abort stopped the remaining repetitions").toBeLessThan(15);
    });

    it("a concurrent schedule is refused for targets that share hardware (lab, loopback)", async () => {
        const target = { name: "lab-vxlan", mode: "vxlan", platform: "lab" } as unknown as Target;
        await expect(runBenchmark([target], { outDir: path.join(tempDir(), "out"), schedule: "concurrent" })).rejects.toThrow(
            /schedule: "concurrent" .* fair only for separate clusters; lab-vxlan \(lab\) share hardware .*use round-robin/,
        );
    });
});

describe("a quota-limited plan waits instead of failing", () => {
    it("5 stacks, room for 2: three waves, never more than 2 stacks at once, every stack measured and destroyed", async () => {
        const five = ["vxlan", "host-gw", "calico", "calico-ipip", "calico-vxlan"];
        const engine = new StandInEngine(undefined, { upMs: 30, destroyMs: 20, benchMs: 20 });
        const ledger = new Ledger(path.join(tempDir(), ".compare-ledger"));
        const notes: string[] = [];
        const outDirs: string[] = [];
        const fake = standInBenchmark(engine);
        const report = await runComparison(
            {
                engine,
                ledger,
                runBenchmark: (targets, bench) => {
                    outDirs.push(bench.outDir);
                    return fake(targets, bench);
                },
                onNote: (n) => notes.push(n),
            },
            options({ stacks: five.map((stack) => ({ stack, existing: false })), waveSize: 2 }),
        );
        expect(report.ok, report.stacks.flatMap((s) => s.errors).join("; ")).toBe(true);
        expect(report.benchmarks.map((b) => b.targets)).toEqual([["vxlan", "host-gw"], ["calico", "calico-ipip"], ["calico-vxlan"]]);
        expect(outDirs.map((d) => path.basename(d))).toEqual(["wave-1", "wave-2", "wave-3"]);
        // Stacks holding vCPUs at once: from create to remove, in the engine's event order.
        let alive = 0;
        let most = 0;
        for (const e of engine.events) {
            if (e.op === "create") most = Math.max(most, ++alive);
            if (e.op === "remove") alive--;
        }
        expect(most, "more stacks existed at once than the quota allows").toBe(2);
        expect(notes.filter((n) => /^wave \d of 3 .*the vCPU quota allows 2 stack\(s\) at once/.test(n))).toHaveLength(3);
        expect(report.stacks.map((s) => s.finalState)).toEqual(five.map(() => "destroyed"));
        expect(ledger.entries()).toEqual([]);
    });

    it("a pre-existing stack measured as it is needs no quota: it is measured in the first wave, never counted against it", async () => {
        const engine = new StandInEngine(undefined, { upMs: 30, destroyMs: 20, benchMs: 20 });
        engine.seed("calico", 4);
        const ledger = new Ledger(path.join(tempDir(), ".compare-ledger"));
        const fake = standInBenchmark(engine);
        const report = await runComparison(
            { engine, ledger, runBenchmark: (targets, bench) => fake(targets, bench) },
            options({
                stacks: [
                    { stack: "calico", existing: true },
                    { stack: "vxlan", existing: false },
                    { stack: "host-gw", existing: false },
                ],
                waveSize: 1,
            }),
        );
        expect(report.ok).toBe(true);
        expect(report.benchmarks.map((b) => b.targets)).toEqual([["calico", "vxlan"], ["host-gw"]]);
        expect(engine.record("calico")?.resources).toBe(4);
    });
});
