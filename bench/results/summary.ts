/**
 * summary.json: everything a report needs, so `bench report <folder>` re-renders a saved run
 * offline. Built from the per-repetition figures by one pure function (`aggregate`).
 */
import { z } from "zod";
import { readJsonFile } from "../../core/schema";
import type { Environment } from "../sessions/session";
import { frontendsSchema, type FrontendsOutput } from "../targets";
import { measurementIds, type MeasureSettings, type MeasurementId } from "../measure/measurements";
import { serviceProxyModes } from "../../components/serviceProxy";
import type { ServiceAxisRecord } from "../service-axis";
import { differenceInterval95, differenceWithinNoise, overheadPct, summarize, type Better, type Difference, type Summary } from "./stats";
import { pairedComparisons, type PairedComparison } from "./comparisons";

export const summarySchema = "cni-bench/summary/1";

/** What a figure is, without its value. */
export interface FigureInfo {
    readonly id: string;
    readonly measurement: MeasurementId;
    readonly label: string;
    readonly unit: string;
    readonly better: Better;
    readonly gated?: boolean;
}

/** One figure measured once: a target, a repetition. */
export interface Sample {
    readonly target: string;
    readonly repetition: number;
    readonly id: string;
    readonly value: number;
    readonly raw: readonly string[];
}

/** A figure's statistics for one target, and how it compares with the baseline. */
export interface FigureStats {
    readonly target: string;
    readonly id: string;
    readonly stats: Summary;
    /** Percent worse than the baseline's median (negative: better); only with a baseline. */
    readonly overheadPct?: number;
    /** Difference from the baseline in the figure's unit (median − baseline median). */
    readonly differenceFromBaseline?: number;
    /** mean − baseline mean with Welch's 95% interval on the difference, and in % of the
     * baseline's median (stats.ts differenceInterval95); undefined with < 2 repetitions a side. */
    readonly difference?: Difference;
    /** The difference's 95% interval contains 0 (or there is none): the run does not show it. */
    readonly withinNoiseOfBaseline?: boolean;
}

export interface GateViolation {
    readonly target: string;
    readonly id: string;
    readonly overheadPct: number;
}

export interface RunError {
    readonly target: string;
    readonly repetition: number;
    readonly measurement: string;
    readonly message: string;
}

/** A measurement the target's session cannot run (ClusterSession.cannotMeasure), with why. */
export interface SkippedMeasurement {
    readonly target: string;
    readonly measurement: string;
    readonly reason: string;
}

export interface TargetInfo {
    readonly name: string;
    readonly mode: string;
    readonly platform: string;
    readonly description?: string;
    /** Where and how its frontends answer (the target's `frontends`; absent in older files and
     * in targets files that do not give it). */
    readonly frontends?: FrontendsOutput;
}

export interface BenchSummaryFile {
    readonly schema: typeof summarySchema;
    readonly startedAt: string;
    readonly finishedAt: string;
    /** `schedule` is absent in files written before targets could be measured concurrently. */
    readonly settings: MeasureSettings & {
        readonly repetitions: number;
        readonly schedule?: Schedule;
        readonly measurements: readonly MeasurementId[];
        /** Interleaved: the shuffles' seed, so a run's order can be replayed. */
        readonly seed?: number;
        /** Interleaved: the measuring phase's time budget; rounds stop when the next would overrun it (bench/run.ts). */
        readonly budgetSeconds?: number;
        /** The Service-count axis (bench/service-axis.ts): each count measured in turn. */
        readonly serviceCounts?: readonly number[];
    };
    readonly targets: readonly TargetInfo[];
    /** Target order in each repetition (round-robin: rotated by one each time; concurrent: all at once; interleaved: the first block's). */
    readonly order: readonly (readonly string[])[];
    /** Interleaved: the order of every block (one case of one measurement) in every round. */
    readonly blocks?: readonly { readonly round: number; readonly block: string; readonly targets: readonly string[] }[];
    /** Interleaved: every pair of targets compared round by round (comparisons.ts). */
    readonly paired?: readonly PairedComparison[];
    readonly environments: readonly { readonly target: string; readonly repetition: number; readonly environment: Environment }[];
    readonly figures: readonly FigureInfo[];
    readonly samples: readonly Sample[];
    readonly stats: readonly FigureStats[];
    readonly baseline?: string;
    readonly gate?: { readonly maxOverheadPct: number; readonly violations: readonly GateViolation[]; readonly passed: boolean };
    readonly notes: readonly string[];
    readonly errors: readonly RunError[];
    /** Measurements not run on a target because its session cannot (not failures). */
    readonly skipped?: readonly SkippedMeasurement[];
    /** Set when the run was interrupted (Ctrl-C, abort signal): the figures cover what finished. */
    readonly aborted?: boolean;
    /** The Service-count axis: counts asked for and what each target's proxy had installed at each. */
    readonly serviceAxis?: ServiceAxisRecord;
}

/** How targets take turns (bench/run.ts says when each is fair). */
export const schedules = ["concurrent", "round-robin", "interleaved"] as const;
export type Schedule = (typeof schedules)[number];

/** Order of targets in repetition `r` (0-based): rotated left by r, so each leads once in turn. */
export function roundRobinOrder<T>(items: readonly T[], repetition: number): T[] {
    if (items.length === 0) return [];
    const k = repetition % items.length;
    return [...items.slice(k), ...items.slice(0, k)];
}

/** Statistics per target and figure, overhead against the baseline, and the gate. */
export function aggregate(
    figures: readonly FigureInfo[],
    samples: readonly Sample[],
    targets: readonly string[],
    baseline?: string,
    maxOverheadPct?: number,
    schedule?: Schedule,
): { stats: FigureStats[]; gate?: BenchSummaryFile["gate"]; paired?: PairedComparison[] } {
    const stats: FigureStats[] = [];
    const byKey = new Map<string, number[]>();
    for (const s of samples) {
        const key = `${s.target}\u0000${s.id}`;
        byKey.set(key, [...(byKey.get(key) ?? []), s.value]);
    }
    const valuesOf = (target: string, id: string): number[] => byKey.get(`${target}\u0000${id}`)?.filter(Number.isFinite) ?? [];
    const summaryOf = (target: string, id: string): Summary | undefined => {
        const xs = valuesOf(target, id);
        return xs.length ? summarize(xs) : undefined;
    };
    const violations: GateViolation[] = [];
    for (const f of figures) {
        const base = baseline !== undefined ? summaryOf(baseline, f.id) : undefined;
        for (const target of targets) {
            const st = summaryOf(target, f.id);
            if (!st) continue;
            if (!base || target === baseline) {
                stats.push({ target, id: f.id, stats: st });
                continue;
            }
            const over = overheadPct(st.median, base.median, f.better);
            const difference = differenceInterval95(valuesOf(target, f.id), valuesOf(baseline!, f.id));
            stats.push({
                target,
                id: f.id,
                stats: st,
                overheadPct: over,
                differenceFromBaseline: st.median - base.median,
                difference,
                withinNoiseOfBaseline: differenceWithinNoise(difference),
            });
            if (maxOverheadPct !== undefined && f.gated && over !== undefined && over > maxOverheadPct) {
                violations.push({ target, id: f.id, overheadPct: over });
            }
        }
    }
    const gate = maxOverheadPct !== undefined ? { maxOverheadPct, violations, passed: violations.length === 0 } : undefined;
    // Round by round only where the targets took turns within each round, case by case.
    return { stats, gate, ...(schedule === "interleaved" ? { paired: pairedComparisons(figures, samples, targets) } : {}) };
}

// ---- summary.json as read back (`bench report`, the lab): checked with zod, which names the
// wrong field (core/schema.ts), instead of a cast that fails pages later.

const finite = z.number();
const statsSchema = z.object({
    n: z.number().int().min(1),
    median: finite,
    mean: finite,
    stdev: finite,
    ci95: z.object({ low: finite, high: finite }).optional(),
    min: finite,
    max: finite,
});
const environmentSchema = z.looseObject({
    platform: z.string(),
    mode: z.string(),
    nodes: z.array(
        z.looseObject({
            name: z.string(),
            kernel: z.string(),
            cpus: z.number(),
            clkTck: z.number(),
            nicInterface: z.string(),
            nicMtu: z.number(),
            cilium: z.object({ hostRouting: z.enum(["BPF", "Legacy"]), masquerading: z.string(), network: z.string(), routingLine: z.string(), masqueradingLine: z.string() }).optional(),
        }),
    ),
    configuredMtu: z.object({ node: z.number(), pod: z.number() }),
    sharedKernel: z.boolean(),
});

export const summaryFileSchema = z.object({
    schema: z.literal(summarySchema),
    startedAt: z.string(),
    finishedAt: z.string(),
    settings: z.looseObject({
        repetitions: z.number().int().min(1),
        schedule: z.enum(schedules).optional(),
        seed: z.number().int().optional(),
        budgetSeconds: z.number().optional(),
        measurements: z.array(z.enum(measurementIds)),
        durationSeconds: z.number(),
        warmupSeconds: z.number(),
        scalingPods: z.array(z.number()),
        httpConnections: z.number(),
        httpThreads: z.number(),
        requestTimeoutSeconds: z.number(),
        udpBitrate: z.string(),
        iperf3Port: z.number(),
        sockperfPort: z.number(),
        cases: z.array(z.string()).optional(),
        serviceCounts: z.array(z.number().int().min(0)).optional(),
    }),
    targets: z.array(
        z.object({
            name: z.string(),
            mode: z.string(),
            platform: z.string(),
            description: z.string().optional(),
            frontends: frontendsSchema.optional(),
        }),
    ),
    order: z.array(z.array(z.string())),
    blocks: z.array(z.object({ round: z.number().int(), block: z.string(), targets: z.array(z.string()) })).optional(),
    paired: z
        .array(
            z.object({
                id: z.string(),
                a: z.string(),
                b: z.string(),
                n: z.number().int(),
                ratio: finite,
                low: finite.optional(),
                high: finite.optional(),
                coverage: finite.optional(),
                verdict: z.enum(["a better", "b better", "not separated"]),
                load: z.object({ imbalanceCpus: finite, slopePerCpu: finite, logShift: finite, holds: z.boolean().optional() }).optional(),
            }),
        )
        .optional(),
    environments: z.array(z.object({ target: z.string(), repetition: z.number().int(), environment: environmentSchema })),
    figures: z.array(z.object({ id: z.string(), measurement: z.enum(measurementIds), label: z.string(), unit: z.string(), better: z.enum(["higher", "lower"]), gated: z.boolean().optional() })),
    samples: z.array(z.object({ target: z.string(), repetition: z.number().int(), id: z.string(), value: z.number(), raw: z.array(z.string()) })),
    stats: z.array(
        z.object({
            target: z.string(),
            id: z.string(),
            stats: statsSchema,
            overheadPct: z.number().optional(),
            differenceFromBaseline: z.number().optional(),
            difference: z.object({ estimate: finite, low: finite, high: finite, df: finite, pct: z.object({ estimate: finite, low: finite, high: finite }).optional() }).optional(),
            withinNoiseOfBaseline: z.boolean().optional(),
        }),
    ),
    baseline: z.string().optional(),
    gate: z.object({ maxOverheadPct: z.number(), violations: z.array(z.object({ target: z.string(), id: z.string(), overheadPct: z.number() })), passed: z.boolean() }).optional(),
    notes: z.array(z.string()),
    errors: z.array(z.object({ target: z.string(), repetition: z.number().int(), measurement: z.string(), message: z.string() })),
    skipped: z.array(z.object({ target: z.string(), measurement: z.string(), reason: z.string() })).optional(),
    aborted: z.boolean().optional(),
    serviceAxis: z
        .object({
            counts: z.array(z.number().int().min(0)),
            points: z.array(
                z.object({
                    target: z.string(),
                    mode: z.enum(serviceProxyModes),
                    services: z.number().int().min(0),
                    installed: z.record(z.string(), z.number()),
                    setSeconds: z.number().min(0).optional(),
                }),
            ),
        })
        .optional(),
});

/** Reads a summary.json and checks it field by field; the error names the file and the field. */
export function readSummaryFile(file: string): BenchSummaryFile {
    // The environment is checked for what the report reads; its optional facts pass through as written.
    return readJsonFile(summaryFileSchema, file) as BenchSummaryFile;
}
