/**
 * The comparison's life cycle, independent of Pulumi: bring every stack up (at most `parallel` at
 * a time), measure all that came up in one benchmark run, then destroy every stack this run
 * created — after success, after any failure, on interruption and on timeouts. Pre-existing
 * stacks are used but never destroyed; created stacks are in the ledger before they exist.
 */
import type { BenchOptions, BenchSummary, ProgressEvent } from "../bench/run";
import { targetFromStackOutputs } from "../bench/stack-outputs";
import type { Target } from "../bench/targets";
import { InterruptedError, runStep, StepTimeoutError } from "./deadline";
import type { ComparisonStack, StackEngine } from "./engine";
import type { Ledger } from "./ledger";

/** What the comparison reads from the runner's summary. */
export type BenchOutcome = Pick<BenchSummary, "outDir" | "gatePassed">;

/** The benchmark runner's signature (bench/run.ts `runBenchmark`), injected so tests use a stand-in. */
export type BenchmarkRunner = (targets: Target[], options: BenchOptions) => Promise<BenchOutcome>;

export type StackState = "waiting" | "creating" | "ready" | "measuring" | "destroying" | "destroyed" | "kept" | "failed";

/** A stack changed state (for the progress display). */
export interface StackTransition {
    readonly stack: string;
    readonly state: StackState;
    readonly at: number;
    /** Why it failed, or a note (e.g. "existing stack: left up"). */
    readonly detail?: string;
}

export interface CompareDeps {
    readonly engine: StackEngine;
    readonly ledger: Ledger;
    readonly runBenchmark: BenchmarkRunner;
    /** Milliseconds since the epoch (injected for tests). */
    readonly now?: () => number;
    readonly onTransition?: (transition: StackTransition) => void;
    readonly onBenchmarkProgress?: (event: ProgressEvent) => void;
    /** Pulumi output lines, tagged with the stack (for a log file). */
    readonly onEngineOutput?: (stack: string, line: string) => void;
    readonly onNote?: (line: string) => void;
}

export interface StackRequest {
    readonly stack: string;
    /** Existed before the run: select it, never destroy it, never put it in the ledger. */
    readonly existing: boolean;
}

export interface CompareOptions {
    readonly runId: string;
    readonly stacks: readonly StackRequest[];
    /** Project config set on every stack (keys without the project prefix). */
    readonly config: Readonly<Record<string, string>>;
    readonly parallel: number;
    readonly keep: boolean;
    readonly upTimeoutMs: number;
    /** Per stack measured: the benchmark's limit is this times the number of targets. */
    readonly measureTimeoutMs: number;
    readonly destroyTimeoutMs: number;
    /** How long an aborted step may take to stop before it is cancelled harder. */
    readonly graceMs: number;
    /** The operator's interruption (Ctrl-C, SIGTERM). Teardown is not interrupted by it. */
    readonly interrupt: AbortSignal;
    readonly bench: Omit<BenchOptions, "signal" | "onProgress">;
}

export interface StackReport {
    readonly stack: string;
    readonly created: boolean;
    readonly finalState: StackState;
    /** Every failure on the way (up, outputs, destroy), in order. */
    readonly errors: readonly string[];
    readonly upStartedAt?: number;
    readonly upCompletedAt?: number;
    readonly destroyCompletedAt?: number;
    /** Created by this run and possibly still holding resources: it stays in the ledger. */
    readonly leftover: boolean;
}

export interface CompareReport {
    readonly stacks: readonly StackReport[];
    readonly benchmark?: { readonly summary?: BenchOutcome; readonly error?: string; readonly targets: readonly string[] };
    readonly interrupted: boolean;
    /** True only when every stack came up, was measured, and (unless kept) was destroyed. */
    readonly ok: boolean;
}

/** A counting semaphore: at most `limit` holders at once. */
export class Slots {
    private active = 0;
    private readonly queue: (() => void)[] = [];

    constructor(private readonly limit: number) {}

    async acquire(): Promise<void> {
        if (this.active < this.limit) {
            this.active++;
            return;
        }
        await new Promise<void>((resolve) => this.queue.push(resolve));
    }

    release(): void {
        const next = this.queue.shift();
        if (next) next();
        else this.active--;
    }
}

interface Tracked {
    readonly request: StackRequest;
    state: StackState;
    handle?: ComparisonStack;
    created: boolean;
    errors: string[];
    target?: Target;
    upStartedAt?: number;
    upCompletedAt?: number;
    destroyCompletedAt?: number;
    leftover: boolean;
    teardown?: Promise<void>;
}

function message(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}

export async function runComparison(deps: CompareDeps, options: CompareOptions): Promise<CompareReport> {
    const now = deps.now ?? Date.now;
    const tracked: Tracked[] = options.stacks.map((request) => ({ request, state: "waiting", created: false, errors: [], leftover: false }));
    const move = (t: Tracked, state: StackState, detail?: string) => {
        t.state = state;
        deps.onTransition?.({ stack: t.request.stack, state, at: now(), detail });
    };
    const fail = (t: Tracked, error: unknown) => {
        t.errors.push(message(error));
        move(t, "failed", message(error));
    };
    const outputFor = (stack: string) => (line: string) => deps.onEngineOutput?.(stack, line);
    for (const t of tracked) move(t, "waiting");

    const teardown = (t: Tracked): Promise<void> => {
        t.teardown ??= destroyOne(t);
        return t.teardown;
    };

    const destroyOne = async (t: Tracked): Promise<void> => {
        if (!t.created || !t.handle) {
            // Never created (or never reached), or not ours: nothing to destroy.
            if (t.request.existing && t.state !== "failed") move(t, "kept", "existed before this run: left up");
            return;
        }
        if (options.keep) {
            move(t, "kept", "--keep: left up; it stays in the ledger for `npm run compare -- --cleanup`");
            t.leftover = true;
            return;
        }
        move(t, "destroying");
        const handle = t.handle;
        try {
            await runStep(
                {
                    what: `destroy of stack ${t.request.stack}`,
                    timeoutMs: options.destroyTimeoutMs,
                    flag: "--destroy-timeout",
                    // No interrupt: a Ctrl-C during teardown must not stop the teardown.
                    graceMs: options.graceMs,
                    forceStop: () => handle.cancel(),
                    onNote: deps.onNote,
                },
                (signal) => handle.destroy({ signal, onOutput: outputFor(t.request.stack) }),
            );
            await handle.remove();
            deps.ledger.forget(t.request.stack);
            t.destroyCompletedAt = now();
            move(t, "destroyed");
        } catch (error) {
            t.leftover = true;
            t.errors.push(message(error));
            move(t, "failed", `${message(error)} — LEFTOVER: stack ${t.request.stack} may still hold resources; it stays in the ledger: run \`npm run compare -- --cleanup\``);
        }
    };

    const slots = new Slots(options.parallel);

    const bringUp = async (t: Tracked): Promise<void> => {
        await slots.acquire();
        try {
            if (options.interrupt.aborted) {
                fail(t, new InterruptedError(`stack ${t.request.stack} was not started: interrupted`));
                return;
            }
            move(t, "creating");
            const name = t.request.stack;
            if (t.request.existing) {
                t.handle = await deps.engine.select(name);
            } else {
                // The ledger entry is on disk before the stack exists: a crash from here on leaves a trace.
                deps.ledger.record({ stack: name, phase: "creating", runId: options.runId, pid: process.pid, recordedAt: new Date(now()).toISOString() });
                try {
                    t.handle = await deps.engine.create(name);
                } catch (error) {
                    // Not created by us (it may have appeared meanwhile): never ours to destroy.
                    deps.ledger.forget(name);
                    throw error;
                }
                t.created = true;
                deps.ledger.record({ stack: name, phase: "created", runId: options.runId, pid: process.pid, recordedAt: new Date(now()).toISOString() });
            }
            const handle = t.handle;
            await handle.setConfig(options.config);
            t.upStartedAt = now();
            await runStep(
                {
                    what: `up of stack ${name}`,
                    timeoutMs: options.upTimeoutMs,
                    flag: "--up-timeout",
                    interrupt: options.interrupt,
                    graceMs: options.graceMs,
                    forceStop: () => handle.cancel(),
                    onNote: deps.onNote,
                },
                (signal) => handle.up({ signal, onOutput: outputFor(name) }),
            );
            t.upCompletedAt = now();
            // The runner's own mapping (and check) of stack outputs to a target.
            t.target = targetFromStackOutputs(name, await handle.outputs());
            move(t, "ready");
        } catch (error) {
            fail(t, error);
            // Destroy a failed stack right away: the others may take an hour to measure.
            void teardown(t);
        } finally {
            slots.release();
        }
    };

    await Promise.all(tracked.map(bringUp));

    let benchmark: CompareReport["benchmark"];
    const ready = tracked.filter((t) => t.state === "ready" && t.target);
    if (ready.length > 0 && !options.interrupt.aborted) {
        for (const t of ready) move(t, "measuring");
        const targets = ready.map((t) => t.target!);
        try {
            const summary = await runStep(
                {
                    what: `measurement of ${ready.length} stack(s)`,
                    timeoutMs: options.measureTimeoutMs * ready.length,
                    flag: `--measure-timeout, per stack × ${ready.length}`,
                    interrupt: options.interrupt,
                    graceMs: options.graceMs,
                    forceStop: async () => {},
                    onNote: deps.onNote,
                },
                (signal) => deps.runBenchmark(targets, { ...options.bench, signal, onProgress: deps.onBenchmarkProgress }),
            );
            benchmark = { summary, targets: targets.map((x) => x.name) };
        } catch (error) {
            benchmark = { error: message(error), targets: targets.map((x) => x.name) };
            deps.onNote?.(`benchmark failed: ${message(error)}`);
        }
    }

    for (const t of tracked) void teardown(t);
    await Promise.all(tracked.map((t) => t.teardown));

    const reports: StackReport[] = tracked.map((t) => ({
        stack: t.request.stack,
        created: t.created,
        finalState: t.state,
        errors: t.errors,
        upStartedAt: t.upStartedAt,
        upCompletedAt: t.upCompletedAt,
        destroyCompletedAt: t.destroyCompletedAt,
        leftover: t.leftover,
    }));
    const interrupted = options.interrupt.aborted;
    const ok =
        !interrupted &&
        reports.every((r) => r.errors.length === 0 && r.finalState !== "failed") &&
        benchmark !== undefined &&
        benchmark.error === undefined &&
        benchmark.summary?.gatePassed !== false;
    return { stacks: reports, benchmark, interrupted, ok };
}

export interface CleanupReport {
    readonly destroyed: readonly string[];
    /** In the ledger but absent from the backend (died before or during `create`). */
    readonly absent: readonly string[];
    readonly failed: readonly { readonly stack: string; readonly error: string }[];
}

/**
 * Destroys exactly the stacks the ledger lists (leftovers of a crashed or killed run, or of
 * `--keep`), removes them, and forgets them. Stacks not in the ledger are never touched.
 */
export async function cleanupLeftovers(
    deps: Pick<CompareDeps, "engine" | "ledger" | "onNote" | "onEngineOutput">,
    options: { readonly destroyTimeoutMs: number; readonly graceMs: number },
): Promise<CleanupReport> {
    const destroyed: string[] = [];
    const absent: string[] = [];
    const failed: { stack: string; error: string }[] = [];
    await Promise.all(
        deps.ledger.entries().map(async (entry) => {
            const name = entry.stack;
            try {
                if (!(await deps.engine.exists(name))) {
                    deps.ledger.forget(name);
                    absent.push(name);
                    deps.onNote?.(`${name}: not in the backend (the run stopped before it was created); removed from the ledger`);
                    return;
                }
                const handle = await deps.engine.select(name);
                // A killed process leaves its update's lock behind; clear it so destroy can run
                // (`pulumi cancel` works on file backends since pulumi/pulumi#9100).
                await handle.cancel().catch(() => undefined);
                deps.onNote?.(`${name}: destroying (created by run ${entry.runId}, pid ${entry.pid})`);
                await runStep(
                    {
                        what: `destroy of stack ${name}`,
                        timeoutMs: options.destroyTimeoutMs,
                        flag: "--destroy-timeout",
                        graceMs: options.graceMs,
                        forceStop: () => handle.cancel(),
                        onNote: deps.onNote,
                    },
                    (signal) => handle.destroy({ signal, onOutput: (line) => deps.onEngineOutput?.(name, line) }),
                );
                await handle.remove();
                deps.ledger.forget(name);
                destroyed.push(name);
                deps.onNote?.(`${name}: destroyed and removed from the ledger`);
            } catch (error) {
                failed.push({ stack: name, error: message(error) });
                deps.onNote?.(`${name}: cleanup FAILED: ${message(error)} (still in the ledger)`);
            }
        }),
    );
    return { destroyed, absent, failed };
}

export { StepTimeoutError, InterruptedError };
