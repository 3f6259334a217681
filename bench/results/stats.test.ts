import normal from "@stdlib/random-base-normal";
import { describe, expect, it } from "vitest";
import { differenceInterval95, differenceWithinNoise, mean, median, overheadPct, sampleStdev, summarize, tQuantile975, withinNoise } from "./stats";
import { differenceVerdict } from "./report";
import { roundRobinOrder, aggregate } from "./summary";

describe("statistics, checked against hand computation", () => {
    it("median, mean, stdev and the 95% log-t interval of [10, 12, 14]", () => {
        // By hand: mean = 12; s = 2; median = 12. Logs: ln 10 = 2.302585, ln 12 = 2.484907,
        // ln 14 = 2.639057; mean = 2.475516; deviations −0.172931, 0.009391, 0.163541;
        // sd = 0.168433; half = t(0.975, 2) × sd/√3 = 4.302653 × 0.0972445 = 0.418410;
        // interval = exp(2.475516 ∓ 0.418410) = [7.8233, 18.0641].
        const s = summarize([14, 10, 12]);
        expect(s.n).toBe(3);
        expect(s.median).toBe(12);
        expect(s.mean).toBe(12);
        expect(s.stdev).toBeCloseTo(2, 10);
        expect(s.ciMethod).toBe("log-t");
        expect(s.ci95!.low).toBeCloseTo(7.8233, 3);
        expect(s.ci95!.high).toBeCloseTo(18.0641, 3);
        expect([s.min, s.max]).toEqual([10, 14]);
    });

    it("an even count: median of [1, 2, 3, 4] is the mean of the middle two", () => {
        expect(median([4, 1, 3, 2])).toBe(2.5);
        expect(mean([1, 2, 3, 4])).toBe(2.5);
        expect(sampleStdev([1, 2, 3, 4])).toBeCloseTo(1.2909944, 6);
    });

    // Published values: NIST/SEMATECH e-Handbook of Statistical Methods, section 1.3.6.7.2,
    // "Critical Values of the Student's t Distribution", column 0.975 (one-sided 0.025);
    // https://www.itl.nist.gov/div898/handbook/eda/section3/eda3672.htm. The rows between 30 and
    // 120 are the ones the old hand-written table got wrong (it used the next lower row).
    it.each([
        [1, 12.706],
        [2, 4.303],
        [4, 2.776],
        [9, 2.262],
        [30, 2.042],
        [35, 2.03],
        [39, 2.023],
        [45, 2.014],
        [55, 2.004],
        [100, 1.984],
    ])("t(0.975, %i) is the published %f", (df, published) => {
        expect(Math.abs(tQuantile975(df) - published), `t(0.975, ${df}) = ${tQuantile975(df)}, NIST says ${published}`).toBeLessThan(0.0006);
    });

    it("t quantiles approach the normal 1.960 from above and reject impossible df", () => {
        expect(tQuantile975(10_000)).toBeGreaterThan(1.96);
        expect(tQuantile975(10_000)).toBeLessThan(1.9605);
        expect(() => tQuantile975(0)).toThrow(/positive integer/);
        expect(() => tQuantile975(2.5)).toThrow(/positive integer/);
    });

    it("one sample has no interval; no samples is an error", () => {
        expect(summarize([5]).ci95).toBeUndefined();
        expect(() => summarize([])).toThrow(/no finite samples/);
    });

    it("a positive quantity never gets a bound at or below zero, however wide its spread", () => {
        // The defect this replaces: [9.54, 1.2, 17.9] Gbit/s gave [-1.91–20.23] with mean ± t·s/√n.
        for (const xs of [
            [9.54, 1.2, 17.9],
            [0.001, 50, 900],
            [20.4, 57.1, 104.7, 3.3],
        ]) {
            const s = summarize(xs);
            expect(s.ci95!.low, `low bound for ${xs.join(", ")}`).toBeGreaterThan(0);
            expect(s.ci95!.high).toBeGreaterThan(s.ci95!.low);
        }
    });

    it("counts with zeros: the t interval held at 0, and said so", () => {
        // mean of [0, 0, 90] = 30, s = 51.9615, half = 4.302653 × 51.9615/√3 = 129.08 → [-99.08, 159.08] → [0, 159.08].
        const s = summarize([0, 0, 90]);
        expect(s.ciMethod).toBe("t-clipped-at-0");
        expect(s.ci95!.low).toBe(0);
        expect(s.ci95!.high).toBeCloseTo(159.08, 1);
        expect(summarize([0, 0, 0]).ci95).toEqual({ low: 0, high: 0 });
    });

    it("overlapping intervals are within the noise, separate ones are not", () => {
        const a = summarize([10, 12, 14]); // [7.82, 18.06]
        expect(withinNoise(a, summarize([20, 21, 22]))).toBe(false); // log-t [18.64, 23.62]
        expect(withinNoise(a, summarize([15, 16, 17]))).toBe(true);
        expect(withinNoise(a, summarize([30]))).toBe(true); // one repetition cannot tell anything apart
    });

    it("overhead is 'percent worse than the baseline' for both directions", () => {
        // Throughput 8 vs 10: (10 − 8)/10 = 20% worse. Latency 12 vs 10: (12 − 10)/10 = 20% worse.
        expect(overheadPct(8, 10, "higher")).toBeCloseTo(20, 10);
        expect(overheadPct(12, 10, "lower")).toBeCloseTo(20, 10);
        expect(overheadPct(11, 10, "higher")).toBeCloseTo(-10, 10);
        expect(overheadPct(1, 0, "lower")).toBeUndefined();
    });
});

describe("interval coverage on simulated samples (seeded, so the result is the same every run)", () => {
    // Coverage = how often the interval contains the true value. With 4000 trials the binomial
    // standard error around 95% is 0.34 points, so ±1.5 points is over four standard errors.
    const trials = 4000;
    const coverage = (draw: () => number, n: number, truth: number) => {
        let hits = 0;
        for (let i = 0; i < trials; i++) {
            const ci = summarize(Array.from({ length: n }, draw)).ci95!;
            if (ci.low <= truth && truth <= ci.high) hits++;
        }
        return hits / trials;
    };

    it.each([3, 5, 10])("log-normal noise (σ = 0.3 on the log scale), n = %i: 95%% of intervals hold the true median", (n) => {
        const draw = normal.factory(0, 0.3, { seed: 1000 + n });
        const trueMedian = 12; // the median of 12·exp(N(0, 0.3²)) is 12
        const c = coverage(() => 12 * Math.exp(draw()), n, trueMedian);
        expect(c, `coverage ${(c * 100).toFixed(1)}%`).toBeGreaterThan(0.935);
        expect(c, `coverage ${(c * 100).toFixed(1)}%`).toBeLessThan(0.965);
    });

    it("wide noise (σ = 1 on the log scale), n = 3: still 95%, and no bound ever ≤ 0", () => {
        const draw = normal.factory(0, 1, { seed: 7 });
        let lowest = Infinity;
        const c = coverage(() => 5 * Math.exp(draw()), 3, 5);
        for (let i = 0; i < 200; i++) lowest = Math.min(lowest, summarize([0, 1, 2].map(() => 5 * Math.exp(draw()))).ci95!.low);
        expect(c).toBeGreaterThan(0.935);
        expect(c).toBeLessThan(0.965);
        expect(lowest).toBeGreaterThan(0);
    });
});

describe("fairness and aggregation", () => {
    it("round-robin order rotates by one each repetition, so every target leads once", () => {
        expect(roundRobinOrder(["a", "b", "c"], 0)).toEqual(["a", "b", "c"]);
        expect(roundRobinOrder(["a", "b", "c"], 1)).toEqual(["b", "c", "a"]);
        expect(roundRobinOrder(["a", "b", "c"], 2)).toEqual(["c", "a", "b"]);
        expect(roundRobinOrder(["a", "b", "c"], 3)).toEqual(["a", "b", "c"]);
    });

    it("aggregate: overhead against the baseline's median and the gate on gated figures only", () => {
        const figures = [
            { id: "t", measurement: "iperf3" as const, label: "throughput", unit: "Gbit/s", better: "higher" as const, gated: true },
            { id: "r", measurement: "iperf3" as const, label: "retransmits", unit: "count", better: "lower" as const },
        ];
        const sample = (target: string, id: string, values: number[]) => values.map((value, i) => ({ target, repetition: i + 1, id, value, raw: [] }));
        const samples = [
            ...sample("base", "t", [10, 10, 10]),
            ...sample("slow", "t", [7, 8, 9]), // median 8 → (10 − 8)/10 = 20% worse
            ...sample("base", "r", [1, 1, 1]),
            ...sample("slow", "r", [100, 100, 100]), // 9900% worse, but not gated
        ];
        const { stats, gate } = aggregate(figures, samples, ["base", "slow"], "base", 15);
        const slowT = stats.find((s) => s.target === "slow" && s.id === "t")!;
        expect(slowT.overheadPct).toBeCloseTo(20, 10);
        expect(slowT.differenceFromBaseline).toBeCloseTo(-2, 10);
        expect(gate!.passed).toBe(false);
        expect(gate!.violations).toEqual([{ target: "slow", id: "t", overheadPct: expect.closeTo(20, 10) }]);
        expect(aggregate(figures, samples, ["base", "slow"], "base", 25).gate!.passed).toBe(true);
    });
});

describe("the difference from the baseline: Welch's t interval on the difference itself", () => {
    it("matches a hand computation: [12, 14, 16] − [10, 11, 12]", () => {
        // By hand: d = 14 − 11 = 3; s_a² = 4, s_b² = 1; se² = 4/3 + 1/3 = 5/3, se = 1.2909944;
        // df = (5/3)² / ((4/3)²/2 + (1/3)²/2) = 50/17 = 2.9411765;
        // t(0.975, 50/17) = 3.2187586 (scipy.stats.t.ppf(0.975, 50/17), independent of @stdlib);
        // half = 4.1553995 → [−1.1553995, 7.1553995]; in % of median(b) = 11: 27.2727 [−10.5036, 65.0491].
        const d = differenceInterval95([12, 14, 16], [10, 11, 12])!;
        expect(d.estimate).toBeCloseTo(3, 10);
        expect(d.df).toBeCloseTo(50 / 17, 10);
        expect(d.low).toBeCloseTo(-1.1553995, 6);
        expect(d.high).toBeCloseTo(7.1553995, 6);
        expect(d.pct!.estimate).toBeCloseTo(27.2727273, 6);
        expect(d.pct!.low).toBeCloseTo(-10.5036318, 6);
        expect(d.pct!.high).toBeCloseTo(65.0490864, 6);
        expect(differenceWithinNoise(d)).toBe(true);
    });

    it("needs two repetitions on each side; identical repetitions give the difference seen, without width", () => {
        expect(differenceInterval95([5], [4, 4])).toBeUndefined();
        expect(differenceWithinNoise(undefined)).toBe(true);
        expect(differenceVerdict(undefined)).toBe("not shown (one repetition)");
        expect(differenceInterval95([5, 5], [4, 4, 4])).toMatchObject({ estimate: 1, low: 1, high: 1 });
    });

    // Seeded simulation: mode latencies ~ N(12, 1.5²), baseline ~ N(10, 0.5²): true difference 2 ms,
    // unequal spreads as a busier path has. 4000 trials: binomial standard error 0.34 points at 95%.
    const trials = 4000;
    const simulate = (n: number, seed: number, truth = 2) => {
        const mode = normal.factory(10 + truth, 1.5, { seed });
        const base = normal.factory(10, 0.5, { seed: seed + 1 });
        return Array.from({ length: trials }, () =>
            differenceInterval95(
                Array.from({ length: n }, () => mode()),
                Array.from({ length: n }, () => base()),
            )!,
        );
    };

    it.each([3, 5, 10])("n = %i repetitions a side: the interval holds the true difference about 95%% of the time", (n) => {
        const intervals = simulate(n, 100 + n);
        const coverage = intervals.filter((d) => d.low <= 2 && 2 <= d.high).length / trials;
        expect(coverage, `coverage ${(coverage * 100).toFixed(1)}%`).toBeGreaterThan(0.935);
        expect(coverage, `coverage ${(coverage * 100).toFixed(1)}%`).toBeLessThan(0.975);
    });

    it("fewer repetitions, wider interval (mean width n = 3 > 5 > 10)", () => {
        const width = (n: number) => mean(simulate(n, 300 + n).map((d) => d.high - d.low));
        const [w3, w5, w10] = [width(3), width(5), width(10)];
        expect(w3).toBeGreaterThan(w5);
        expect(w5).toBeGreaterThan(w10);
    });

    it('says "within noise" exactly when the interval contains 0, and with no true difference only about 5% of runs show one', () => {
        const intervals = [...simulate(3, 500, 0), ...simulate(3, 600, 1)];
        for (const d of intervals) {
            const containsZero = d.low <= 0 && 0 <= d.high;
            expect(differenceWithinNoise(d)).toBe(containsZero);
            expect(differenceVerdict(d).startsWith("not shown: within noise")).toBe(containsZero);
        }
        const falseAlarms = intervals.slice(0, trials).filter((d) => !differenceWithinNoise(d)).length / trials;
        expect(falseAlarms, `${(falseAlarms * 100).toFixed(1)}% of no-difference runs "show" one`).toBeLessThan(0.065);
    });

    it("aggregate marks a figure within noise of the baseline by the difference's interval, not by overlapping intervals", () => {
        // Each side's own 95% interval overlaps the other's, yet the difference's interval excludes 0.
        const figures = [{ id: "lat", measurement: "http" as const, label: "latency", unit: "ms", better: "lower" as const }];
        const sample = (target: string, values: number[]) => values.map((value, i) => ({ target, repetition: i + 1, id: "lat", value, raw: [] }));
        // d = 3.5, se = √(2/3), df = 4: 3.5 ± 2.776·0.816 = [1.23, 5.77]; each side's half-width ≈ 2.5.
        const samples = [...sample("host", [10, 11, 12]), ...sample("vxlan", [13.5, 14.5, 15.5])];
        const { stats } = aggregate(figures, samples, ["host", "vxlan"], "host");
        const vxlan = stats.find((x) => x.target === "vxlan")!;
        const host = stats.find((x) => x.target === "host")!;
        expect(withinNoise(vxlan.stats, host.stats), "their own intervals overlap").toBe(true);
        expect(vxlan.difference!.estimate).toBeCloseTo(3.5, 10);
        expect(vxlan.difference!.low).toBeGreaterThan(0);
        expect(vxlan.withinNoiseOfBaseline).toBe(false);
    });
});
