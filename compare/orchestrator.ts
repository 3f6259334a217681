/**
 * The comparison's life cycle, independent of Pulumi: bring every stack up (at most `parallel` at
 * a time), measure all that came up in one benchmark run (stacks concurrently by default), then
 * destroy every stack this run created — after success, after any failure, on interruption and
 * on timeouts. When the vCPU quota fits fewer stacks than compared, this happens in waves, each
 * destroyed before the next starts. Pre-existing stacks are measured as they are (updated only
 * on request) and never destroyed; created stacks are in the ledger before they exist.
 *
 * Never destroy while an update may still be running (compare/operation.ts says why): a stack
 * whose `up` did not end after being asked to stop, or had to be killed, is left in the ledger as
 * a leftover and the report says so; `--cleanup` destroys it once its process is known dead.
 */
import * as path from "node:path";
import { defaultSchedule, type BenchOptions, type BenchSummary, type ProgressEvent } from "../bench/run";
import { targetFromStackOutputs } from "../bench/stack-outputs";
import type { Target } from "../bench/targets";
import { exitCodes } from "../core/cli";
import { InterruptedError, StillRunningError } from "../core/errors";
import { OperationKilledError } from "../core/pulumi";
import { isAlive } from "../core/process";
import { Semaphore } from "../core/semaphore";
import type { ComparisonStack, StackEngine } from "./engine";
import type { Ledger } from "./ledger";
import { runOperation } from "./operation";

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

/** One benchmark run (one per wave) and what it measured. */
export interface BenchmarkRecord {
    readonly summary?: BenchOutcome;
    readonly error?: string;
    readonly targets: readonly string[];
}

export interface CompareOptions {
    readonly runId: string;
    readonly stacks: readonly StackRequest[];
    /** Project config set on every stack (keys without the project prefix). */
    readonly config: Readonly<Record<string, string>>;
    /** Config set only on stacks this run creates (e.g. `spot`): never on someone else's stack. */
    readonly newStackConfig?: Readonly<Record<string, string>>;
    /**
     * Pre-existing stacks: "measure" (default) selects and measures them as they are — no config
     * change, no `up`; "update" sets `config` and runs `up` first (--update-existing).
     */
    readonly existingStacks?: "measure" | "update";
    readonly parallel: number;
    /**
     * At most this many stacks exist at once (the account's vCPU quota, capacity.ts). More stacks run
     * in waves: a wave is brought up, measured and destroyed before the next starts, so a
     * quota-limited plan waits instead of failing. Default: all in one wave.
     */
    readonly waveSize?: number;
    readonly keep: boolean;
    readonly upTimeoutMs: number;
    /** Per stack measured: the benchmark's limit when stacks are measured concurrently; × the number of stacks round-robin. */
    readonly measureTimeoutMs: number;
    readonly destroyTimeoutMs: number;
    /** How long an aborted operation may take to end (the engine's whole stop schedule, core/pulumi.ts). */
    readonly stopBoundMs: number;
    /** The operator's interruption (Ctrl-C, SIGTERM). Teardown is not interrupted by it. */
    readonly interrupt: AbortSignal;
    /**
     * The operator's explicit confirmation to abandon teardown: running destroys are asked to stop
     * (one SIGINT each) and every stack not yet destroyed stays in the ledger for --cleanup.
     */
    readonly abandonTeardown?: AbortSignal;
    readonly bench: Omit<BenchOptions, "signal" | "onProgress">;
    /** Turns an `up` error into advice (e.g. missing Spot capacity: capacity.ts). */
    readonly explainUpError?: (message: string) => string;
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
    /** One per wave that had stacks to measure, in order. */
    readonly benchmarks: readonly BenchmarkRecord[];
    readonly interrupted: boolean;
    /** True only when every stack came up, was measured, and (unless kept) was destroyed. */
    readonly ok: boolean;
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
    /** Its update was asked to stop and did not end, or was killed: never destroyed by this run. */
    untouchable?: string;
    teardown?: Promise<void>;
}

function message(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}

export async function runComparison(deps: CompareDeps, options: CompareOptions): Promise<CompareReport> {
    return new ComparisonRun(deps, options).run();
}

/**
 * One comparison's state: every stack's progress (`tracked`), the bring-up slots and the
 * benchmark records, with one method per step of the life cycle.
 */
class ComparisonRun {
    private readonly now: () => number;
    private readonly tracked: Tracked[];
    private readonly slots: Semaphore;
    private readonly benchmarks: BenchmarkRecord[] = [];

    constructor(
        private readonly deps: CompareDeps,
        private readonly options: CompareOptions,
    ) {
        this.now = deps.now ?? Date.now;
        this.tracked = options.stacks.map((request) => ({ request, state: "waiting", created: false, errors: [], leftover: false }));
        for (const t of this.tracked) this.move(t, "waiting");
        this.slots = new Semaphore(options.parallel);
    }

    async run(): Promise<CompareReport> {
        const { waves, waveSize } = this.planWaves();
        for (const [index, wave] of waves.entries()) {
            if (waves.length > 1) {
                this.deps.onNote?.(`wave ${index + 1} of ${waves.length} (${wave.map((t) => t.request.stack).join(", ")}): the vCPU quota allows ${waveSize} stack(s) at once`);
            }
            await this.runWave(wave, waves.length > 1 ? path.join(this.options.bench.outDir, `wave-${index + 1}`) : this.options.bench.outDir);
        }
        return this.report();
    }

    /**
     * Waves of at most `waveSize` stacks. Only stacks that start instances need quota;
     * pre-existing stacks measured as they are join the first wave.
     */
    private planWaves(): { readonly waves: Tracked[][]; readonly waveSize: number } {
        const waveSize = Math.max(1, this.options.waveSize ?? this.tracked.length);
        const needQuota = this.tracked.filter((t) => !this.measuredAsIs(t));
        const waves: Tracked[][] = [];
        for (let i = 0; i < needQuota.length; i += waveSize) waves.push(needQuota.slice(i, i + waveSize));
        if (waves.length === 0) waves.push([]);
        waves[0] = [...this.tracked.filter((t) => this.measuredAsIs(t)), ...waves[0]];
        return { waves, waveSize };
    }

    private async runWave(wave: readonly Tracked[], outDir: string): Promise<void> {
        await Promise.all(wave.map((t) => this.bringUp(t)));
        await this.measure(wave, outDir);
        // The next wave needs the quota this one holds: its stacks are gone before it starts.
        for (const t of wave) void this.teardown(t);
        await Promise.all(wave.map((t) => t.teardown));
    }

    /** Someone else's stack, measured exactly as it is (no config change, no update). */
    private measuredAsIs(t: Tracked): boolean {
        return t.request.existing && (this.options.existingStacks ?? "measure") === "measure";
    }

    private async bringUp(t: Tracked): Promise<void> {
        await this.slots.acquire();
        try {
            if (this.options.interrupt.aborted) {
                this.fail(t, new InterruptedError(`stack ${t.request.stack} was not started: interrupted`));
                return;
            }
            this.move(t, "creating");
            const handle = await this.selectOrCreate(t);
            if (this.measuredAsIs(t)) {
                this.deps.onNote?.(`${t.request.stack}: existed before this run: measured as it is (no config change, no up; --update-existing would update it)`);
                t.target = targetFromStackOutputs(t.request.stack, await handle.outputs());
                this.move(t, "ready");
                return;
            }
            await this.update(t, handle);
            // The runner's own mapping (and check) of stack outputs to a target.
            t.target = targetFromStackOutputs(t.request.stack, await handle.outputs());
            this.move(t, "ready");
        } catch (error) {
            this.upFailed(t, error);
            // Destroy a failed stack right away: the others may take an hour to measure.
            void this.teardown(t);
        } finally {
            this.slots.release();
        }
    }

    /** Selects a pre-existing stack, or creates one with its ledger entry on disk first. */
    private async selectOrCreate(t: Tracked): Promise<ComparisonStack> {
        const name = t.request.stack;
        if (t.request.existing) {
            t.handle = await this.deps.engine.select(name);
            return t.handle;
        }
        // The ledger entry is on disk before the stack exists: a crash from here on leaves a trace.
        this.deps.ledger.record({ stack: name, phase: "creating", runId: this.options.runId, pid: process.pid, recordedAt: new Date(this.now()).toISOString() });
        try {
            t.handle = await this.deps.engine.create(name);
        } catch (error) {
            // Not created by us (it may have appeared meanwhile): never ours to destroy.
            this.deps.ledger.forget(name);
            throw error;
        }
        t.created = true;
        this.deps.ledger.record({ stack: name, phase: "created", runId: this.options.runId, pid: process.pid, recordedAt: new Date(this.now()).toISOString() });
        return t.handle;
    }

    /** Sets the config and runs `up` under --up-timeout and the operator's interrupt. */
    private async update(t: Tracked, handle: ComparisonStack): Promise<void> {
        const name = t.request.stack;
        await handle.setConfig(t.created ? { ...this.options.config, ...this.options.newStackConfig } : this.options.config);
        // Interrupted while the stack was being created: do not start an update only to stop it.
        if (this.options.interrupt.aborted) throw new InterruptedError(`up of stack ${name} was not started: interrupted`);
        t.upStartedAt = this.now();
        await runOperation(
            {
                what: `up of stack ${name}`,
                timeoutMs: this.options.upTimeoutMs,
                flag: "--up-timeout",
                interrupt: this.options.interrupt,
                stopBoundMs: this.options.stopBoundMs,
            },
            (signal) => handle.up({ signal, onOutput: this.outputFor(name), onProcess: this.processFor(t) }),
        );
        t.upCompletedAt = this.now();
    }

    /** Records why bringing a stack up failed, and whether its update may still be running. */
    private upFailed(t: Tracked, error: unknown): void {
        const explain = this.options.explainUpError;
        this.fail(t, explain && !(error instanceof InterruptedError) ? new Error(explain(message(error))) : error);
        if (error instanceof StillRunningError) {
            t.untouchable = "was not destroyed: its update was asked to stop and may still be running (destroying now would run alongside it)";
        } else if (error instanceof OperationKilledError) {
            t.untouchable = "was not destroyed: its update had to be killed, so the stack may hold pending operations and a stale lock";
        }
    }

    /** One benchmark run over the wave's ready stacks; its outcome or error joins `benchmarks`. */
    private async measure(wave: readonly Tracked[], outDir: string): Promise<void> {
        const { options, deps } = this;
        const ready = wave.filter((t) => t.state === "ready" && t.target);
        if (ready.length === 0 || options.interrupt.aborted) return;
        for (const t of ready) this.move(t, "measuring");
        const targets = ready.map((t) => t.target!);
        // Concurrent: every stack measures at once, so the limit is one stack's; round-robin: in turn.
        const concurrent = (options.bench.schedule ?? defaultSchedule(targets)) === "concurrent";
        try {
            const summary = await runOperation(
                {
                    what: `measurement of ${ready.length} stack(s)`,
                    timeoutMs: options.measureTimeoutMs * (concurrent ? 1 : ready.length),
                    flag: concurrent ? "--measure-timeout, stacks measured concurrently" : `--measure-timeout, per stack × ${ready.length}`,
                    interrupt: options.interrupt,
                    stopBoundMs: options.stopBoundMs,
                },
                (signal) => deps.runBenchmark(targets, { ...options.bench, outDir, signal, onProgress: deps.onBenchmarkProgress }),
            );
            this.benchmarks.push({ summary, targets: targets.map((x) => x.name) });
        } catch (error) {
            this.benchmarks.push({ error: message(error), targets: targets.map((x) => x.name) });
            deps.onNote?.(`benchmark failed: ${message(error)}`);
        }
    }

    /** Starts a stack's teardown once; every later call waits for the same one. */
    private teardown(t: Tracked): Promise<void> {
        t.teardown ??= this.destroyOne(t);
        return t.teardown;
    }

    private async destroyOne(t: Tracked): Promise<void> {
        if (!t.created || !t.handle) {
            // Never created (or never reached), or not ours: nothing to destroy.
            if (t.request.existing && t.state !== "failed") this.move(t, "kept", "existed before this run: left up");
            return;
        }
        if (t.untouchable) {
            this.leaveInLedger(t, t.untouchable);
            return;
        }
        if (this.options.keep) {
            this.move(t, "kept", "--keep: left up; it stays in the ledger for `npm run compare -- --cleanup`");
            t.leftover = true;
            return;
        }
        if (this.options.abandonTeardown?.aborted) {
            this.leaveInLedger(t, "was not destroyed: teardown was abandoned by the operator");
            return;
        }
        this.move(t, "destroying");
        try {
            // Not the operator's interrupt: a Ctrl-C during teardown must not stop a destroy. Only
            // the explicit confirmation to abandon teardown does.
            await destroyAndRemove(t.handle, t.request.stack, this.deps.ledger, {
                timeoutMs: this.options.destroyTimeoutMs,
                stopBoundMs: this.options.stopBoundMs,
                abandon: this.options.abandonTeardown,
                onOutput: this.outputFor(t.request.stack),
                onProcess: this.processFor(t),
            });
            t.destroyCompletedAt = this.now();
            this.move(t, "destroyed");
        } catch (error) {
            t.errors.push(message(error));
            this.leaveInLedger(t, `may still hold resources (${message(error)})`);
        }
    }

    private leaveInLedger(t: Tracked, why: string): void {
        t.leftover = true;
        this.deps.ledger.annotate(t.request.stack, why);
        this.move(t, "failed", `LEFTOVER: stack ${t.request.stack} ${why}; it stays in the ledger: run \`npm run compare -- --cleanup\``);
    }

    private move(t: Tracked, state: StackState, detail?: string): void {
        t.state = state;
        this.deps.onTransition?.({ stack: t.request.stack, state, at: this.now(), detail });
    }

    private fail(t: Tracked, error: unknown): void {
        t.errors.push(message(error));
        this.move(t, "failed", message(error));
    }

    private outputFor(stack: string): (line: string) => void {
        return (line) => this.deps.onEngineOutput?.(stack, line);
    }

    /** For a stack this run created: its CLI's pid goes into the ledger (--cleanup waits for it). */
    private processFor(t: Tracked): (pid: number) => void {
        return (pid) => {
            if (t.created) this.deps.ledger.recordCliPid(t.request.stack, pid);
        };
    }

    private report(): CompareReport {
        const stacks: StackReport[] = this.tracked.map((t) => ({
            stack: t.request.stack,
            created: t.created,
            finalState: t.state,
            errors: t.errors,
            upStartedAt: t.upStartedAt,
            upCompletedAt: t.upCompletedAt,
            destroyCompletedAt: t.destroyCompletedAt,
            leftover: t.leftover,
        }));
        const benchmarks = this.benchmarks;
        const interrupted = this.options.interrupt.aborted;
        const ok =
            !interrupted &&
            stacks.every((r) => r.errors.length === 0 && r.finalState !== "failed") &&
            benchmarks.length > 0 &&
            benchmarks.every((b) => b.error === undefined && b.summary?.gatePassed !== false);
        return { stacks, benchmarks, interrupted, ok };
    }
}

/**
 * Destroys a stack this command created (under --destroy-timeout; `abandon` is the only thing
 * that stops it early), removes it from the backend, then forgets it in the ledger — in that
 * order, so a failure at any step leaves the entry.
 */
async function destroyAndRemove(
    handle: ComparisonStack,
    stack: string,
    ledger: Ledger,
    limits: { readonly timeoutMs: number; readonly stopBoundMs: number; readonly abandon?: AbortSignal; readonly onOutput: (line: string) => void; readonly onProcess: (pid: number) => void },
): Promise<void> {
    await runOperation({ what: `destroy of stack ${stack}`, timeoutMs: limits.timeoutMs, flag: "--destroy-timeout", interrupt: limits.abandon, stopBoundMs: limits.stopBoundMs }, (signal) =>
        handle.destroy({ signal, onOutput: limits.onOutput, onProcess: limits.onProcess }),
    );
    await handle.remove();
    ledger.forget(stack);
}

export interface CleanupReport {
    readonly destroyed: readonly string[];
    /** In the ledger but absent from the backend (died before or during `create`). */
    readonly absent: readonly string[];
    readonly failed: readonly { readonly stack: string; readonly error: string }[];
}

/**
 * How `--cleanup` ended, from what happened (docs/compare.md "Exit codes"). Its destroys are never
 * interrupted by Ctrl-C or SIGTERM, so a signal alone does not make it "interrupted" (130 in
 * core/cli.ts: ended by the signal): the code is 0 when every stack is gone and 1 when one is
 * left, as without the signal, and the note says the signal came and changed nothing. Only
 * abandoning teardown (Ctrl-C twice more) stops the destroys: that is 130.
 */
export function cleanupOutcome(report: CleanupReport, signals: { readonly received?: string; readonly abandoned: boolean }): { readonly code: number; readonly note?: string } {
    if (signals.abandoned) return { code: exitCodes.interrupted, note: `Teardown abandoned (${signals.received ?? "signal"}): the stacks not destroyed stay in the ledger.` };
    const code = report.failed.length === 0 ? exitCodes.ok : exitCodes.failure;
    if (signals.received === undefined) return { code };
    return { code, note: `${signals.received} was received during the cleanup; destroys are never interrupted, and this cleanup ran to its end.` };
}

/**
 * Destroys exactly the stacks the ledger lists (leftovers of a crashed or killed run, of a killed
 * update, or of `--keep`), removes them, and forgets them. Stacks not in the ledger are never
 * touched. It runs only under the run lock, so the run that recorded them is over; a Pulumi CLI
 * it recorded that is still alive keeps its stack out of the cleanup (never destroy alongside a
 * running update). Only then is a lock left behind cleared: its holder is known dead.
 */
export async function cleanupLeftovers(
    deps: Pick<CompareDeps, "engine" | "ledger" | "onNote" | "onEngineOutput"> & { readonly isAlive?: (pid: number) => boolean },
    options: { readonly destroyTimeoutMs: number; readonly stopBoundMs: number; readonly abandon?: AbortSignal },
): Promise<CleanupReport> {
    const destroyed: string[] = [];
    const absent: string[] = [];
    const failed: { stack: string; error: string }[] = [];
    await Promise.all(
        deps.ledger.entries().map(async (entry) => {
            const name = entry.stack;
            try {
                if (entry.cliPid !== undefined && (deps.isAlive ?? isAlive)(entry.cliPid)) {
                    throw new StillRunningError(`its Pulumi CLI (pid ${entry.cliPid}) is still running; wait for it to end, then run --cleanup again`);
                }
                if (!(await deps.engine.exists(name))) {
                    deps.ledger.forget(name);
                    absent.push(name);
                    deps.onNote?.(`${name}: not in the backend (the run stopped before it was created); removed from the ledger`);
                    return;
                }
                const handle = await deps.engine.select(name);
                if (entry.note) deps.onNote?.(`${name}: ${entry.note}`);
                // The process that held the lock is dead (see above): clear what it left, so destroy can run.
                await handle.clearStaleLock().catch(() => undefined);
                deps.onNote?.(`${name}: destroying (created by run ${entry.runId}, pid ${entry.pid})`);
                await destroyAndRemove(handle, name, deps.ledger, {
                    timeoutMs: options.destroyTimeoutMs,
                    stopBoundMs: options.stopBoundMs,
                    abandon: options.abandon,
                    onOutput: (line) => deps.onEngineOutput?.(name, line),
                    onProcess: (pid) => deps.ledger.recordCliPid(name, pid),
                });
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
