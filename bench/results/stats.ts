/**
 * Statistics for repeated measurements. Every figure gets the median of its repetitions (what
 * the report prints, as in the 40GbE results of docs/facts.md) and a 95% confidence interval.
 *
 * Interval method. Every figure the runner measures is a non-negative quantity (throughput,
 * latency, CPU time, counts), and its run-to-run noise is multiplicative (a busier CPU slows a
 * run by a factor, not by a fixed amount), so:
 *   - all samples > 0: the Student-t interval computed on the logarithms and transformed back,
 *     exp(mean(ln x) ± t(0.975, n−1)·sd(ln x)/√n). It is the interval of the geometric mean,
 *     which for log-normal noise is also the median the report prints, and it can never reach
 *     zero or below. Its coverage is checked on seeded simulated samples in stats.test.ts.
 *   - some samples are 0 (counts such as retransmits or socket errors): logarithms do not
 *     exist, so the t-interval of the mean is used and its lower end is held at 0, the smallest
 *     value the quantity can take (`clippedAtZero` says so; charts mark it).
 *   - a negative sample (not a quantity the runner measures): the plain t-interval.
 * Why not a distribution-free interval of the median: with 3 repetitions the widest such
 * interval (min..max) covers the median only 75% of the time (1 − 2·0.5³).
 * The t quantile comes from @stdlib (the incomplete beta inverse), not a table.
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
 * A figure's difference from the baseline, with a 95% interval on the difference itself.
 *
 * Method: Welch's t interval for the difference of two means with unequal variances,
 *   d = mean(a) − mean(b),  se = √(s_a²/n_a + s_b²/n_b),
 *   df = se⁴ / ((s_a²/n_a)²/(n_a−1) + (s_b²/n_b)²/(n_b−1))   (Welch–Satterthwaite),
 *   d ± t(0.975, df)·se
 * (NIST/SEMATECH e-Handbook of Statistical Methods, §7.3.1 "Do two processes have the same
 * mean?", https://www.itl.nist.gov/div898/handbook/prc/section3/prc31.htm). Why this one: the
 * report asks "how many ms does this mode add over the baseline", a difference of two small
 * samples (3–5 repetitions each) whose spreads differ (a busier path is noisier). Two figures'
 * own intervals overlapping is not a test of their difference (two 95% intervals can overlap
 * while the difference is clearly non-zero); a bootstrap needs more repetitions than a run has
 * to resample from (with 3, only 10 distinct resamples per side). Coverage, width against the
 * number of repetitions and the "contains 0" rule are checked on seeded simulated samples in
 * stats.test.ts. The t quantile takes the non-integer df directly (@stdlib).
 *
 * `pct` is the same difference in percent of the baseline's median (the figure the report
 * prints for it): 100·d/median(b), its interval 100·[low, high]/median(b), i.e. the baseline's
 * median is taken as the scale, not as a second uncertain quantity.
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
