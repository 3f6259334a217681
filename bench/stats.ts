/**
 * Statistics for repeated measurements. Every figure gets the median of its repetitions (what
 * the report prints, as in the 40GbE results of FACTS.md) and a 95% confidence interval of the
 * MEAN from Student's t distribution (as k8s-netperf reports): mean ± t(0.975, n−1)·s/√n.
 * Why not a distribution-free interval of the median: with the default 3 repetitions the widest
 * such interval (min..max) covers the median only 75% of the time (1 − 2·0.5³), so it cannot
 * be a 95% interval; the t-interval assumes roughly normal noise, which repeated throughput
 * and latency runs on the same hardware approximate.
 */

export interface Summary {
    readonly n: number;
    readonly median: number;
    readonly mean: number;
    /** Sample standard deviation (n − 1); 0 for one sample. */
    readonly stdev: number;
    /** 95% t-interval of the mean; undefined with fewer than 2 samples. */
    readonly ci95?: { readonly low: number; readonly high: number };
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

/** Two-sided 95% quantiles t(0.975, df), df = 1…30, from the standard t table. */
const t975 = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
    2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** t(0.975, df); beyond df 30 the table's next rows (40: 2.021, 60: 2.000, 120: 1.980), then 1.96. */
export function tQuantile975(df: number): number {
    if (!Number.isInteger(df) || df < 1) throw new Error(`degrees of freedom must be a positive integer, got ${df}`);
    if (df <= 30) return t975[df - 1];
    if (df <= 40) return 2.021;
    if (df <= 60) return 2.0;
    if (df <= 120) return 1.98;
    return 1.96;
}

export function summarize(xs: readonly number[]): Summary {
    const finite = xs.filter((x) => Number.isFinite(x));
    if (finite.length === 0) throw new Error("no finite samples to summarize");
    const m = mean(finite);
    const s = sampleStdev(finite);
    const half = finite.length >= 2 ? (tQuantile975(finite.length - 1) * s) / Math.sqrt(finite.length) : undefined;
    return {
        n: finite.length,
        median: median(finite),
        mean: m,
        stdev: s,
        ci95: half === undefined ? undefined : { low: m - half, high: m + half },
        min: Math.min(...finite),
        max: Math.max(...finite),
    };
}

/** Whether two figures' intervals overlap: then their difference is within the noise. Without an
 * interval (one repetition) nothing can be told apart, so it counts as overlapping. */
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
