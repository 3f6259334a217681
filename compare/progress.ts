/**
 * What the operator sees while a comparison runs and after it: one line per stack state change,
 * a periodic status line, and the instance-hours the run actually used. Pure text functions.
 */
import type { CompareReport, StackState, StackTransition } from "./orchestrator";
import type { BillFile } from "../bench/results/bill";
import { formatUsd, pricesAsOf, stackCost } from "./prices";
import { estimateTimeline, estimateUsd, type ComparePlan } from "./plan";

/** "42s", "4m05s", "1h02m". */
export function formatElapsed(ms: number): string {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
    return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** Tracks every stack's state and since when; turns transitions into lines. */
export class ProgressBoard {
    private readonly states = new Map<string, { state: StackState; since: number }>();

    constructor(private readonly startedAt: number) {}

    /** The line to print for a transition: run clock, stack, new state, time spent in the old one. */
    transition(t: StackTransition): string {
        const previous = this.states.get(t.stack);
        this.states.set(t.stack, { state: t.state, since: t.at });
        const after = previous && previous.state !== t.state ? ` (after ${formatElapsed(t.at - previous.since)} ${previous.state})` : "";
        const detail = t.detail ? `: ${t.detail}` : "";
        return `[+${formatElapsed(t.at - this.startedAt).padStart(6)}] ${t.stack.padEnd(13)} ${t.state}${after}${detail}`;
    }

    /** One line with every stack's state and how long it has been in it. */
    status(now: number): string {
        const parts = [...this.states.entries()].map(([stack, s]) => `${stack} ${s.state} ${formatElapsed(now - s.since)}`);
        return `[+${formatElapsed(now - this.startedAt).padStart(6)}] status: ${parts.join(" · ")}`;
    }
}

/**
 * The closing lines: what the stacks this run created cost, from the bill record (billRecord) so
 * the console and bill.json never disagree. Hours count from each stack's up start to its destroy
 * complete (an upper bound: resources are created during up and gone before destroy ends).
 */
export function renderRunCost(bill: BillFile): string {
    const usd = (v: number | undefined) => (v === undefined ? "unknown" : formatUsd(v));
    const lines = [`What the stacks this run created cost (${bill.market}; up start → destroy complete, compare/prices.ts stackCost):`];
    for (const s of bill.stacks) {
        const window = s.upStartedAt === undefined ? "never started: nothing billed" : `${s.instanceHours.toFixed(2)} instance-hours`;
        const parts = s.parts
            ? ` (instances ${usd(s.parts.instances)}, NLB ${usd(s.parts.nlb)} for ${s.parts.nlbHours} started hour(s), public IPv4 ${usd(s.parts.publicIpv4)}, EBS ${usd(s.parts.ebs)})`
            : "";
        lines.push(`  ${s.stack.padEnd(13)} ${s.instances} × ${s.instanceType}: ${window}, ${usd(s.usd)}${parts}${s.stillUp ? " — STILL UP" : ""}`);
    }
    lines.push(
        `  total: ${bill.measured.instanceHours.toFixed(2)} instance-hours, ${bill.measured.usd === undefined ? "cost unknown (no price for some region/type, or no Spot price read)" : `${usd(bill.measured.usd)} ${bill.market}`}`,
    );
    return lines.join("\n");
}

/** The closing summary: what failed, what is left, and what to do about it. */
export function renderOutcome(report: CompareReport): string {
    const lines: string[] = [];
    for (const r of report.stacks) {
        if (r.errors.length > 0) lines.push(`  ${r.stack}: ${r.errors.join("; ")}`);
    }
    for (const b of report.benchmarks) {
        if (b.error) lines.push(`  benchmark (${b.targets.join(", ")}): ${b.error}`);
        if (b.summary) lines.push(`Benchmark of ${b.targets.join(", ")}: results in ${b.summary.outDir}${b.summary.gatePassed ? "" : " — GATE FAILED (a mode exceeded --max-overhead-pct)"}`);
    }
    const leftovers = report.stacks.filter((r) => r.leftover);
    if (leftovers.length > 0) {
        lines.push(`Stacks still up (in the ledger): ${leftovers.map((r) => r.stack).join(", ")} — destroy them with: npm run compare -- --cleanup`);
    }
    const head = report.ok ? "Comparison finished: every stack measured" : report.interrupted ? "Comparison INTERRUPTED" : "Comparison FAILED:";
    return [head, ...lines].join("\n");
}

/**
 * The run's bill record (bench/results/bill.ts): the plan's estimate beside what the stacks this run
 * created actually used, from each one's up start to its destroy complete (to `now` if still up).
 * Pre-existing stacks measured as they are cost this run nothing and are left out.
 */
export function billRecord(report: CompareReport, plan: ComparePlan, startedAt: number, now: number): BillFile {
    const estimate = estimateTimeline(plan);
    const market = plan.spot ? "spot" : "on-demand";
    const stacks: BillFile["stacks"][number][] = [];
    let instanceHours = 0;
    let usd: number | undefined = 0;
    for (const r of report.stacks) {
        const p = plan.stacks.find((s) => s.stack === r.stack);
        if (!p || !r.created) continue;
        const stillUp = r.upStartedAt !== undefined && r.destroyCompletedAt === undefined;
        // A stack whose up never started created nothing: nothing billed.
        const stackHours = r.upStartedAt === undefined ? 0 : ((r.destroyCompletedAt ?? now) - r.upStartedAt) / 3_600_000;
        const hours = stackHours * p.instances;
        const perInstance = !p.price.known ? undefined : plan.spot ? p.spotUsdPerInstanceHour : p.price.instanceUsdPerHour;
        const cost = perInstance === undefined || !p.price.known ? undefined : stackCost(p.price, stackHours, perInstance);
        instanceHours += hours;
        usd = usd === undefined || cost === undefined ? undefined : usd + cost.total;
        stacks.push({
            stack: r.stack,
            instances: p.instances,
            instanceType: p.instanceType,
            upStartedAt: r.upStartedAt === undefined ? undefined : new Date(r.upStartedAt).toISOString(),
            destroyCompletedAt: r.destroyCompletedAt === undefined ? undefined : new Date(r.destroyCompletedAt).toISOString(),
            instanceHours: hours,
            usd: cost?.total,
            ...(cost ? { parts: { instances: cost.instances, nlb: cost.nlb, nlbHours: cost.nlbHours, publicIpv4: cost.publicIpv4, ebs: cost.ebs } } : {}),
            stillUp,
        });
    }
    return {
        schema: "cni-compare/bill/1",
        prices: plan.spot ? `${pricesAsOf}; Spot: ${plan.spotPriceBasis}` : pricesAsOf,
        market,
        estimate: {
            minutes: estimate.typical,
            usd: estimateUsd(plan.stacks, estimate.perWave, market),
            basis: "step times are estimates (compare/plan.ts stepMinutes); measuring from the plan's runs",
        },
        stacks,
        measured: { minutes: (now - startedAt) / 60_000, instanceHours, usd },
    };
}
