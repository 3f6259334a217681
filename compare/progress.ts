/**
 * What the operator sees while a comparison runs and after it: one line per stack state change,
 * a periodic status line, and the instance-hours the run actually used. Pure text functions.
 */
import type { CompareReport, StackState, StackTransition } from "./orchestrator";
import type { BillFile } from "../bench/results/bill";
import { formatUsd, pricesAsOf } from "./prices";
import { estimateTimeline, estimateUsd, type ComparePlan, type StackPlan } from "./plan";

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
 * Instance-hours actually used, from each stack's up-complete to its destroy-complete (stacks still
 * up are counted to `now`). Instances also run during part of `up` and `destroy`, so the bill is
 * somewhat higher: the second figure counts from the start of `up` instead.
 */
export function renderRunCost(report: CompareReport, plans: readonly StackPlan[], now: number): string {
    const lines = ["Instance-hours used (measured: up complete → destroy complete):"];
    let totalHours = 0;
    let totalUpperHours = 0;
    let totalUsd = 0;
    let usdKnown = true;
    for (const r of report.stacks) {
        const plan = plans.find((p) => p.stack === r.stack);
        if (!plan || r.upStartedAt === undefined) {
            lines.push(`  ${r.stack.padEnd(13)} never came up: 0 instance-hours counted`);
            continue;
        }
        const end = r.destroyCompletedAt ?? now;
        const stillUp = r.destroyCompletedAt === undefined;
        const hours = r.upCompletedAt !== undefined ? ((end - r.upCompletedAt) / 3_600_000) * plan.instances : 0;
        const upperHours = ((end - r.upStartedAt) / 3_600_000) * plan.instances;
        totalHours += hours;
        totalUpperHours += upperHours;
        let usd = "";
        if (plan.price.known) {
            const nlbHours = r.upCompletedAt !== undefined ? (end - r.upCompletedAt) / 3_600_000 : 0;
            const cost = (hours / plan.instances) * plan.price.instanceUsdPerHour + nlbHours * plan.price.nlbUsdPerHour;
            totalUsd += cost;
            usd = `, ${formatUsd(cost)}`;
        } else {
            usdKnown = false;
        }
        const state = stillUp ? (r.created ? " — STILL UP" : " — existing stack, still up") : "";
        lines.push(`  ${r.stack.padEnd(13)} ${plan.instances} × ${plan.instanceType}: ${hours.toFixed(2)} instance-hours${usd} (≤ ${upperHours.toFixed(2)} counting the whole up)${state}`);
    }
    lines.push(`  total: ${totalHours.toFixed(2)} instance-hours (≤ ${totalUpperHours.toFixed(2)}), ${usdKnown ? `${formatUsd(totalUsd)} on demand` : "cost unknown (no price for some region/type)"}`);
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

/** Hourly price of one instance of a stack in the run's market; undefined when unknown. */
function instanceUsdPerHour(plan: StackPlan, spot: boolean): number | undefined {
    if (!plan.price.known) return undefined;
    return spot ? plan.spotUsdPerInstanceHour : plan.price.instanceUsdPerHour / plan.instances;
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
        const hours = r.upStartedAt === undefined ? 0 : (((r.destroyCompletedAt ?? now) - r.upStartedAt) / 3_600_000) * p.instances;
        const perInstance = instanceUsdPerHour(p, plan.spot);
        const stackUsd = perInstance === undefined || !p.price.known ? undefined : hours * perInstance + (hours / p.instances) * p.price.nlbUsdPerHour;
        instanceHours += hours;
        usd = usd === undefined || stackUsd === undefined ? undefined : usd + stackUsd;
        stacks.push({
            stack: r.stack,
            instances: p.instances,
            instanceType: p.instanceType,
            upStartedAt: r.upStartedAt === undefined ? undefined : new Date(r.upStartedAt).toISOString(),
            destroyCompletedAt: r.destroyCompletedAt === undefined ? undefined : new Date(r.destroyCompletedAt).toISOString(),
            instanceHours: hours,
            usd: stackUsd,
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
            basis: "step times are estimates (compare/plan.ts typicalMinutes); measuring from the plan's runs",
        },
        stacks,
        measured: { minutes: (now - startedAt) / 60_000, instanceHours, usd },
    };
}
