import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { useTempDirs } from "../test/temp-dirs";
import type { Target } from "../bench/targets";
import { StandInEngine, standInBenchmark, standInCompareOptions, type StandInBehavior, type StandInOp } from "../test/compare/stand-in-engine";
import { pollUntil } from "../core/wait";
import { Ledger } from "./ledger";
import { cleanupLeftovers, runComparison, type BenchmarkRunner, type CompareOptions, type StackRequest, type StackTransition } from "./orchestrator";

const tempDir = useTempDirs("compare-test-");

const modes = ["vxlan", "host-gw", "calico", "calico-ipip", "calico-vxlan"];

function newStacks(names: readonly string[] = modes): StackRequest[] {
    return names.map((stack) => ({ stack, existing: false }));
}

interface Harness {
    readonly engine: StandInEngine;
    readonly ledger: Ledger;
    readonly transitions: StackTransition[];
    readonly notes: string[];
    readonly benchTargets: Target[][];
    run(overrides?: Partial<CompareOptions>, bench?: BenchmarkRunner): ReturnType<typeof runComparison>;
}

/** Short fake operations keep the suite fast; tests that need a long one say so. */
const quick: Partial<StandInBehavior> = { upMs: 50, destroyMs: 20, benchMs: 20 };

function harness(behavior: Partial<StandInBehavior> = {}, stateDir?: string): Harness {
    const engine = new StandInEngine(stateDir, { ...quick, ...behavior });
    const ledger = new Ledger(path.join(stateDir ?? tempDir(), ".compare-ledger"));
    const transitions: StackTransition[] = [];
    const notes: string[] = [];
    const benchTargets: Target[][] = [];
    const fake = standInBenchmark(engine);
    return {
        engine,
        ledger,
        transitions,
        notes,
        benchTargets,
        run: (overrides = {}, bench) =>
            runComparison(
                {
                    engine,
                    ledger,
                    runBenchmark: (targets, options) => {
                        benchTargets.push(targets);
                        return (bench ?? fake)(targets, options);
                    },
                    onTransition: (t) => transitions.push(t),
                    onNote: (line) => notes.push(line),
                },
                standInCompareOptions(modes, 3, tempDir(), overrides),
            ),
    };
}

function ops(engine: StandInEngine, stack: string): StandInOp[] {
    return engine.events.filter((e) => e.stack === stack).map((e) => e.op);
}

/** The engine never saw a destroy start while an update of the same stack still ran. */
function expectNoDestroyDuringUpdate(engine: StandInEngine) {
    const overlaps = engine.events.filter((e) => e.op === "destroy-during-update");
    expect(
        overlaps.map((e) => `${e.stack}: ${e.detail}`),
        "a destroy ran alongside a live update (both write the checkpoint)",
    ).toEqual([]);
}

/** Nothing this run created is left: no record in the engine, nothing in the ledger. */
function expectNothingLeft(h: Harness, created: readonly string[]) {
    expectNoDestroyDuringUpdate(h.engine);
    for (const stack of created) {
        expect(h.engine.record(stack), `stack ${stack} should have been destroyed and removed`).toBeUndefined();
        expect(ops(h.engine, stack), `stack ${stack}: destroy then remove`).toEqual(expect.arrayContaining(["destroy-done", "remove"]));
    }
    expect(h.ledger.entries(), "the ledger should be empty after teardown").toEqual([]);
}

function until(condition: () => boolean, what: string): Promise<void> {
    return pollUntil(what, condition, { timeoutMs: 10_000, intervalMs: 10 });
}

describe("runComparison: the happy path", () => {
    it("creates every stack, measures them all in one benchmark run, then destroys and removes them", async () => {
        const h = harness();
        const report = await h.run();
        expect(report.ok).toBe(true);
        expect(h.benchTargets).toHaveLength(1);
        expect(h.benchTargets[0].map((t) => t.name).sort()).toEqual([...modes].sort());
        expect(h.benchTargets[0].every((t) => t.platform === "aws-k3s" && t.nodes.length === 2)).toBe(true);
        expect(report.stacks.map((r) => r.finalState)).toEqual(modes.map(() => "destroyed"));
        for (const stack of modes) {
            expect(ops(h.engine, stack)).toEqual(["create", "config", "up-start", "up-done", "destroy-start", "destroy-done", "remove"]);
        }
        expectNothingLeft(h, modes);
    });

    it("sets the operator's CIDR on every stack before its update", async () => {
        const configs: Record<string, string>[] = [];
        const h = harness();
        const original = h.engine.create.bind(h.engine);
        h.engine.create = async (name) => {
            const stack = await original(name);
            const up = stack.up.bind(stack);
            stack.up = async (options) => {
                configs.push({ ...h.engine.record(name)!.config });
                return up(options);
            };
            return stack;
        };
        await h.run();
        expect(configs).toEqual(modes.map(() => ({ operatorCidr: "203.0.113.7/32" })));
    });

    it("reports every state a stack goes through, in order", async () => {
        const h = harness();
        await h.run({ stacks: newStacks(["vxlan"]) });
        expect(h.transitions.map((t) => t.state)).toEqual(["waiting", "creating", "ready", "measuring", "destroying", "destroyed"]);
    });
});

describe("runComparison: the ledger", () => {
    it("records a stack on disk before it is created, and as created before its update starts", async () => {
        const h = harness();
        const seenAtCreate: string[] = [];
        const seenAtUp: string[] = [];
        const original = h.engine.create.bind(h.engine);
        h.engine.create = async (name) => {
            // Read the file, as a process started after a crash would.
            const onDisk = new Ledger(h.ledger.dir).entries().find((e) => e.stack === name);
            seenAtCreate.push(`${name}:${onDisk?.phase}`);
            const stack = await original(name);
            const up = stack.up.bind(stack);
            stack.up = async (options) => {
                seenAtUp.push(`${name}:${new Ledger(h.ledger.dir).entries().find((e) => e.stack === name)?.phase}`);
                return up(options);
            };
            return stack;
        };
        await h.run({ stacks: newStacks(["vxlan", "calico"]) });
        expect(seenAtCreate.sort()).toEqual(["calico:creating", "vxlan:creating"]);
        expect(seenAtUp.sort()).toEqual(["calico:created", "vxlan:created"]);
        expect(h.ledger.entries()).toEqual([]);
    });
});

describe("runComparison: failures still tear everything down", () => {
    it("destroys a stack whose up failed at once, and still measures and destroys the others", async () => {
        const h = harness({ failUp: ["host-gw"], benchMs: 500 });
        const report = await h.run();
        expect(report.ok).toBe(false);
        const hostGw = report.stacks.find((r) => r.stack === "host-gw")!;
        expect(hostGw.errors[0]).toMatch(/update of host-gw failed/);
        expect(h.benchTargets[0].map((t) => t.name)).not.toContain("host-gw");
        expect(h.benchTargets[0]).toHaveLength(modes.length - 1);
        // The failed stack's resources are gone before the benchmark of the others ends.
        const at = (stack: string, op: StandInOp) => h.engine.events.find((e) => e.stack === stack && e.op === op)!.at;
        const benchDone = h.engine.events.find((e) => e.op === "bench-done")!.at;
        expect(at("host-gw", "destroy-done")).toBeLessThan(benchDone);
        expectNothingLeft(h, modes);
    });

    it("destroys every stack when the benchmark fails", async () => {
        const h = harness({ failBench: true });
        const report = await h.run();
        expect(report.ok).toBe(false);
        expect(report.benchmarks[0]?.error).toMatch(/fake benchmark failure/);
        expectNothingLeft(h, modes);
    });

    it("fails the run when the benchmark's gate fails, and still destroys", async () => {
        const h = harness();
        const report = await h.run({}, async (_targets, options) => ({ outDir: options.outDir, gatePassed: false }));
        expect(report.ok).toBe(false);
        expectNothingLeft(h, modes);
    });

    it("keeps a stack whose destroy failed in the ledger, and --cleanup destroys it later", async () => {
        const stateDir = tempDir();
        const h = harness({ failDestroy: ["calico"] }, stateDir);
        const report = await h.run({ stacks: newStacks(["vxlan", "calico"]) });
        expect(report.ok).toBe(false);
        const calico = report.stacks.find((r) => r.stack === "calico")!;
        expect(calico.leftover).toBe(true);
        expect(calico.finalState).toBe("failed");
        expect(h.ledger.entries().map((e) => e.stack)).toEqual(["calico"]);
        expect(h.engine.record("vxlan")).toBeUndefined();

        // Later, with the cloud behaving again: cleanup destroys exactly the ledger's stack.
        const later = new StandInEngine(stateDir);
        const cleanup = await cleanupLeftovers({ engine: later, ledger: new Ledger(h.ledger.dir) }, { destroyTimeoutMs: 10_000, stopBoundMs: 2_000 });
        expect(cleanup.destroyed).toEqual(["calico"]);
        expect(later.record("calico")).toBeUndefined();
        expect(h.ledger.entries()).toEqual([]);
    });
});

describe("runComparison: interruption (Ctrl-C, SIGTERM)", () => {
    it("stops the running ups, starts no more, and destroys every stack it created", async () => {
        const h = harness({ upMs: 5_000, resources: 50 });
        const interrupt = new AbortController();
        const running = h.run({ interrupt: interrupt.signal, parallel: 2 });
        await until(() => h.engine.events.filter((e) => e.op === "up-start").length === 2, "two ups to start");
        interrupt.abort();
        const report = await running;
        expect(report.interrupted).toBe(true);
        expect(report.ok).toBe(false);
        expect(h.benchTargets).toHaveLength(0);
        const started = h.engine.events.filter((e) => e.op === "create").map((e) => e.stack);
        expect(started).toHaveLength(2);
        for (const stack of started) expect(ops(h.engine, stack)).toContain("up-canceled");
        const neverStarted = modes.filter((m) => !started.includes(m));
        for (const stack of neverStarted) {
            expect(ops(h.engine, stack), `${stack} must not be created after the interrupt`).toEqual([]);
            expect(report.stacks.find((r) => r.stack === stack)!.errors[0]).toMatch(/not started: interrupted/);
        }
        expectNothingLeft(h, started);
    });

    it("stops the benchmark and destroys every stack", async () => {
        const h = harness({ benchMs: 10_000 });
        const interrupt = new AbortController();
        const running = h.run({ interrupt: interrupt.signal });
        await until(() => h.engine.events.some((e) => e.op === "bench-start"), "the benchmark to start");
        interrupt.abort();
        const report = await running;
        expect(report.interrupted).toBe(true);
        expect(report.benchmarks[0]?.error).toMatch(/interrupted/);
        expectNothingLeft(h, modes);
    });

    it("an update that ignores SIGINT is killed by the engine's escalation and left in the ledger, never destroyed alongside it", async () => {
        // pulumi/pulumi pkg/backend/diy/backend.go CancelCurrentUpdate only deletes lock files: had
        // the orchestrator "cancelled" and destroyed, the destroy would have run next to the update.
        const h = harness({ upMs: 5_000, resources: 50, ignoreAbort: ["vxlan"], killAfterMs: 300 });
        const interrupt = new AbortController();
        const running = h.run({ interrupt: interrupt.signal, stacks: newStacks(["vxlan"]) });
        await until(() => h.engine.events.some((e) => e.op === "up-start"), "the up to start");
        interrupt.abort();
        const report = await running;
        expectNoDestroyDuringUpdate(h.engine);
        expect(ops(h.engine, "vxlan")).toContain("up-killed");
        expect(ops(h.engine, "vxlan"), "no cancel while its process may live, no destroy of a killed update").not.toEqual(expect.arrayContaining(["cancel"]));
        expect(ops(h.engine, "vxlan")).not.toContain("destroy-start");
        expect(report.stacks[0].leftover).toBe(true);
        expect(h.transitions.at(-1)?.detail).toMatch(/LEFTOVER: stack vxlan was not destroyed: its update had to be killed/);
        expect(h.ledger.entries().map((e) => [e.stack, e.note])).toEqual([["vxlan", expect.stringMatching(/had to be killed/)]]);

        // Its process is dead now: --cleanup clears the stale lock, then destroys.
        const cleanup = await cleanupLeftovers({ engine: h.engine, ledger: h.ledger }, { destroyTimeoutMs: 10_000, stopBoundMs: 2_000 });
        expect(cleanup.destroyed).toEqual(["vxlan"]);
        expect(ops(h.engine, "vxlan").slice(-4)).toEqual(["cancel", "destroy-start", "destroy-done", "remove"]);
        expectNothingLeft(h, ["vxlan"]);
    });

    it("an update that does not end after being asked to stop is left alone: no cancel, no destroy, kept in the ledger", async () => {
        const h = harness({ freezeUp: ["vxlan"] });
        const interrupt = new AbortController();
        const running = h.run({ interrupt: interrupt.signal, stacks: newStacks(["vxlan"]), stopBoundMs: 200 });
        await until(() => h.engine.events.some((e) => e.op === "up-start"), "the up to start");
        interrupt.abort();
        const report = await running;
        expect(ops(h.engine, "vxlan")).toEqual(["create", "config", "up-start"]);
        expect(report.stacks[0].errors[0]).toMatch(/up of stack vxlan was interrupted; it was asked to stop and had not ended .* later: it may still be running/);
        expect(h.ledger.entries().map((e) => e.stack)).toEqual(["vxlan"]);
        expect(h.transitions.at(-1)?.detail).toMatch(/LEFTOVER: stack vxlan was not destroyed: its update was asked to stop and may still be running/);
    });

    it("a Ctrl-C during teardown does not interrupt a destroy", async () => {
        const h = harness({ destroyMs: 600, resources: 6 });
        const interrupt = new AbortController();
        const running = h.run({ interrupt: interrupt.signal, stacks: newStacks(["vxlan"]) });
        await until(() => h.engine.events.some((e) => e.op === "destroy-start"), "the destroy to start");
        interrupt.abort();
        const report = await running;
        expect(ops(h.engine, "vxlan")).toEqual(expect.arrayContaining(["destroy-done", "remove"]));
        expect(report.stacks[0].finalState).toBe("destroyed");
        expectNothingLeft(h, ["vxlan"]);
    });

    it("abandoning teardown (the operator's confirmation) stops the destroys and keeps every stack in the ledger", async () => {
        const h = harness({ destroyMs: 5_000, resources: 50 });
        const abandon = new AbortController();
        const running = h.run({ abandonTeardown: abandon.signal, stacks: newStacks(["vxlan", "calico"]) });
        await until(() => h.engine.events.filter((e) => e.op === "destroy-start").length === 2, "both destroys to start");
        abandon.abort();
        const report = await running;
        expect(report.stacks.every((r) => r.leftover)).toBe(true);
        expect(
            h.ledger
                .entries()
                .map((e) => e.stack)
                .sort(),
        ).toEqual(["calico", "vxlan"]);
        for (const stack of ["vxlan", "calico"]) expect(ops(h.engine, stack)).toContain("destroy-failed");
        expectNoDestroyDuringUpdate(h.engine);
    });
});

describe("runComparison: never touches a stack it did not create", () => {
    it("measures an existing stack as it is: no config change, no up, no destroy, no ledger entry", async () => {
        const h = harness();
        h.engine.seed("calico", 7);
        const report = await h.run({
            stacks: [
                { stack: "vxlan", existing: false },
                { stack: "calico", existing: true },
            ],
        });
        expect(report.ok).toBe(true);
        expect(h.benchTargets[0].map((t) => t.name).sort()).toEqual(["calico", "vxlan"]);
        // Not a single operation on someone else's stack: the stand-in logs config, up and destroy.
        expect(ops(h.engine, "calico"), "the pre-existing stack must only be selected, never changed").toEqual(["select"]);
        expect(h.engine.record("calico")?.resources).toBe(7);
        expect(h.engine.record("calico")?.config).toEqual({});
        expect(h.notes.join("\n")).toMatch(/calico: existed before this run: measured as it is/);
        expect(report.stacks.find((r) => r.stack === "calico")!.finalState).toBe("kept");
        expectNothingLeft(h, ["vxlan"]);
    });

    it("--update-existing: updates and measures an existing stack but neither destroys it nor enters it in the ledger", async () => {
        const h = harness();
        h.engine.seed("calico", 7);
        const ledgerWrites: string[] = [];
        const record = h.ledger.record.bind(h.ledger);
        h.ledger.record = (entry) => {
            ledgerWrites.push(entry.stack);
            record(entry);
        };
        const report = await h.run({
            existingStacks: "update",
            stacks: [
                { stack: "vxlan", existing: false },
                { stack: "calico", existing: true },
            ],
        });
        expect(report.ok).toBe(true);
        expect(h.benchTargets[0].map((t) => t.name).sort()).toEqual(["calico", "vxlan"]);
        expect(ledgerWrites).not.toContain("calico");
        expect(ops(h.engine, "calico")).not.toContain("destroy-start");
        expect(ops(h.engine, "calico")).not.toContain("remove");
        expect(h.engine.record("calico")?.resources).toBe(17);
        expect(report.stacks.find((r) => r.stack === "calico")!.finalState).toBe("kept");
        expectNothingLeft(h, ["vxlan"]);
    });

    it("leaves an existing stack alone when its update fails or the run is interrupted", async () => {
        const h = harness({ failUp: ["calico"] });
        h.engine.seed("calico", 7);
        const report = await h.run({ existingStacks: "update", stacks: [{ stack: "calico", existing: true }] });
        expect(report.ok).toBe(false);
        expect(ops(h.engine, "calico")).not.toContain("destroy-start");
        expect(h.engine.record("calico")).toBeDefined();
    });

    it("does not destroy a stack whose create failed (someone else's, created meanwhile)", async () => {
        const h = harness();
        h.engine.seed("vxlan", 3); // appeared between the plan's existence check and create
        const report = await h.run({ stacks: newStacks(["vxlan"]) });
        expect(report.stacks[0].errors[0]).toMatch(/already exists/);
        expect(ops(h.engine, "vxlan")).toEqual([]);
        expect(h.engine.record("vxlan")?.resources).toBe(3);
        expect(h.ledger.entries()).toEqual([]);
    });
});

describe("runComparison: concurrency limit", () => {
    for (const parallel of [1, 2, 3]) {
        it(`never runs more than --parallel ${parallel} ups at once (5 stacks)`, async () => {
            const h = harness({ upMs: 150 });
            const report = await h.run({ parallel });
            expect(report.ok).toBe(true);
            expect(h.engine.maxActiveUps).toBe(parallel);
        });
    }
});

describe("runComparison: timeouts", () => {
    it("an up that runs too long fails with a timeout naming the stack and flag, and is destroyed", async () => {
        const h = harness({ upMs: 10_000, resources: 100 });
        const report = await h.run({ stacks: newStacks(["vxlan", "calico"]), upTimeoutMs: 300 });
        for (const r of report.stacks) {
            expect(r.errors[0]).toMatch(new RegExp(`^up of stack ${r.stack} timed out after .* \\(--up-timeout\\)$`));
        }
        expectNothingLeft(h, ["vxlan", "calico"]);
    });

    it("a timed-out up that ignores SIGINT is killed and kept in the ledger, not destroyed", async () => {
        const h = harness({ upMs: 10_000, resources: 100, ignoreAbort: ["vxlan"], killAfterMs: 200 });
        const report = await h.run({ stacks: newStacks(["vxlan"]), upTimeoutMs: 300 });
        expect(report.stacks[0].errors[0]).toMatch(/^up of stack vxlan timed out after .*\(--up-timeout\); update of vxlan ignored SIGINT and was killed$/);
        expect(ops(h.engine, "vxlan")).not.toContain("destroy-start");
        expect(h.ledger.entries().map((e) => e.stack)).toEqual(["vxlan"]);
        expectNoDestroyDuringUpdate(h.engine);
    });

    it("a measurement that runs too long fails with --measure-timeout and every stack is destroyed", async () => {
        const h = harness({ benchMs: 10_000 });
        // Concurrent (the default for separate stacks): the limit is one stack's.
        const report = await h.run({ stacks: newStacks(["vxlan", "calico"]), measureTimeoutMs: 200 });
        expect(report.ok).toBe(false);
        expect(report.benchmarks[0]?.error).toMatch(/^measurement of 2 stack\(s\) timed out after 0.2 s \(--measure-timeout, stacks measured concurrently\)/);
        expectNothingLeft(h, ["vxlan", "calico"]);
        // Round-robin: the stacks take turns, so the limit is per stack × the number of stacks.
        const rr = harness({ benchMs: 10_000 });
        const turns = await rr.run({ stacks: newStacks(["vxlan", "calico"]), measureTimeoutMs: 200, bench: { outDir: path.join(tempDir(), "out"), schedule: "round-robin" } });
        expect(turns.benchmarks[0]?.error).toMatch(/^measurement of 2 stack\(s\) timed out after 0.4 s \(--measure-timeout, per stack × 2\)/);
        expectNothingLeft(rr, ["vxlan", "calico"]);
    });

    it("a destroy that runs too long is reported as a leftover and stays in the ledger", async () => {
        const h = harness({ destroyMs: 10_000 });
        const report = await h.run({ stacks: newStacks(["vxlan"]), destroyTimeoutMs: 200 });
        expect(report.ok).toBe(false);
        expect(report.stacks[0].errors[0]).toMatch(/^destroy of stack vxlan timed out after .*\(--destroy-timeout\)$/);
        expect(report.stacks[0].leftover).toBe(true);
        expect(h.ledger.entries().map((e) => e.stack)).toEqual(["vxlan"]);
        expect(h.transitions.at(-1)?.detail).toMatch(/LEFTOVER: stack vxlan .*--cleanup/);
    });
});

describe("--keep and --cleanup", () => {
    it("--keep leaves the created stacks up and in the ledger; cleanup destroys exactly those", async () => {
        const stateDir = tempDir();
        const h = harness({}, stateDir);
        h.engine.seed("calico", 4);
        const report = await h.run({ keep: true, existingStacks: "update", stacks: [...newStacks(["vxlan", "host-gw"]), { stack: "calico", existing: true }] });
        expect(report.ok).toBe(true);
        expect(report.stacks.map((r) => r.finalState)).toEqual(["kept", "kept", "kept"]);
        expect(
            h.ledger
                .entries()
                .map((e) => e.stack)
                .sort(),
        ).toEqual(["host-gw", "vxlan"]);
        expect(h.engine.record("vxlan")?.resources).toBeGreaterThan(0);

        const cleanup = await cleanupLeftovers({ engine: h.engine, ledger: h.ledger }, { destroyTimeoutMs: 10_000, stopBoundMs: 2_000 });
        expect([...cleanup.destroyed].sort()).toEqual(["host-gw", "vxlan"]);
        expect(h.engine.record("calico")?.resources).toBe(14);
        expect(h.ledger.entries()).toEqual([]);
    });

    it("after a simulated crash mid-update, cleanup clears the stale lock and destroys only the ledger's stacks", async () => {
        const stateDir = tempDir();
        // The run "dies" while vxlan and host-gw are mid-update: their updates never return again.
        const crashed = harness({ freezeUp: ["vxlan", "host-gw"] }, stateDir);
        crashed.engine.seed("calico", 5); // the operator's own stack
        const interrupt = new AbortController();
        const frozen = crashed.run({
            interrupt: interrupt.signal,
            stopBoundMs: 20,
            existingStacks: "update",
            stacks: [...newStacks(["vxlan", "host-gw"]), { stack: "calico", existing: true }],
        });
        await until(() => crashed.engine.events.filter((e) => e.op === "up-start").length === 3, "three updates to start");

        // A new process: fresh engine and ledger objects reading the same files.
        const engine = new StandInEngine(stateDir);
        const ledger = new Ledger(crashed.ledger.dir);
        expect(
            ledger
                .entries()
                .map((e) => e.stack)
                .sort(),
        ).toEqual(["host-gw", "vxlan"]);
        expect(engine.record("vxlan")?.lock, "a killed update leaves its lock").toBeDefined();
        const notes: string[] = [];
        const cleanup = await cleanupLeftovers({ engine, ledger, onNote: (n) => notes.push(n) }, { destroyTimeoutMs: 10_000, stopBoundMs: 2_000 });
        expect(cleanup.failed).toEqual([]);
        expect([...cleanup.destroyed].sort()).toEqual(["host-gw", "vxlan"]);
        expect(engine.record("vxlan")).toBeUndefined();
        expect(engine.record("host-gw")).toBeUndefined();
        expect(engine.record("calico")?.resources, "the operator's stack is untouched").toBeGreaterThanOrEqual(5);
        expect(ledger.entries()).toEqual([]);

        // Let the abandoned run finish (its teardown finds nothing left) so no timer outlives the test.
        interrupt.abort();
        await frozen;
    });

    it("cleanup drops a ledger entry whose stack never came to exist, without touching anything", async () => {
        const h = harness();
        h.engine.seed("calico", 2);
        h.ledger.record({ stack: "vxlan", phase: "creating", runId: "r", pid: 1, recordedAt: "2026-11-23T00:00:00Z" });
        const cleanup = await cleanupLeftovers({ engine: h.engine, ledger: h.ledger }, { destroyTimeoutMs: 1_000, stopBoundMs: 500 });
        expect(cleanup).toEqual({ destroyed: [], absent: ["vxlan"], failed: [] });
        expect(h.engine.events.filter((e) => e.op !== "select")).toEqual([]);
        expect(h.ledger.entries()).toEqual([]);
    });
});
