/**
 * The interleaved schedule (bench/run.ts): the order of every block, the budget rule, and the
 * round-by-round comparisons in summary.json. The measurements are replaced by a stand-in that
 * records what it was asked for and returns figures with a shared per-round slowdown, so the
 * schedule and the statistics are checked without tools.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { MeasureContext } from "./measure/measurements";
import type { ClusterSession, Environment } from "./sessions/session";
import type { Target } from "./targets";

const calls: { target: string; cases: readonly string[] | undefined }[] = [];
/** A slowdown every target shares within a round, and each target's true cost. */
const roundFactor = [1, 2.5, 1.2, 3, 1, 1.8, 2.2, 1.1, 2.7, 1.4];
const trueCost: Record<string, number> = { a: 10, b: 13, c: 10.2 };
let stepDelayMs = 0;

vi.mock("./measure/measurements", async (importOriginal) => {
    const real = await importOriginal<typeof import("./measure/measurements")>();
    const iperf3 = async (ctx: MeasureContext) => {
        const name = ctx.session.target.name;
        calls.push({ target: name, cases: ctx.settings.cases });
        await new Promise((r) => setTimeout(r, stepDelayMs));
        const round = (calls.filter((c) => c.target === name && c.cases?.[0] === ctx.settings.cases?.[0]).length - 1) % roundFactor.length;
        const caseId = ctx.settings.cases![0];
        const value = trueCost[name] * roundFactor[round] * (1 + 0.01 * Math.sin(7 * round + name.charCodeAt(0)));
        return [{ id: `${caseId}.cpuUsPerPacket`, measurement: "iperf3" as const, label: caseId, unit: "CPU-µs/packet", better: "lower" as const, value, raw: [] }];
    };
    return { ...real, measurementRunners: { ...real.measurementRunners, iperf3 } };
});

// After the mock: vitest hoists vi.mock above the imports.
import { interleavedBlocks, minimumPairedRounds, runBenchmark } from "./run";

const environment = {
    platform: "lab",
    mode: "vxlan",
    nodes: [{ name: "n1", kernel: "k", cpus: 2, clkTck: 100, nicInterface: "eth0", nicMtu: 9001 }],
    configuredMtu: { node: 9001, pod: 8951 },
    sharedKernel: true,
} as unknown as Environment;

function target(name: string): Target {
    return { name, mode: "vxlan", platform: "loopback" } as Target;
}

/** A session that only answers what the runner asks of it between measurements. */
const openSession = async (t: Target): Promise<ClusterSession> => ({ target: t, environment: async () => environment, close: async () => undefined }) as unknown as ClusterSession;

const dirs: string[] = [];
afterEach(() => {
    calls.length = 0;
    stepDelayMs = 0;
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function run(options: { repetitions: number; seed?: number; budgetSeconds?: number }) {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-interleaved-"));
    dirs.push(outDir);
    return runBenchmark([target("a"), target("b"), target("c")], {
        outDir,
        schedule: "interleaved",
        measurements: ["iperf3"],
        cases: ["iperf3.pod.cross.udpcost", "iperf3.host.cross.udpcost"],
        openSession,
        ...options,
    });
}

describe("the interleaved schedule", () => {
    it("has one block per selected case, in the measurements' order", () => {
        expect(interleavedBlocks({ measurements: ["guestbook", "iperf3"], cases: ["iperf3.pod.cross.udpcost", "guestbook.read", "iperf3.host.cross.udpcost"] }).map((b) => b.label)).toEqual([
            "guestbook.read",
            "iperf3.pod.cross.udpcost",
            "iperf3.host.cross.udpcost",
        ]);
        // Without cases, a measurement's ordinary (not opt-in) cases; scaling has none and is one block.
        expect(interleavedBlocks({ measurements: ["scaling"], cases: undefined })).toEqual([{ measurement: "scaling", label: "scaling" }]);
    });

    it("runs each case on every target once per round, in a seeded random order, passing only that case", async () => {
        const s = await run({ repetitions: 8, seed: 11 });
        expect(s.blocks).toHaveLength(16);
        for (const b of s.blocks!) expect([...b.targets].sort()).toEqual(["a", "b", "c"]);
        expect(calls.every((c) => c.cases?.length === 1)).toBe(true);
        // Orders differ between blocks (a fixed order would put one target always first).
        expect(new Set(s.blocks!.map((b) => b.targets.join())).size).toBeGreaterThan(2);
        const again = await run({ repetitions: 8, seed: 11 });
        expect(again.blocks).toEqual(s.blocks);
        const other = await run({ repetitions: 8, seed: 12 });
        expect(other.blocks).not.toEqual(s.blocks);
        expect(s.settings.seed).toBe(11);
    });

    it("compares targets round by round: a slowdown of 1–3× shared within each round cancels, so 30 % separates where unpaired intervals overlap", async () => {
        const s = await run({ repetitions: 10, seed: 3 });
        const pair = (a: string, b: string) => s.paired!.find((p) => p.id === "iperf3.pod.cross.udpcost.cpuUsPerPacket" && p.a === a && p.b === b)!;
        expect(pair("a", "b").verdict).toBe("a better");
        expect(pair("a", "b").ratio).toBeCloseTo(10 / 13, 1);
        // Unpaired, the same samples' intervals overlap: the round factor swamps 30 %.
        const st = (t: string) => s.stats.find((x) => x.target === t && x.id === "iperf3.pod.cross.udpcost.cpuUsPerPacket")!.stats.ci95!;
        expect(st("a").high).toBeGreaterThan(st("b").low);
        expect(pair("a", "c").n).toBe(10);
    });

    it("with a budget, stops when the next round would overrun it, but not before the fewest rounds a paired interval needs", async () => {
        stepDelayMs = 30;
        const tight = await run({ repetitions: 50, seed: 1, budgetSeconds: 0.05 });
        expect(tight.order).toHaveLength(minimumPairedRounds);
        expect(minimumPairedRounds).toBe(6);
        const roomy = await run({ repetitions: 8, seed: 1, budgetSeconds: 600 });
        expect(roomy.order).toHaveLength(8);
        // Rounds take ≈ 6 × 30 ms: a 2-s budget holds about ten, not fifty.
        const budgeted = await run({ repetitions: 50, seed: 1, budgetSeconds: 2 });
        expect(budgeted.order.length).toBeGreaterThan(minimumPairedRounds);
        expect(budgeted.order.length).toBeLessThan(15);
    });

    it("refuses a budget on a schedule that does not run rounds until one", async () => {
        const outDir = path.join(os.tmpdir(), "never-created");
        await expect(runBenchmark([target("a")], { outDir, schedule: "round-robin", budgetSeconds: 10, openSession })).rejects.toThrow(/budgetSeconds: only the interleaved schedule/);
        expect(fs.existsSync(outDir)).toBe(false);
    });
});
