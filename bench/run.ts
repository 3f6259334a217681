/**
 * The benchmark runner's programmatic API: measure every target the same way, write the raw
 * tool outputs, `summary.json`, `report.md` and SVG charts into `outDir`.
 *
 * The lab (lab/) and the comparison command (compare/) call exactly `runBenchmark`; the CLI
 * (bench/cli.ts) is a thin wrapper around it.
 *
 * Fairness, two schedules (`schedule`):
 * - "concurrent": every target measures at the same time, each its own repetitions one after the
 *   other. Fair only when targets share no hardware — separate AWS stacks (own VPC, instances and
 *   placement group): then every mode sees the same minutes of the region. The default when every
 *   target is an aws-k3s cluster.
 * - "round-robin": one target at a time within each repetition, the order rotating by one every
 *   repetition, so slow drift (a noisy neighbour, a warming cache) hits every mode alike. Fair
 *   when targets share hardware (lab, loopback: one kernel); the default otherwise.
 * - "interleaved" (the lab's): rounds of blocks, a block being one case of one measurement run on
 *   every target in a fresh random order, so targets compared in a round ran seconds apart and saw
 *   the same disturbance; the report then compares them round by round (results/comparisons.ts).
 *   With `budgetSeconds` the rounds go on while the next one fits the budget (a rule that reads
 *   the clock, never the figures: docs/lab.md "The method under load").
 * Within a target, measurements always run one after the other.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { modeFacts, isNetworkMode } from "../components/modes";
import {
    caseIds,
    optInCases,
    measurementIds,
    measurementRunners,
    toolSecondsPerRepetition,
    validateScalingPods,
    type Figure,
    type MeasureContext,
    type MeasureSettings,
    type MeasurementId,
} from "./measure/measurements";
import { runnerProfile } from "./profiles";
import shuffle from "@stdlib/random-shuffle";
import { InterruptedError } from "../core/errors";
import { signedRankRank } from "./results/paired";
import { renderReport } from "./results/report";
import type { ClusterSession, Environment, SessionFactory } from "./sessions/session";
import type { CommandResult, Shell } from "./sessions/shell";
import { aggregate, roundRobinOrder, schedules, summarySchema, type Schedule, type BenchSummaryFile, type FigureInfo, type RunError, type Sample, type SkippedMeasurement } from "./results/summary";
import type { Target } from "./targets";
import { requireServiceProxies, serviceFigureId, serviceFigureLabel, validateServiceCounts, type ServiceAxisPoint } from "./service-axis";

/** What `runBenchmark` reports while it runs (the CLI prints these lines). */
export interface ProgressEvent {
    readonly kind: "plan" | "connect" | "measure" | "done" | "cleanup" | "error";
    readonly message: string;
    readonly target?: string;
    readonly measurement?: string;
    readonly repetition?: number;
    /** Steps finished and planned, for a progress counter. */
    readonly step?: number;
    readonly steps?: number;
}

export { schedules, type Schedule } from "./results/summary";

/** Concurrent only for separate clusters: targets sharing hardware would disturb each other. */
export function defaultSchedule(targets: readonly Pick<Target, "platform">[]): Schedule {
    return targets.length > 0 && targets.every((t) => t.platform === "aws-k3s") ? "concurrent" : "round-robin";
}

/**
 * What a caller passes: every per-measurement setting (`MeasureSettings`) may be given, the rest
 * come from `runnerProfile` (bench/profiles.ts); `requestTimeoutSeconds` is fixed by the runner.
 */
export interface BenchOptions extends Partial<Omit<MeasureSettings, "requestTimeoutSeconds">> {
    /** Default: `defaultSchedule(targets)`. "concurrent" is refused for targets that share hardware. */
    readonly schedule?: Schedule;
    /** Folder for raw outputs, summary.json, report.md and charts; created if missing. */
    readonly outDir: string;
    /** Repetitions of the whole round-robin; interleaved with `budgetSeconds`: at most this many rounds. */
    readonly repetitions?: number;
    /** Interleaved: seed of the per-block shuffles (default: from the clock; recorded in summary.json). */
    readonly seed?: number;
    /** Interleaved: seconds the measuring may take; rounds stop once the next would overrun (at least `minimumPairedRounds`). */
    readonly budgetSeconds?: number;
    /** Target name every figure is also expressed against (overhead %). */
    readonly baseline?: string;
    /** With `baseline`: the gate fails when a mode's gated figure is this many percent worse. */
    readonly maxOverheadPct?: number;
    /** Subset of measurement ids to run (default: all of `measurementIds`). */
    readonly measurements?: readonly string[];
    /** Notes the caller adds to summary.json and the report, first (e.g. the lab's caveat). */
    readonly notes?: readonly string[];
    readonly onProgress?: (event: ProgressEvent) => void;
    /** Aborting stops the run; everything started is removed before the promise settles. */
    readonly signal?: AbortSignal;
    /** How a target becomes a session; default by platform (aws-k3s, lab). Tests pass loopback. */
    readonly openSession?: SessionFactory;
    /**
     * The Service-count axis (docs/service-proxy.md): for each count in turn, every target is given
     * that many extra Services (`ClusterSession.serviceProxy`, required of every target), what its
     * proxy installed is read back into summary.json, and then everything is measured.
     */
    readonly serviceCounts?: readonly number[];
}

export interface BenchSummary extends BenchSummaryFile {
    readonly outDir: string;
    /** False only when the `maxOverheadPct` gate failed (measurement failures are in `errors`). */
    readonly gatePassed: boolean;
}

/** iperf3 `-b` syntax: a rate with an optional K, M or G suffix (iperf3(1), "-b, --bitrate"). */
export const iperf3Bitrate = /^\d+(\.\d+)?[KMG]?$/;

function positiveInteger(name: string, value: number | undefined, fallback: number, min = 1): number {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < min) throw new Error(`${name}: ${value} is not allowed; use an integer ≥ ${min}`);
    return v;
}

/** Validates options and fills in defaults; errors name the option, the value and what is allowed. */
export function resolveSettings(targets: readonly Target[], options: BenchOptions): BenchSummaryFile["settings"] {
    const names = targets.map((t) => t.name);
    if (targets.length === 0) throw new Error("targets: none given; pass at least one stack name or a --targets file");
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new Error(`targets: the name "${dup}" appears twice; target names must be unique`);
    for (const n of names) {
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(n)) throw new Error(`targets: name "${n}" is not allowed; use letters, digits, ".", "_" and "-"`);
    }
    if (options.baseline !== undefined && !names.includes(options.baseline)) {
        throw new Error(`baseline: "${options.baseline}" is not one of the targets (${names.join(", ")})`);
    }
    if (options.maxOverheadPct !== undefined) {
        if (options.baseline === undefined) throw new Error("maxOverheadPct: needs a baseline to measure the overhead against (--baseline <stack>)");
        if (!Number.isFinite(options.maxOverheadPct) || options.maxOverheadPct < 0) {
            throw new Error(`maxOverheadPct: ${options.maxOverheadPct} is not allowed; use a number ≥ 0 (percent)`);
        }
    }
    const measurements = (options.measurements ?? measurementIds) as readonly string[];
    for (const m of measurements) {
        if (!(measurementIds as readonly string[]).includes(m)) {
            throw new Error(`measurements: "${m}" is not a measurement; allowed: ${measurementIds.join(", ")}`);
        }
    }
    for (const c of options.cases ?? []) {
        if (!caseIds.includes(c)) throw new Error(`cases: "${c}" is not a case; allowed: ${caseIds.join(", ")}`);
    }
    const scalingPods = options.scalingPods ?? runnerProfile.scalingPods;
    validateScalingPods(scalingPods);
    if (options.serviceCounts !== undefined) validateServiceCounts(options.serviceCounts);
    const schedule = options.schedule ?? defaultSchedule(targets);
    if (!(schedules as readonly string[]).includes(schedule)) throw new Error(`schedule: "${schedule}" is not allowed; use one of ${schedules.join(", ")}`);
    const shared = targets.filter((t) => t.platform !== "aws-k3s");
    if (schedule === "concurrent" && shared.length > 0) {
        throw new Error(
            `schedule: "concurrent" measures targets at the same time, which is fair only for separate clusters; ${shared.map((t) => `${t.name} (${t.platform})`).join(", ")} share hardware with the others: use round-robin`,
        );
    }
    const udpBitrate = options.udpBitrate ?? runnerProfile.udpBitrate;
    if (!iperf3Bitrate.test(udpBitrate)) throw new Error(`udpBitrate: "${udpBitrate}" is not allowed; use iperf3 -b syntax such as 500M or 1G`);
    for (const key of ["costBitrate", "costPacketBitrate"] as const) {
        const rate = options[key];
        if (rate !== undefined && !iperf3Bitrate.test(rate)) throw new Error(`${key}: "${rate}" is not allowed; use iperf3 -b syntax such as 500M or 1G`);
    }
    return {
        repetitions: positiveInteger("repetitions", options.repetitions, runnerProfile.repetitions),
        schedule,
        measurements: measurementIds.filter((m) => measurements.includes(m)),
        durationSeconds: positiveInteger("durationSeconds", options.durationSeconds, runnerProfile.durationSeconds),
        warmupSeconds: positiveInteger("warmupSeconds", options.warmupSeconds, runnerProfile.warmupSeconds, 0),
        scalingPods,
        httpConnections: positiveInteger("httpConnections", options.httpConnections, runnerProfile.httpConnections),
        httpThreads: positiveInteger("httpThreads", options.httpThreads, runnerProfile.httpThreads),
        requestTimeoutSeconds: runnerProfile.requestTimeoutSeconds,
        udpBitrate,
        iperf3Port: positiveInteger("iperf3Port", options.iperf3Port, runnerProfile.iperf3Port),
        sockperfPort: positiveInteger("sockperfPort", options.sockperfPort, runnerProfile.sockperfPort),
        cases: options.cases,
        ...(options.costBitrate !== undefined ? { costBitrate: options.costBitrate } : {}),
        ...(options.costPacketBitrate !== undefined ? { costPacketBitrate: options.costPacketBitrate } : {}),
        ...(options.latencyMps !== undefined ? { latencyMps: positiveInteger("latencyMps", options.latencyMps, options.latencyMps) } : {}),
        ...(options.pinCpus ? { pinCpus: true } : {}),
        ...(schedule === "interleaved" ? { seed: options.seed ?? Date.now() % 2 ** 31 } : {}),
        ...(options.budgetSeconds !== undefined ? { budgetSeconds: budgetOf(schedule, options.budgetSeconds) } : {}),
        ...(options.serviceCounts !== undefined ? { serviceCounts: [...options.serviceCounts] } : {}),
    };
}

/**
 * The fewest rounds a paired comparison needs for a 95 % interval at all (Wilcoxon signed rank:
 * 6, results/paired.ts); a budgeted run measures at least these, whatever the clock says.
 */
export const minimumPairedRounds = (() => {
    let n = 1;
    while (!signedRankRank(n)) n++;
    return n;
})();

function budgetOf(schedule: Schedule, seconds: number): number {
    if (schedule !== "interleaved") throw new Error(`budgetSeconds: only the interleaved schedule measures rounds until a budget; schedule is "${schedule}"`);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`budgetSeconds: ${seconds} is not allowed; use a number of seconds > 0`);
    return seconds;
}

/**
 * Wall seconds the tools run for the whole benchmark (start-up, pods and retries come on top):
 * the sum over targets when they take turns, the longest target when they run concurrently.
 */
export function plannedToolSeconds(targets: readonly Target[], settings: BenchSummaryFile["settings"]): number {
    const perTarget = targets.map((t) => toolSecondsPerRepetition(settings.measurements, settings, t.platform !== "lab" || !!t.lab?.loadBalancerUrl));
    const wall = settings.schedule === "concurrent" ? Math.max(0, ...perTarget) : perTarget.reduce((a, b) => a + b, 0);
    return (settings.serviceCounts?.length ?? 1) * settings.repetitions * wall;
}

/** The default session factory: by platform. Imports lazily so the lab never loads ssh2/k8s. */
export const openSessionByPlatform: SessionFactory = async (target, signal) => {
    if (target.platform === "lab") return (await import("./sessions/lab")).openLabSession(target, signal);
    if (target.platform === "aws-k3s") return (await import("./sessions/aws-k3s")).openAwsK3sSession(target, signal);
    throw new Error(
        `target "${target.name}": platform "${target.platform}" has no default session; "loopback" targets are measured only with a session given in BenchOptions.openSession (tests, the sample report)`,
    );
};

/**
 * Refuses a results folder that could not be made or written: it or its nearest existing parent
 * must be a folder this process may write in (access(2) W_OK). Creates nothing.
 */
export function assertCanCreateFolder(key: string, dir: string): void {
    let existing = dir;
    while (!fs.existsSync(existing)) existing = path.dirname(existing);
    const problem = !fs.statSync(existing).isDirectory() ? `${existing} is not a folder` : !canWrite(existing) ? `${existing} is not writable` : undefined;
    if (problem) throw new Error(`${key}: ${JSON.stringify(dir)} cannot be created or written: ${problem}`);
}

function canWrite(dir: string): boolean {
    try {
        fs.accessSync(dir, fs.constants.W_OK);
        return true;
    } catch {
        return false;
    }
}

function safeFileName(s: string): string {
    return s.replace(/[^A-Za-z0-9._-]+/g, "_");
}

/** Raw output file text: where it ran, the exact command, then what it printed. */
export function rawFileText(target: string, shell: string, command: string, result: CommandResult): string {
    return [
        `# target: ${target}`,
        `# shell: ${shell}`,
        `# command: ${command}`,
        `# exit: ${result.code ?? result.signal ?? "signal"}`,
        "--- stdout ---",
        result.stdout,
        "--- stderr ---",
        result.stderr,
        "",
    ].join("\n");
}

/** Opens every target, measures them on the chosen schedule, closes everything, writes the results. */
export async function runBenchmark(targets: Target[], options: BenchOptions): Promise<BenchSummary> {
    const settings = resolveSettings(targets, options);
    const outDir = path.resolve(options.outDir);
    // Checked now, created with the first raw file (or the summary): a run that cannot start
    // (a dead target, a missing namespace) leaves no empty results folder behind.
    assertCanCreateFolder("outDir", outDir);
    const run = newRunState(targets, options, settings, outDir);
    announcePlan(run);
    try {
        // Connect to everything first: a dead target fails the run before any measurement.
        await openSessions(run, options.openSession ?? openSessionByPlatform);
        if (settings.serviceCounts) await measureServiceAxis(run, settings.serviceCounts);
        else await measureSchedule(run);
    } finally {
        await closeSessions(run);
    }
    if (options.signal?.aborted) run.aborted = true;
    return writeSummary(run);
}

type Settings = BenchSummaryFile["settings"];

/** What one run knows and has gathered; the steps below read it and add to it. */
interface RunState {
    readonly targets: readonly Target[];
    readonly options: BenchOptions;
    readonly settings: Settings;
    readonly outDir: string;
    readonly startedAt: string;
    readonly progress: (event: ProgressEvent) => void;
    readonly signal?: AbortSignal;
    /** Measurement steps planned (targets × repetitions × measurements), for the counter. */
    readonly steps: number;
    readonly sessions: Map<string, ClusterSession>;
    readonly figures: Map<string, FigureInfo>;
    readonly samples: Sample[];
    readonly environments: BenchSummaryFile["environments"][number][];
    readonly notes: Set<string>;
    readonly errors: RunError[];
    readonly skipped: SkippedMeasurement[];
    /** The order targets took their turns in, per repetition. */
    readonly order: string[][];
    /** Interleaved: every block's order. */
    readonly blocks: { round: number; block: string; targets: string[] }[];
    /** Set once the signal was seen aborted; stops every further repetition and measurement. */
    aborted: boolean;
    /** Measurement steps done (or skipped with their repetition), for the counter. */
    step: number;
    /** The Service count being measured (the axis); its figures' ids carry it. */
    services?: number;
    /** What each target's proxy installed at each Service count. */
    readonly serviceAxis: ServiceAxisPoint[];
}

function newRunState(targets: readonly Target[], options: BenchOptions, settings: Settings, outDir: string): RunState {
    return {
        targets,
        options,
        settings,
        outDir,
        startedAt: new Date().toISOString(),
        progress: options.onProgress ?? (() => undefined),
        signal: options.signal,
        steps:
            (settings.serviceCounts?.length ?? 1) * settings.repetitions * targets.length * (settings.schedule === "interleaved" ? interleavedBlocks(settings).length : settings.measurements.length),
        sessions: new Map(),
        figures: new Map(),
        samples: [],
        environments: [],
        notes: new Set(options.notes ?? []),
        errors: [],
        skipped: [],
        order: [],
        blocks: [],
        aborted: false,
        step: 0,
        serviceAxis: [],
    };
}

function announcePlan(run: RunState): void {
    const { targets, settings } = run;
    run.progress({
        kind: "plan",
        steps: run.steps,
        message:
            `${targets.length} target(s) × ${settings.serviceCounts ? `${settings.serviceCounts.length} Service count(s) (${settings.serviceCounts.join(", ")}) × ` : ""}${settings.repetitions} repetition(s) × ${settings.measurements.length} measurement(s) ` +
            `(${settings.measurements.join(", ")}), ${settings.schedule}; tools run ≈ ${Math.round(plannedToolSeconds(targets, settings) / 60)} min`,
    });
}

async function openSessions(run: RunState, openSession: SessionFactory): Promise<void> {
    for (const t of run.targets) {
        run.progress({ kind: "connect", target: t.name, message: `${t.name}: connecting (${t.platform})` });
        run.sessions.set(t.name, await openSession(t, run.signal));
    }
}

async function closeSessions(run: RunState): Promise<void> {
    const open = [...run.sessions.entries()];
    run.sessions.clear();
    await Promise.all(
        open.map(async ([name, s]) => {
            run.progress({ kind: "cleanup", target: name, message: `${name}: removing pods and processes` });
            await s.close().catch((err) => run.progress({ kind: "error", target: name, message: `${name}: cleanup failed: ${(err as Error).message}` }));
        }),
    );
}

/** Every target's repetitions on the run's schedule. */
async function measureSchedule(run: RunState): Promise<void> {
    if (run.settings.schedule === "concurrent") await measureConcurrently(run);
    else if (run.settings.schedule === "interleaved") await measureInterleaved(run);
    else await measureRoundRobin(run);
}

/**
 * The Service-count axis around the schedule: per count, every target's proxy is set to it and
 * read back, then the schedule runs as usual. A target whose proxy cannot be set ends the axis
 * (recorded as an error); what was measured before is kept.
 */
async function measureServiceAxis(run: RunState, counts: readonly number[]): Promise<void> {
    requireServiceProxies(run.sessions);
    for (const count of counts) {
        if (run.aborted || run.signal?.aborted) break;
        for (const t of run.targets) {
            const proxy = run.sessions.get(t.name)!.serviceProxy!;
            run.progress({ kind: "measure", target: t.name, measurement: "services", message: `${t.name}: ${count} extra Services (${proxy.mode})` });
            try {
                const started = performance.now();
                await proxy.setServices(count, run.signal);
                const setSeconds = (performance.now() - started) / 1000;
                run.serviceAxis.push({ target: t.name, mode: proxy.mode, services: count, installed: await proxy.installed(run.signal), setSeconds });
            } catch (err) {
                if (run.signal?.aborted) return;
                const message = `setting ${count} extra Services failed, larger counts not measured: ${(err as Error).message}`;
                run.errors.push({ target: t.name, repetition: 0, measurement: "services", message });
                run.progress({ kind: "error", target: t.name, measurement: "services", message: `${t.name}: ${message}` });
                return;
            }
        }
        run.services = count;
        await measureSchedule(run);
    }
    run.services = undefined;
}

/** Separate clusters: each target runs its repetitions in turn, all targets at once. */
async function measureConcurrently(run: RunState): Promise<void> {
    const { targets, settings } = run;
    for (let rep = 0; rep < settings.repetitions; rep++) run.order.push(targets.map((t) => t.name));
    // allSettled: sessions are closed only once every target's work has ended.
    const ended = await Promise.allSettled(
        targets.map(async (t) => {
            for (let rep = 0; rep < settings.repetitions && !run.aborted && !run.signal?.aborted; rep++) await measureRepetition(run, t, rep);
        }),
    );
    const broken = ended.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (broken) throw broken.reason;
}

/** Shared hardware: one target at a time, the order rotating by one every repetition. */
async function measureRoundRobin(run: RunState): Promise<void> {
    for (let rep = 0; rep < run.settings.repetitions && !run.aborted; rep++) {
        const round = roundRobinOrder(run.targets, rep);
        run.order.push(round.map((t) => t.name));
        for (const t of round) {
            if (run.signal?.aborted) {
                run.aborted = true;
                break;
            }
            await measureRepetition(run, t, rep);
        }
    }
}

/** One case of one measurement (the whole measurement for one without cases), run on every target in turn. */
interface Block {
    readonly measurement: MeasurementId;
    readonly cases?: readonly string[];
    readonly label: string;
}

/** The blocks of an interleaved round: every selected case, in the measurements' order. */
export function interleavedBlocks(settings: Pick<Settings, "measurements" | "cases">): Block[] {
    return settings.measurements.flatMap((m): Block[] => {
        const cases = caseIds.filter((c) => c.startsWith(`${m}.`) && (settings.cases === undefined ? !optInCases.includes(c) : settings.cases.includes(c)));
        return cases.length === 0 ? [{ measurement: m, label: m }] : cases.map((c) => ({ measurement: m, cases: [c], label: c }));
    });
}

/**
 * Shared hardware, fine-grained: each round runs every block on every target, the targets in a
 * fresh seeded random order per block. With a budget, a round starts only if a round as long as
 * the longest so far still fits (and always until `minimumPairedRounds`).
 */
async function measureInterleaved(run: RunState): Promise<void> {
    const { settings, targets } = run;
    const shuffled = shuffle.factory({ seed: settings.seed });
    const blocks = interleavedBlocks(settings);
    const started = Date.now();
    let longestRound = 0;
    for (let rep = 0; rep < settings.repetitions && !run.aborted; rep++) {
        const roundStart = Date.now();
        const budgetLeft = settings.budgetSeconds === undefined ? undefined : settings.budgetSeconds - (roundStart - started) / 1000;
        if (budgetLeft !== undefined && rep >= minimumPairedRounds && longestRound > budgetLeft) break;
        const clkTcks = await roundEnvironments(run, rep);
        for (const block of blocks) {
            const order = (shuffled([...targets]) as Target[]).filter((t) => clkTcks.has(t.name));
            run.blocks.push({ round: rep + 1, block: block.label, targets: order.map((t) => t.name) });
            if (block === blocks[0]) run.order.push(order.map((t) => t.name));
            for (const t of order) {
                if (run.signal?.aborted) run.aborted = true;
                if (run.aborted) return;
                run.step++;
                const session = run.sessions.get(t.name)!;
                if (skipIfCannot(run, t, session, block.measurement)) continue;
                const left = budgetLeft === undefined ? "" : `, budget ≈ ${Math.max(0, Math.round(budgetLeft - (Date.now() - roundStart) / 1000))} s left`;
                if (!(await measureOne(run, t, rep, session, block.measurement, clkTcks.get(t.name)!, block, left))) return;
            }
        }
        longestRound = Math.max(longestRound, (Date.now() - roundStart) / 1000);
    }
}

/** Every target's environment at the start of a round; a target whose probe failed sits the round out. */
async function roundEnvironments(run: RunState, rep: number): Promise<Map<string, number>> {
    const clkTcks = new Map<string, number>();
    for (const t of run.targets) {
        try {
            const environment = await run.sessions.get(t.name)!.environment();
            run.environments.push({ target: t.name, repetition: rep + 1, environment });
            clkTcks.set(t.name, environment.nodes[0]?.clkTck || 100);
        } catch (err) {
            endRepetition(run, t, rep, err as Error);
        }
    }
    return clkTcks;
}

/** One repetition of one target: its environment, then its measurements one after the other. */
async function measureRepetition(run: RunState, t: Target, rep: number): Promise<void> {
    if (run.signal?.aborted) {
        run.aborted = true;
        return;
    }
    const session = run.sessions.get(t.name)!;
    let environment: Environment;
    try {
        environment = await session.environment();
    } catch (err) {
        endRepetition(run, t, rep, err as Error);
        return;
    }
    run.environments.push({ target: t.name, repetition: rep + 1, environment });
    const clkTck = environment.nodes[0]?.clkTck || 100;
    for (const m of run.settings.measurements) {
        if (run.signal?.aborted) {
            run.aborted = true;
            break;
        }
        run.step++;
        if (skipIfCannot(run, t, session, m)) continue;
        if (!(await measureOne(run, t, rep, session, m, clkTck))) break;
    }
}

/** The environment probe failed: the repetition ends (recorded as an error, unless the run was aborted). */
function endRepetition(run: RunState, t: Target, rep: number, err: Error): void {
    if (run.signal?.aborted) {
        run.aborted = true;
        return;
    }
    const message = `environment probe failed, repetition skipped: ${err.message}`;
    run.errors.push({ target: t.name, repetition: rep + 1, measurement: "environment", message });
    run.progress({ kind: "error", target: t.name, repetition: rep + 1, message: `${t.name}: ${message}` });
    run.step += run.settings.measurements.length;
}

/** True when the session cannot measure `m`; the reason is recorded once per target. */
function skipIfCannot(run: RunState, t: Target, session: ClusterSession, m: MeasurementId): boolean {
    const cannot = session.cannotMeasure?.(m);
    if (cannot === undefined) return false;
    if (!run.skipped.some((x) => x.target === t.name && x.measurement === m)) {
        run.skipped.push({ target: t.name, measurement: m, reason: cannot });
        run.notes.add(`${t.name}: ${m} not measured: ${cannot}`);
        run.progress({ kind: "measure", target: t.name, measurement: m, message: `${t.name}: ${m} skipped: ${cannot}` });
    }
    return true;
}

/**
 * One measurement of one repetition (only `block`'s cases when given); false when the run was
 * aborted during it. A failure is recorded.
 */
async function measureOne(run: RunState, t: Target, rep: number, session: ClusterSession, m: MeasurementId, clkTck: number, block?: Block, budgetNote = ""): Promise<boolean> {
    const { step } = run;
    // A budgeted run does not know its step count; it says the budget left instead.
    const steps = run.settings.budgetSeconds === undefined ? run.steps : undefined;
    const counter = steps === undefined ? `[${step}]` : `[${step}/${steps}]`;
    const what = block?.cases ? block.label : m;
    run.progress({
        kind: "measure",
        target: t.name,
        measurement: m,
        repetition: rep + 1,
        step,
        steps,
        message: `${counter} ${run.settings.schedule === "interleaved" ? "round" : "repetition"} ${rep + 1}: ${t.name}: ${what}${budgetNote}`,
    });
    try {
        const measured: Figure[] = await measurementRunners[m]({
            session,
            settings: block?.cases ? { ...run.settings, cases: block.cases } : run.settings,
            signal: run.signal,
            record: rawRecorder(run, t, rep, m),
            note: (text) => run.notes.add(`${t.name}: ${text}`),
            clkTck,
        });
        for (const f of measured) {
            const { value, raw, ...plain } = f;
            const info = run.services === undefined ? plain : { ...plain, id: serviceFigureId(f.id, run.services), label: serviceFigureLabel(f.label, run.services) };
            if (!run.figures.has(info.id)) run.figures.set(info.id, info);
            run.samples.push({ target: t.name, repetition: rep + 1, id: info.id, value, raw });
        }
    } catch (err) {
        if (run.signal?.aborted) {
            run.aborted = true;
            return false;
        }
        const message = (err as Error).message;
        run.errors.push({ target: t.name, repetition: rep + 1, measurement: m, message });
        run.progress({ kind: "error", target: t.name, measurement: m, repetition: rep + 1, message: `${t.name}: ${m} failed: ${message}` });
    }
    return true;
}

/** Writes raw outputs under raw/<target>/rep<n>/<measurement>/, making the folders (and the results folder) on first use. */
function rawRecorder(run: RunState, t: Target, rep: number, m: MeasurementId): MeasureContext["record"] {
    const dir = path.join("raw", safeFileName(t.name), ...(run.services === undefined ? [] : [`services${run.services}`]), `rep${rep + 1}`, m);
    return (name: string, shell: Shell, command: string, result: CommandResult): string => {
        const rel = path.join(dir, `${safeFileName(name)}.txt`);
        fs.mkdirSync(path.join(run.outDir, path.dirname(rel)), { recursive: true });
        fs.writeFileSync(path.join(run.outDir, rel), rawFileText(t.name, shell.name, command, result));
        return rel;
    };
}

/** summary.json, then report.md and the charts from it; throws InterruptedError after an abort. */
async function writeSummary(run: RunState): Promise<BenchSummary> {
    const { targets, options, outDir } = run;
    const figureList = [...run.figures.values()];
    const { stats, gate, paired } = aggregate(
        figureList,
        run.samples,
        targets.map((t) => t.name),
        options.baseline,
        options.maxOverheadPct,
        run.settings.schedule,
    );
    const file: BenchSummaryFile = {
        schema: summarySchema,
        startedAt: run.startedAt,
        finishedAt: new Date().toISOString(),
        settings: run.settings,
        targets: targets.map((t) => ({
            name: t.name,
            mode: t.mode,
            platform: t.platform,
            description: isNetworkMode(t.mode) ? modeFacts[t.mode].description : undefined,
            frontends: t.frontends,
        })),
        order: run.order,
        ...(run.blocks.length > 0 ? { blocks: run.blocks } : {}),
        environments: run.environments,
        figures: figureList,
        samples: run.samples,
        stats,
        ...(paired ? { paired } : {}),
        baseline: options.baseline,
        gate,
        notes: [...run.notes],
        errors: run.errors,
        skipped: run.skipped.length > 0 ? run.skipped : undefined,
        aborted: run.aborted || undefined,
        serviceAxis: run.settings.serviceCounts ? { counts: run.settings.serviceCounts, points: run.serviceAxis } : undefined,
    };
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, "summary.json"), JSON.stringify(file, null, 2) + "\n");
    await renderReport(outDir);
    run.progress({ kind: "done", message: `results in ${outDir} (report.md, summary.json, charts/, raw/)` });
    if (run.aborted) throw new InterruptedError(`benchmark aborted; partial results in ${outDir}`);
    return { ...file, outDir, gatePassed: gate?.passed ?? true };
}
