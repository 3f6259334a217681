/**
 * Every pair of targets compared round by round (interleaved runs; paired.ts has the
 * statistics), and whether each conclusion survives the other load the windows saw.
 *
 * The load check: a cost window also measures the machine's other load (`…otherLoad`, CPUs busy
 * outside the mode's group). Within one target, how much dearer a window gets per CPU of other
 * load is the slope of ln(cost) on that load, pooled over the targets (each centred on its own
 * mean, so the modes' different costs do not enter it). If the two sides of a pair saw different
 * load in the same rounds, that difference times the slope is how far the load alone can have
 * moved their ratio. A separation "holds against the load seen" when its interval, widened by
 * that much on both sides, still excludes 1 (docs/lab.md "The method under load").
 */
import { hodgesLehmann, pairedRatio, pairedVerdict, type PairedRatio } from "./paired";
import type { Better } from "./stats";

export interface PairedComparison extends PairedRatio {
    readonly id: string;
    /** a ÷ b is the ratio. */
    readonly a: string;
    readonly b: string;
    /** Whether a is better, worse, or the interval contains 1. */
    readonly verdict: "a better" | "b better" | "not separated";
    /** The load check, for figures whose windows measured the other load. */
    readonly load?: LoadCheck;
}

export interface LoadCheck {
    /** Hodges–Lehmann centre of a's other load minus b's, per round (CPUs). */
    readonly imbalanceCpus: number;
    /** Pooled within-target slope of ln(figure) on other load (per CPU). */
    readonly slopePerCpu: number;
    /** |slope × imbalance|: how far on the log scale the load difference alone can move a ÷ b. */
    readonly logShift: number;
    /** A separation that still excludes 1 after the shift; undefined when not separated. */
    readonly holds?: boolean;
}

interface SampleLike {
    readonly target: string;
    readonly repetition: number;
    readonly id: string;
    readonly value: number;
}

/** The figure id of the other load measured in the same windows as `id`, by its case prefix. */
export function otherLoadIdOf(id: string): string {
    return `${id.slice(0, id.lastIndexOf("."))}.otherLoad`;
}

function byRound(samples: readonly SampleLike[], target: string, id: string, rounds: readonly number[]): (number | undefined)[] {
    const values = new Map(samples.filter((s) => s.target === target && s.id === id).map((s) => [s.repetition, s.value]));
    return rounds.map((r) => values.get(r));
}

/** Pooled within-target least-squares slope of ln(value) on load; 0 when load never varied. */
export function pooledLogSlope(pairs: readonly { target: string; value: number; load: number }[]): number {
    const groups = new Map<string, { value: number; load: number }[]>();
    for (const p of pairs) if (p.value > 0 && Number.isFinite(p.load)) groups.set(p.target, [...(groups.get(p.target) ?? []), p]);
    let sxy = 0;
    let sxx = 0;
    for (const g of groups.values()) {
        const mx = g.reduce((a, p) => a + p.load, 0) / g.length;
        const my = g.reduce((a, p) => a + Math.log(p.value), 0) / g.length;
        for (const p of g) {
            sxy += (p.load - mx) * (Math.log(p.value) - my);
            sxx += (p.load - mx) ** 2;
        }
    }
    return sxx > 0 ? sxy / sxx : 0;
}

function loadCheck(samples: readonly SampleLike[], id: string, a: string, b: string, rounds: readonly number[], r: PairedRatio, slope: number): LoadCheck | undefined {
    const loadId = otherLoadIdOf(id);
    const la = byRound(samples, a, loadId, rounds);
    const lb = byRound(samples, b, loadId, rounds);
    const diffs = rounds.map((_, i) => (la[i] !== undefined && lb[i] !== undefined ? la[i]! - lb[i]! : undefined)).filter((d): d is number => d !== undefined);
    if (diffs.length === 0) return undefined;
    const imbalanceCpus = hodgesLehmann(diffs).estimate;
    const logShift = Math.abs(slope * imbalanceCpus);
    const verdict = pairedVerdict(r);
    const holds = verdict === "not separated" ? undefined : verdict === "smaller" ? Math.log(r.high!) + logShift < 0 : Math.log(r.low!) - logShift > 0;
    return { imbalanceCpus, slopePerCpu: slope, logShift, holds };
}

/**
 * Every figure (other-load figures aside) × every pair of targets, a before b in the targets'
 * order, over the rounds both measured.
 */
export function pairedComparisons(figures: readonly { id: string; better: Better }[], samples: readonly SampleLike[], targets: readonly string[]): PairedComparison[] {
    const rounds = [...new Set(samples.map((s) => s.repetition))].sort((x, y) => x - y);
    const out: PairedComparison[] = [];
    for (const f of figures) {
        if (f.id.endsWith(".otherLoad")) continue;
        const loadId = otherLoadIdOf(f.id);
        const withLoad = samples
            .filter((s) => s.id === f.id)
            .flatMap((s) => {
                const load = samples.find((x) => x.id === loadId && x.target === s.target && x.repetition === s.repetition);
                return load ? [{ target: s.target, value: s.value, load: load.value }] : [];
            });
        const slope = pooledLogSlope(withLoad);
        targets.forEach((a, i) =>
            targets.slice(i + 1).forEach((b) => {
                const r = pairedRatio(byRound(samples, a, f.id, rounds), byRound(samples, b, f.id, rounds));
                if (!r) return;
                const v = pairedVerdict(r);
                const aBetter = (v === "smaller" && f.better === "lower") || (v === "larger" && f.better === "higher");
                const verdict = v === "not separated" ? "not separated" : aBetter ? "a better" : "b better";
                const load = withLoad.length > 0 ? loadCheck(samples, f.id, a, b, rounds, r, slope) : undefined;
                out.push({ id: f.id, a, b, ...r, verdict, ...(load ? { load } : {}) });
            }),
        );
    }
    return out;
}
