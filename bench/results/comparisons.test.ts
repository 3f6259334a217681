import { describe, expect, it } from "vitest";
import { otherLoadIdOf, pairedComparisons, pooledLogSlope } from "./comparisons";
import { loadVerdict } from "./paired-report";

const id = "iperf3.pod.cross.udpcost.cpuUsPerPacket";
const loadId = "iperf3.pod.cross.udpcost.otherLoad";

/** Ten rounds: `cost(round)` and `load(round)` per target. */
function samples(targets: Record<string, { cost: (r: number) => number; load: (r: number) => number }>) {
    return Object.entries(targets).flatMap(([target, f]) =>
        Array.from({ length: 10 }, (_, i) => [
            { target, repetition: i + 1, id, value: f.cost(i) },
            { target, repetition: i + 1, id: loadId, value: f.load(i) },
        ]).flat(),
    );
}

describe("the other-load check", () => {
    it("pairs a figure with the other load of its own windows", () => {
        expect(otherLoadIdOf(id)).toBe(loadId);
        expect(otherLoadIdOf("guestbook.read.cpuMsPerRequest")).toBe("guestbook.read.otherLoad");
    });

    it("fits how much dearer a window gets per CPU of other load within each target, not across their levels", () => {
        const pts = [0, 0.5, 1, 1.5].flatMap((load) => [
            { target: "cheap", value: 5 * Math.exp(0.4 * load), load },
            { target: "dear", value: 9 * Math.exp(0.4 * load), load: load + 2 },
        ]);
        expect(pooledLogSlope(pts)).toBeCloseTo(0.4, 10);
        expect(pooledLogSlope([{ target: "x", value: 1, load: 0.3 }])).toBe(0);
    });

    const jitter = (r: number) => 1 + 0.02 * Math.sin(3 * r);
    it("a separation holds when both sides saw the same load", () => {
        const s = samples({
            a: { cost: (r) => 10 * jitter(r) * Math.exp(0.5 * (r % 3)), load: (r) => r % 3 },
            b: { cost: (r) => 13 * jitter(r + 1) * Math.exp(0.5 * (r % 3)), load: (r) => r % 3 },
        });
        const [p] = pairedComparisons([{ id, better: "lower" }], s, ["a", "b"]);
        expect(p.verdict).toBe("a better");
        expect(p.load?.slopePerCpu).toBeCloseTo(0.5, 1);
        expect(p.load?.imbalanceCpus).toBeCloseTo(0, 10);
        expect(p.load?.holds).toBe(true);
        expect(loadVerdict([p])).toMatch(/^\*\*holds\*\*: the one separation stays separated/);
    });

    it("and does not when one side's windows always saw a CPU more, enough to explain the difference", () => {
        const s = samples({
            a: { cost: (r) => 10 * jitter(r) * Math.exp(0.5 * ((r % 3) * 0.2)), load: (r) => (r % 3) * 0.2 },
            b: { cost: (r) => 10 * jitter(r + 1) * Math.exp(0.5 * ((r % 3) * 0.2 + 1)), load: (r) => (r % 3) * 0.2 + 1 },
        });
        const [p] = pairedComparisons([{ id, better: "lower" }], s, ["a", "b"]);
        expect(p.verdict).toBe("a better");
        expect(p.load?.imbalanceCpus).toBeCloseTo(-1, 10);
        expect(p.load?.holds).toBe(false);
        expect(loadVerdict([p])).toMatch(/\*\*1 of 1 separations do not hold\*\* against the other load seen \(a vs b\)/);
    });

    it("says when nothing separated or the figure has no load of its own", () => {
        expect(loadVerdict([])).toMatch(/nothing separated/);
        const s = samples({ a: { cost: () => 1, load: () => 0 }, b: { cost: (r) => 2 + r / 100, load: () => 0 } }).filter((x) => x.id === id);
        const [p] = pairedComparisons([{ id, better: "lower" }], s, ["a", "b"]);
        expect(p.load).toBeUndefined();
        expect(loadVerdict([p])).toMatch(/not checked against it/);
    });
});
