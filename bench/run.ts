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
 *   repetition, so slow drift (a noisy neighbour, a warming cache) hits every mode alike. The only
 *   fair choice when targets share hardware (lab, loopback: one kernel); the default otherwise.
 * Within a target, measurements always run one after the other.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { modeFacts, isNetworkMode } from "../components/modes";
import {
    caseIds,
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
import { InterruptedError } from "../core/errors";
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
    /** Repetitions of the whole round-robin. */
    readonly repetitions?: number;
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
        ...(options.serviceCounts !== undefined ? { serviceCounts: [...options.serviceCounts] } : {}),
    };
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
        steps: (settings.serviceCounts?.length ?? 1) * settings.repetitions * targets.length * settings.measurements.length,
        sessions: new Map(),
        figures: new Map(),
        samples: [],
        environments: [],
        notes: new Set(options.notes ?? []),
        errors: [],
        skipped: [],
        order: [],
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
                await proxy.setServices(count, run.signal);
                run.serviceAxis.push({ target: t.name, mode: proxy.mode, services: count, installed: await proxy.installed(run.signal) });
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

/** One measurement of one repetition; false when the run was aborted during it. A failure is recorded. */
async function measureOne(run: RunState, t: Target, rep: number, session: ClusterSession, m: MeasurementId, clkTck: number): Promise<boolean> {
    const { step, steps } = run;
    run.progress({ kind: "measure", target: t.name, measurement: m, repetition: rep + 1, step, steps, message: `[${step}/${steps}] repetition ${rep + 1}: ${t.name}: ${m}` });
    try {
        const measured: Figure[] = await measurementRunners[m]({
            session,
            settings: run.settings,
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
    const { stats, gate } = aggregate(
        figureList,
        run.samples,
        targets.map((t) => t.name),
        options.baseline,
        options.maxOverheadPct,
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
        environments: run.environments,
        figures: figureList,
        samples: run.samples,
        stats,
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
