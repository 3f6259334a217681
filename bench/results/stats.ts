/**
 * Statistics for repeated measurements: each figure's median (what the report prints), a 95%
 * interval (Student's t on the logarithms when every sample is positive, since run-to-run noise is
 * multiplicative; else on the values, held at 0 for counts), and Welch's interval for a figure's
 * difference from the baseline. Quantiles from @stdlib, not a table. Methods, why, and how they are
 * checked: docs/benchmark.md, "Fairness and statistics".
 */
import tQuantile from "@stdlib/stats-base-dists-t-quantile";

export type IntervalMethod = "log-t" | "t" | "t-clipped-at-0";

export interface Summary {
    readonly n: number;
    readonly median: number;
    readonly mean: number;
    /** Sample standard deviation (n − 1); 0 for one sample. */
    readonly stdev: number;
    /** 95% interval (see the module doc for the method); undefined with fewer than 2 samples. */
    readonly ci95?: { readonly low: number; readonly high: number };
    /** How `ci95` was computed. */
    readonly ciMethod?: IntervalMethod;
    readonly min: number;
    readonly max: number;
}

export function median(xs: readonly number[]): number {
    if (xs.length === 0) throw new Error("median of no samples");
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function mean(xs: readonly number[]): number {
    if (xs.length === 0) throw new Error("mean of no samples");
    return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function sampleStdev(xs: readonly number[]): number {
    if (xs.length < 2) return 0;
    const m = mean(xs);
    return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** t(0.975, df): the two-sided 95% quantile of Student's t with `df` degrees of freedom. */
export function tQuantile975(df: number): number {
    if (!Number.isInteger(df) || df < 1) throw new Error(`degrees of freedom must be a positive integer, got ${df}`);
    return tQuantile(0.975, df);
}

/** The 95% interval of `xs` (n ≥ 2) by the method the samples allow (module doc). */
export function interval95(xs: readonly number[]): { low: number; high: number; method: IntervalMethod } {
    if (xs.length < 2) throw new Error(`an interval needs at least 2 samples, got ${xs.length}`);
    const t = tQuantile975(xs.length - 1);
    if (xs.every((x) => x > 0)) {
        const logs = xs.map(Math.log);
        const half = (t * sampleStdev(logs)) / Math.sqrt(xs.length);
        const centre = mean(logs);
        return { low: Math.exp(centre - half), high: Math.exp(centre + half), method: "log-t" };
    }
    const m = mean(xs);
    const half = (t * sampleStdev(xs)) / Math.sqrt(xs.length);
    if (xs.every((x) => x >= 0)) return { low: Math.max(0, m - half), high: m + half, method: "t-clipped-at-0" };
    return { low: m - half, high: m + half, method: "t" };
}

export function summarize(xs: readonly number[]): Summary {
    const finite = xs.filter((x) => Number.isFinite(x));
    if (finite.length === 0) throw new Error("no finite samples to summarize");
    const ci = finite.length >= 2 ? interval95(finite) : undefined;
    return {
        n: finite.length,
        median: median(finite),
        mean: mean(finite),
        stdev: sampleStdev(finite),
        ci95: ci && { low: ci.low, high: ci.high },
        ciMethod: ci?.method,
        min: Math.min(...finite),
        max: Math.max(...finite),
    };
}

/**
 * A figure's difference from the baseline with a 95% interval of its own: Welch's t interval for
 * two means with unequal variances, Welch–Satterthwaite df, d ± t(0.975, df)·se (NIST/SEMATECH
 * e-Handbook of Statistical Methods §7.3.1, https://www.itl.nist.gov/div898/handbook/prc/section3/prc31.htm).
 * `pct` is the same in percent of the baseline's median, taken as the scale. Why this method and
 * how it is checked: docs/benchmark.md, "Fairness and statistics".
 */
export interface Difference {
    /** mean(value) − mean(baseline), in the figure's unit. */
    readonly estimate: number;
    readonly low: number;
    readonly high: number;
    /** Welch–Satterthwaite degrees of freedom. */
    readonly df: number;
    /** The same in percent of the baseline's median; undefined when that median is 0. */
    readonly pct?: { readonly estimate: number; readonly low: number; readonly high: number };
}

/** The Welch 95% interval of mean(xs) − mean(base); undefined with fewer than 2 samples on a side. */
export function differenceInterval95(xs: readonly number[], base: readonly number[]): Difference | undefined {
    const a = xs.filter(Number.isFinite);
    const b = base.filter(Number.isFinite);
    if (a.length < 2 || b.length < 2) return undefined;
    const estimate = mean(a) - mean(b);
    const va = sampleStdev(a) ** 2 / a.length;
    const vb = sampleStdev(b) ** 2 / b.length;
    const se = Math.sqrt(va + vb);
    // Both sides without spread (identical repetitions): the difference is exactly what was seen.
    const df = se === 0 ? a.length + b.length - 2 : (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
    const half = se === 0 ? 0 : tQuantile(0.975, df) * se;
    const scale = median(b);
    const pct = scale !== 0 ? { estimate: (100 * estimate) / scale, low: (100 * (estimate - half)) / scale, high: (100 * (estimate + half)) / scale } : undefined;
    // A negative baseline median would swap the percent bounds; order them.
    const ordered = pct && pct.low > pct.high ? { ...pct, low: pct.high, high: pct.low } : pct;
    return { estimate, low: estimate - half, high: estimate + half, df, pct: ordered };
}

/** The run does not show a difference: its interval contains 0 (or there is no interval). */
export function differenceWithinNoise(d: Difference | undefined): boolean {
    return d === undefined || (d.low <= 0 && 0 <= d.high);
}

/** Whether two figures' own intervals overlap (the rankings' conservative "cannot tell apart";
 * a difference from the baseline is judged by its own interval, `differenceInterval95`). Without
 * an interval (one repetition) nothing can be told apart, so it counts as overlapping. */
export function withinNoise(a: Summary, b: Summary): boolean {
    if (!a.ci95 || !b.ci95) return true;
    return a.ci95.low <= b.ci95.high && b.ci95.low <= a.ci95.high;
}

/** Which way is better for a figure. */
export type Better = "higher" | "lower";

/**
 * How much worse `value` is than `base`, in percent of `base` (negative: better). Throughput
 * 8 vs 10 → 20% worse; latency 12 vs 10 → 20% worse.
 */
export function overheadPct(value: number, base: number, better: Better): number | undefined {
    if (base === 0) return undefined;
    return better === "higher" ? ((base - value) / base) * 100 : ((value - base) / base) * 100;
}
