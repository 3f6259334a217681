/**
 * summary.json: everything a report needs, so `bench report <folder>` re-renders a saved run
 * offline. Built from the per-repetition figures by one pure function (`aggregate`).
 */
import type { Environment } from "./session";
import type { MeasureSettings, MeasurementId } from "./measurements";
import { overheadPct, summarize, withinNoise, type Better, type Summary } from "./stats";

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
    /** The 95% intervals overlap the baseline's: the difference is within the noise. */
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

export interface TargetInfo {
    readonly name: string;
    readonly mode: string;
    readonly platform: string;
    readonly description?: string;
}

export interface BenchSummaryFile {
    readonly schema: typeof summarySchema;
    readonly startedAt: string;
    readonly finishedAt: string;
    readonly settings: MeasureSettings & { readonly repetitions: number; readonly measurements: readonly MeasurementId[] };
    readonly targets: readonly TargetInfo[];
    /** Target order in each repetition (rotated by one each time). */
    readonly order: readonly (readonly string[])[];
    readonly environments: readonly { readonly target: string; readonly repetition: number; readonly environment: Environment }[];
    readonly figures: readonly FigureInfo[];
    readonly samples: readonly Sample[];
    readonly stats: readonly FigureStats[];
    readonly baseline?: string;
    readonly gate?: { readonly maxOverheadPct: number; readonly violations: readonly GateViolation[]; readonly passed: boolean };
    readonly notes: readonly string[];
    readonly errors: readonly RunError[];
    /** Set when the run was interrupted (Ctrl-C, abort signal): the figures cover what finished. */
    readonly aborted?: boolean;
}

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
): { stats: FigureStats[]; gate?: BenchSummaryFile["gate"] } {
    const stats: FigureStats[] = [];
    const byKey = new Map<string, number[]>();
    for (const s of samples) {
        const key = `${s.target}\u0000${s.id}`;
        byKey.set(key, [...(byKey.get(key) ?? []), s.value]);
    }
    const summaryOf = (target: string, id: string): Summary | undefined => {
        const xs = byKey.get(`${target}\u0000${id}`)?.filter(Number.isFinite);
        return xs && xs.length ? summarize(xs) : undefined;
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
            stats.push({
                target,
                id: f.id,
                stats: st,
                overheadPct: over,
                differenceFromBaseline: st.median - base.median,
                withinNoiseOfBaseline: withinNoise(st, base),
            });
            if (maxOverheadPct !== undefined && f.gated && over !== undefined && over > maxOverheadPct) {
                violations.push({ target, id: f.id, overheadPct: over });
            }
        }
    }
    const gate = maxOverheadPct !== undefined ? { maxOverheadPct, violations, passed: violations.length === 0 } : undefined;
    return { stats, gate };
}
