/**
 * The report's round-by-round comparisons (interleaved runs): per figure, the modes ranked with
 * the pairs each round's side-by-side windows separate, every pair's ratio with its interval,
 * and whether each conclusion holds against the other load the windows saw (comparisons.ts).
 */
import { pairedRatio, pairedVerdict, pairedConfidence } from "./paired";
import { median } from "./stats";
import type { PairedComparison } from "./comparisons";
import type { BenchSummaryFile } from "./summary";

/** The figures the lab draws conclusions from, in the report's order. */
export const pairedFigures = [
    ["iperf3.pod.cross.udpcost.cpuUsPerPacket", "CPU per packet, pod↔pod"],
    ["iperf3.host.cross.udpcost.cpuUsPerPacket", "CPU per packet, host↔host (the same path in every mode)"],
    ["iperf3.pod.cross.cost.cpuPerGB", "CPU per GB, pod↔pod (TCP)"],
    ["guestbook.read.cpuMsPerRequest", "CPU per guestbook read"],
    ["latency.pod.cross.load.p50", "round trip p50 at a fixed rate"],
    ["iperf3.pod.cross.tcp1.gbps", "throughput pod↔pod, saturating"],
] as const;

function pct(x: number): string {
    return `${x >= 1 ? "+" : "−"}${Math.abs((x - 1) * 100).toFixed(1)} %`;
}

function ratioCell(p: Pick<PairedComparison, "ratio" | "low" | "high">): string {
    return p.low === undefined || p.high === undefined ? `${p.ratio.toFixed(3)} (too few rounds for an interval)` : `${p.ratio.toFixed(3)} [${p.low.toFixed(3)}–${p.high.toFixed(3)}]`;
}

/** Medians per target of one figure, best first. */
function byMedian(s: BenchSummaryFile, id: string): { name: string; median: number }[] {
    const better = s.figures.find((f) => f.id === id)?.better ?? "lower";
    const rows = s.targets
        .map((t) => ({ name: t.name, values: s.samples.filter((x) => x.target === t.name && x.id === id).map((x) => x.value) }))
        .filter((r) => r.values.length > 0)
        .map((r) => ({ name: r.name, median: median(r.values) }));
    return rows.sort((a, b) => (better === "lower" ? a.median - b.median : b.median - a.median));
}

function pairOf(s: BenchSummaryFile, id: string, x: string, y: string): PairedComparison | undefined {
    return s.paired?.find((p) => p.id === id && ((p.a === x && p.b === y) || (p.a === y && p.b === x)));
}

/** "x better than y" for a comparison, whichever way round it was stored. */
function better(p: PairedComparison): { winner: string; loser: string } | undefined {
    if (p.verdict === "not separated") return undefined;
    return p.verdict === "a better" ? { winner: p.a, loser: p.b } : { winner: p.b, loser: p.a };
}

/** The ranking: "<" between neighbours whose round-by-round interval separates them. */
export function pairedRanking(s: BenchSummaryFile, id: string): string | undefined {
    const rows = byMedian(s, id);
    if (rows.length < 2) return undefined;
    return rows
        .map((r, i) => {
            if (i === 0) return r.name;
            const p = pairOf(s, id, rows[i - 1].name, r.name);
            return `${p && better(p)?.winner === rows[i - 1].name ? " < " : " ≈ "}${r.name}`;
        })
        .join("");
}

/** Whether each separation holds against the load seen, said once per figure. */
export function loadVerdict(pairs: readonly PairedComparison[]): string {
    const separated = pairs.filter((p) => p.verdict !== "not separated");
    if (separated.length === 0) return "nothing separated, so there is no conclusion to check.";
    const checked = separated.filter((p) => p.load?.holds !== undefined);
    if (checked.length === 0) return "the windows of this figure do not measure the other load, so the conclusions are paired but not checked against it.";
    const failing = checked.filter((p) => !p.load!.holds);
    const largest = Math.max(...checked.map((p) => p.load!.logShift));
    const shift = `the largest shift the other load can explain is ${(100 * (Math.exp(largest) - 1)).toFixed(1)} %`;
    const all = checked.length === 1 ? "the one separation stays" : `all ${checked.length} separations stay`;
    if (failing.length === 0) return `**holds**: ${all} separated when widened by what the difference in other load between the paired windows can explain (${shift}).`;
    return `**${failing.length} of ${checked.length} separations do not hold** against the other load seen (${failing.map((p) => `${p.a} vs ${p.b}`).join(", ")}): widened by what the difference in other load between their windows can explain, their intervals include 1 (${shift}).`;
}

/** One figure: ranking, every pair, the verdict. */
function figureLines(s: BenchSummaryFile, id: string, what: string): string[] {
    const ranking = pairedRanking(s, id);
    const pairs = s.paired?.filter((p) => p.id === id) ?? [];
    if (!ranking || pairs.length === 0) return [];
    const rows = pairs.map((p) => {
        const b = better(p);
        const load = p.load ? `${p.load.imbalanceCpus >= 0 ? "+" : ""}${p.load.imbalanceCpus.toFixed(2)} CPUs → ±${(100 * (Math.exp(p.load.logShift) - 1)).toFixed(1)} %` : "–";
        const holds = p.load?.holds === undefined ? "–" : p.load.holds ? "yes" : "**no**";
        return `| ${p.a} ÷ ${p.b} | ${ratioCell(p)} | ${p.n} | ${b ? `${b.winner} < ${b.loser}` : "not separated"} | ${load} | ${holds} |`;
    });
    return [
        `**${what}**: ${ranking}`,
        "",
        `Conclusion against the disturbance seen: ${loadVerdict(pairs)}`,
        "",
        "| pair | ratio, round by round [95 % interval] | rounds | separated | other-load difference → shift it can explain | holds against it |",
        "| --- | --- | --- | --- | --- | --- |",
        ...rows,
        "",
    ];
}

/**
 * The same path measured twice in one round: each mode's pod↔pod per packet against its own
 * host↔host, round by round. For the `host` baseline both are the node↔node path, so its ratio
 * checks the method; for the others it is the pod network's cost over the underlay.
 */
function podOverHostLines(s: BenchSummaryFile): string[] {
    const pod = "iperf3.pod.cross.udpcost.cpuUsPerPacket";
    const host = "iperf3.host.cross.udpcost.cpuUsPerPacket";
    const rounds = [...new Set(s.samples.map((x) => x.repetition))].sort((a, b) => a - b);
    const valueIn = (target: string, id: string) => {
        const m = new Map(s.samples.filter((x) => x.target === target && x.id === id).map((x) => [x.repetition, x.value]));
        return rounds.map((r) => m.get(r));
    };
    const rows = s.targets.flatMap((t) => {
        const r = pairedRatio(valueIn(t.name, pod), valueIn(t.name, host));
        return r ? [`| ${t.name} | ${ratioCell(r)} | ${r.n} | ${pairedVerdict(r) === "not separated" ? "not separated from 1" : pct(r.ratio)} |`] : [];
    });
    if (rows.length === 0) return [];
    return [
        "Each mode's CPU per packet pod↔pod ÷ its host↔host, round by round (for a mode without pods, such as `host`, both are the same node↔node path: the ratio checks the method and should be 1):",
        "",
        "| mode | pod ÷ host [95 % interval] | rounds | pod network over the underlay |",
        "| --- | --- | --- | --- |",
        ...rows,
        "",
    ];
}

/** The section, for runs measured on the interleaved schedule. */
export function pairedSection(s: BenchSummaryFile): string[] {
    if (s.settings.schedule !== "interleaved" || !s.paired) return [];
    const figures = pairedFigures.flatMap(([id, what]) => figureLines(s, id, what));
    if (figures.length === 0) return [];
    return [
        "## Round by round: which differences the run resolves",
        "",
        `Every round ran each case on every mode in a fresh random order (seed ${s.settings.seed}), so two modes compared in one round ran seconds apart and shared whatever else the machine did. ` +
            `Each pair is compared round by round: the ratio of their figures in each round, summarised by the Hodges–Lehmann estimate with the Wilcoxon signed-rank ${Math.round(pairedConfidence * 100)} % interval ` +
            `(distribution-free; exact coverage at least ${Math.round(pairedConfidence * 100)} %). "<" joins neighbours by median whose interval excludes 1, "≈" the others. ` +
            "A separation holds against the disturbance when it survives the shift the other load can explain: the difference in other load between the two modes' windows, times how much dearer a window gets per CPU of other load (fitted within each mode).",
        "",
        ...podOverHostLines(s),
        ...figures,
    ];
}
