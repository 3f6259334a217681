import { describe, expect, it } from "vitest";
import normal from "@stdlib/random-base-normal";
import { hodgesLehmann, pairedRatio, pairedVerdict, signedRankRank, walshAverages } from "./paired";

describe("the signed-rank interval's ranks match the published tables", () => {
    // Critical values of the Wilcoxon signed-rank statistic, two-sided α = 0.05: n = 6 → 0,
    // n = 8 → 3, n = 10 → 8, n = 20 → 52 (Hollander, Wolfe & Chicken, Table A.4; reject when T ≤ c),
    // so the interval's rank is k = c + 1.
    it.each([
        [6, 1],
        [8, 4],
        [10, 9],
        [20, 53],
    ])("n = %i: k = %i, coverage ≥ 95 %%", (n, k) => {
        const r = signedRankRank(n);
        expect(r?.k).toBe(k);
        expect(r!.coverage).toBeGreaterThanOrEqual(0.95);
    });

    it("no 95 % interval exists below 6 rounds (2·P(T⁺ = 0) = 2/32 at n = 5)", () => {
        expect(signedRankRank(5)).toBeUndefined();
        expect(pairedRatio([1, 2, 3, 4, 5], [1, 1, 1, 1, 1])?.low).toBeUndefined();
    });
});

describe("Hodges–Lehmann", () => {
    it("is the median of the Walsh averages", () => {
        expect(walshAverages([1, 2, 3])).toEqual([1, 1.5, 2, 2, 2.5, 3]);
        expect(hodgesLehmann([1, 2, 3]).estimate).toBe(2);
    });

    it("one wild round moves it by a rank, not by its size (the mean moves by a tenth of it)", () => {
        const calm = [0.1, 0.12, 0.08, 0.11, 0.09, 0.1, 0.1, 0.13, 0.07, 0.1];
        const wild = [...calm.slice(0, 9), 5];
        const shift = hodgesLehmann(wild).estimate - hodgesLehmann(calm).estimate;
        expect(shift).toBeLessThan(0.02);
        expect((wild.reduce((a, b) => a + b) - calm.reduce((a, b) => a + b)) / 10).toBeGreaterThan(0.4);
    });
});

describe("pairedRatio", () => {
    it("is a ÷ b, round by round, and leaves out rounds missing either side", () => {
        const r = pairedRatio([2, 4, 6, undefined, 8, 10, 12, 14], [1, 2, 3, 9, 4, 5, 6, 7]);
        expect(r?.n).toBe(7);
        expect(r?.ratio).toBeCloseTo(2, 10);
        expect(r?.low).toBeCloseTo(2, 10);
        expect(pairedVerdict(r)).toBe("larger");
    });

    it("cancels a slowdown both sides share in a round, which unpaired intervals cannot", () => {
        // Round factors from 1× to 3× (another job's load), the same in both columns: a costs 1.2× b.
        const factor = [1, 3, 1.5, 2.5, 1, 2, 3, 1.2];
        const b = factor.map((f) => 10 * f);
        const a = factor.map((f, i) => 12 * f * (1 + 0.01 * ((i % 3) - 1)));
        const r = pairedRatio(a, b)!;
        expect(r.low!).toBeGreaterThan(1.15);
        expect(r.high!).toBeLessThan(1.25);
    });

    // Seeded, so the same every run: the interval's coverage on symmetric noise, normal and with
    // one round in ten thrown far off (a burst of other work), at the default run's round counts.
    it.each([
        [6, 0],
        [8, 0],
        [10, 0.1],
        [12, 0.1],
    ])("covers the true ratio in 93.5–97.5 %% of 3000 seeded runs (n = %i, outlier share %f)", (n, outlierShare) => {
        const noise = normal.factory(0, 0.1, { seed: 4242 + n });
        const coin = normal.factory(0, 1, { seed: 99 + n });
        const truth = Math.log(1.3);
        let covered = 0;
        const trials = 3000;
        for (let t = 0; t < trials; t++) {
            const a: number[] = [];
            const b: number[] = [];
            for (let i = 0; i < n; i++) {
                const round = Math.exp(Math.abs(coin()) * 0.5);
                // |N(0,1)| > 1.645 one time in ten: that round's a is off by 1.8× either way.
                const wild = outlierShare > 0 && Math.abs(coin()) > 1.645 ? (coin() > 0 ? 1.8 : 1 / 1.8) : 1;
                a.push(round * Math.exp(truth + noise()) * wild);
                b.push(round);
            }
            const r = pairedRatio(a, b)!;
            if (r.low! <= Math.exp(truth) && Math.exp(truth) <= r.high!) covered++;
        }
        expect(covered / trials).toBeGreaterThanOrEqual(0.935);
        expect(covered / trials).toBeLessThanOrEqual(0.975);
    });
});
