import { describe, expect, it } from "vitest";
import { mean, median, overheadPct, sampleStdev, summarize, tQuantile975, withinNoise } from "./stats";
import { roundRobinOrder, aggregate } from "./summary";

describe("statistics, checked against hand computation", () => {
    it("median, mean, stdev and the 95% t-interval of [10, 12, 14]", () => {
        // By hand: mean = 36/3 = 12; deviations −2, 0, 2 → Σd² = 8; s² = 8/(3−1) = 4, s = 2;
        // SE = 2/√3 = 1.1547005; t(0.975, 2) = 4.303 (t table); half-width = 4.303 × 1.1547005
        // = 4.9686764; interval = 12 ∓ 4.9686764 = [7.0313236, 16.9686764]; median = 12.
        const s = summarize([14, 10, 12]);
        expect(s.n).toBe(3);
        expect(s.median).toBe(12);
        expect(s.mean).toBe(12);
        expect(s.stdev).toBeCloseTo(2, 10);
        expect(s.ci95!.low).toBeCloseTo(7.0313236, 6);
        expect(s.ci95!.high).toBeCloseTo(16.9686764, 6);
        expect([s.min, s.max]).toEqual([10, 14]);
    });

    it("an even count: median of [1, 2, 3, 4] is the mean of the middle two", () => {
        // By hand: median = (2 + 3)/2 = 2.5; mean = 10/4 = 2.5; Σd² = 2.25 + 0.25 + 0.25 + 2.25 = 5;
        // s = √(5/3) = 1.2909944; SE = s/√4 = 0.6454972; t(0.975, 3) = 3.182; half = 2.0539721.
        const s = summarize([4, 1, 3, 2]);
        expect(median([4, 1, 3, 2])).toBe(2.5);
        expect(mean([1, 2, 3, 4])).toBe(2.5);
        expect(sampleStdev([1, 2, 3, 4])).toBeCloseTo(1.2909944, 6);
        expect(s.ci95!.low).toBeCloseTo(2.5 - 2.0539721, 6);
        expect(s.ci95!.high).toBeCloseTo(2.5 + 2.0539721, 6);
    });

    it("one sample has no interval; the t table ends in the normal quantile", () => {
        expect(summarize([5]).ci95).toBeUndefined();
        expect(tQuantile975(1)).toBe(12.706);
        expect(tQuantile975(30)).toBe(2.042);
        expect(tQuantile975(1000)).toBe(1.96);
        expect(() => tQuantile975(0)).toThrow(/positive integer/);
        expect(() => summarize([])).toThrow(/no finite samples/);
    });

    it("overlapping intervals are within the noise, separate ones are not", () => {
        // [10,12,14] → [7.03, 16.97]. [20,21,22]: mean 21, s = 1, half = 4.303/√3 = 2.4843 → [18.52, 23.48]:
        // no overlap. [15,16,17] → [13.52, 18.48]: overlaps [7.03, 16.97].
        const a = summarize([10, 12, 14]);
        expect(withinNoise(a, summarize([20, 21, 22]))).toBe(false);
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
