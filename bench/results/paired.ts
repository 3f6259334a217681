/**
 * Paired comparisons for interleaved runs (docs/lab.md "The method under load"): two targets
 * measured next to each other in every round, compared round by round, so that whatever slows
 * the machine in that round slows both. The figure is the ratio of the two, estimated from the
 * per-round log ratios d = ln(a ÷ b) by the Hodges–Lehmann estimator (the median of the Walsh
 * averages (dᵢ + dⱼ)/2, i ≤ j) with the distribution-free interval of the Wilcoxon signed-rank
 * test: the k-th smallest and k-th largest Walsh averages, k from the exact null distribution of
 * the signed-rank statistic (Hollander, Wolfe & Chicken, "Nonparametric Statistical Methods",
 * 3rd ed., §3.2–3.3; Bauer 1972, JASA 67:687). It assumes only that the round-to-round
 * differences are symmetric about their centre, not that they are normal, and one wild round
 * moves it by one rank, not by its size.
 */
import signrankCdf from "@stdlib/stats-base-dists-signrank-cdf";

/** The two-sided level every paired interval aims for. */
export const pairedConfidence = 0.95;

export interface PairedRatio {
    /** Rounds in which both were measured. */
    readonly n: number;
    /** Hodges–Lehmann estimate of a ÷ b. */
    readonly ratio: number;
    /** Interval of a ÷ b; absent with fewer than 6 rounds (no signed-rank interval reaches 95 % below that). */
    readonly low?: number;
    readonly high?: number;
    /** The interval's exact coverage under the signed-rank null distribution (≥ `pairedConfidence`, discrete). */
    readonly coverage?: number;
}

/** Walsh averages (dᵢ + dⱼ)/2 for i ≤ j, sorted. */
export function walshAverages(d: readonly number[]): number[] {
    const out: number[] = [];
    for (let i = 0; i < d.length; i++) for (let j = i; j < d.length; j++) out.push((d[i] + d[j]) / 2);
    return out.sort((x, y) => x - y);
}

function medianOfSorted(s: readonly number[]): number {
    const mid = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * The rank k of the interval's ends among the n(n+1)/2 sorted Walsh averages: the largest k with
 * 2·P(T⁺ ≤ k − 1) ≤ 1 − confidence; undefined when even k = 1 does not reach the level.
 */
export function signedRankRank(n: number, confidence = pairedConfidence): { k: number; coverage: number } | undefined {
    const alpha = 1 - confidence;
    let best: { k: number; coverage: number } | undefined;
    for (let k = 1; k <= (n * (n + 1)) / 4; k++) {
        const tail = signrankCdf(k - 1, n);
        if (2 * tail > alpha + 1e-12) break;
        best = { k, coverage: 1 - 2 * tail };
    }
    return best;
}

/** Hodges–Lehmann location and signed-rank interval of `d` (any real values). */
export function hodgesLehmann(d: readonly number[], confidence = pairedConfidence): { estimate: number; low?: number; high?: number; coverage?: number } {
    if (d.length === 0) throw new Error("a paired comparison needs at least one round");
    const w = walshAverages(d);
    const estimate = medianOfSorted(w);
    const rank = signedRankRank(d.length, confidence);
    if (!rank) return { estimate };
    return { estimate, low: w[rank.k - 1], high: w[w.length - rank.k], coverage: rank.coverage };
}

/**
 * a ÷ b from rounds measured side by side: `a[i]` and `b[i]` are the same round. Rounds where
 * either is missing or not positive are left out (a ratio needs both).
 */
export function pairedRatio(a: readonly (number | undefined)[], b: readonly (number | undefined)[]): PairedRatio | undefined {
    const d: number[] = [];
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
        const x = a[i];
        const y = b[i];
        if (x !== undefined && y !== undefined && x > 0 && y > 0 && Number.isFinite(x) && Number.isFinite(y)) d.push(Math.log(x / y));
    }
    if (d.length === 0) return undefined;
    const hl = hodgesLehmann(d);
    if (hl.low === undefined || hl.high === undefined) return { n: d.length, ratio: Math.exp(hl.estimate) };
    return { n: d.length, ratio: Math.exp(hl.estimate), low: Math.exp(hl.low), high: Math.exp(hl.high), coverage: hl.coverage };
}

/** Whether the interval of a ÷ b lies wholly below 1 (a smaller) or above 1 (a larger). */
export function pairedVerdict(r: PairedRatio | undefined): "smaller" | "larger" | "not separated" {
    if (r?.low === undefined || r.high === undefined) return "not separated";
    if (r.high < 1) return "smaller";
    if (r.low > 1) return "larger";
    return "not separated";
}
