/**
 * What a comparison will create and roughly what it costs, computed before anything exists and
 * shown to the operator for confirmation.
 */
import { measurementIds, toolSecondsPerRepetition } from "../bench/measure/measurements";
import { casesLeftOut, comparisonProfile } from "../bench/profiles";
import { modeFacts, networkModes, type ModeFacts, type NetworkMode } from "../components/modes";
import { readProject, readStackFile, stackFilePath } from "../components/project";
import { ConfigError, parseSettings, type SettingKey } from "../components/settings";
import { UsageError } from "../core/errors";
import type { CompareArgs } from "./args";
import { tQuantile975 } from "../bench/results/stats";
import { planParallelism, vcpusPerInstance, type ParallelismPlan } from "./capacity";
import { formatUsd, pricesAsOf, stackCost, stackCostLines, stackHourlyPrice, type StackCost, type StackHourlyPrice, type StackRates } from "./prices";

/** What was read from the AWS account before planning (capacity.ts); absent in --dry-run. */
export interface PlanAccount {
    readonly quota?: import("./capacity").VcpuQuota & { readonly market: "on-demand" | "spot" };
    /** Why the quota is absent (e.g. "--dry-run calls nothing"). */
    readonly quotaNote?: string;
    /** Current Spot price per instance-hour by "region/instanceType". */
    readonly spotPrices?: ReadonlyMap<string, number>;
    readonly spotPriceBasis?: string;
}

/** One stack of the plan. */
export interface StackPlan {
    /** Stack name; equal to the mode (stacks/Pulumi.<mode>.yaml). */
    readonly stack: string;
    readonly mode: NetworkMode;
    readonly region: string;
    readonly instanceType: string;
    /** 2 nodes, plus the load generator when `loadGenerator` is on. */
    readonly instances: number;
    readonly price: StackHourlyPrice;
    /** The stack existed before this run: measured (updated only with --update-existing), never destroyed. */
    readonly existing: boolean;
    /** Current Spot price per instance-hour (DescribeSpotPriceHistory), when it was read. */
    readonly spotUsdPerInstanceHour?: number;
}

export interface ComparePlan {
    readonly stacks: readonly StackPlan[];
    readonly operatorCidr: string;
    readonly parallel: number;
    readonly keep: boolean;
    readonly upTimeoutMinutes: number;
    readonly measureTimeoutMinutes: number;
    readonly destroyTimeoutMinutes: number;
    readonly outDir: string;
    readonly backend: string;
    readonly spot: boolean;
    readonly updateExisting: boolean;
    readonly schedule: CompareArgs["schedule"];
    /** The benchmark settings the comparison runs with (its own defaults unless overridden). */
    readonly bench: MeasurementPlan;
    /** Waves from the vCPU quota (capacity.ts). */
    readonly parallelism: ParallelismPlan;
    /** Where the Spot prices came from, or why there are none. */
    readonly spotPriceBasis: string;
}

/**
 * Step times for the estimate, in minutes. ESTIMATES, not measurements: no run against AWS has
 * been timed from this project yet (replace them with the first real run's figures, which the
 * summary prints per stack). Why each value, and what the program's order changed:
 * docs/compare.md, "Step times". The "at most" figure printed beside them comes from the
 * timeouts and is exact.
 */
export const stepMinutes = {
    /** EC2 launch to SSH (boot, cloud-init); the NLB is created beside the instances. */
    instances: 1,
    /** The node scripts: apt tools, k3s's image archive, k3s; server and agent side by side. */
    k3s: 2,
    /** The pod network's own rollout once k3s answers: flannel is part of k3s. */
    podNetwork: { flannel: 0, calico: 3, cilium: 2 } satisfies Record<ModeFacts["plugin"], number>,
    /** The guestbook's Deployments side by side: image pulls and readiness. */
    guestbook: 1.5,
    /** The measurement pods' first start: pause pods on the sandbox image, never pulled
     * (bench/sessions/pod-launcher.ts); 2 min covers the API's and kubelet's round trips for
     * the largest scaling point's 100 pods. */
    podStart: 2,
    /** The NLB and its network interfaces, then the instances and the VPC; objects in the
     * cluster are `deletedWith` the server instance, so no Kubernetes delete comes first. */
    destroy: 4,
} as const;

/** The up of the slowest stack of a wave, step by step (the wave's ups run at once). */
export function upSteps(modes: readonly NetworkMode[]): { readonly step: string; readonly minutes: number }[] {
    const plugin = [...new Set(modes.map((m) => modeFacts[m].plugin))].sort((a, b) => stepMinutes.podNetwork[b] - stepMinutes.podNetwork[a])[0] ?? "flannel";
    return [
        { step: "instances to SSH", minutes: stepMinutes.instances },
        { step: "k3s server and agent side by side", minutes: stepMinutes.k3s },
        { step: `pod network (${plugin})`, minutes: stepMinutes.podNetwork[plugin] },
        { step: "guestbook Deployments side by side", minutes: stepMinutes.guestbook },
    ];
}

/**
 * Per tool run, on top of warm-up + duration: server start, the runner's connection retries
 * (≤ 2.3 s, docs/benchmark.md) and sockperf's own ~2 s start. An estimate from the loopback
 * sample (5 min of tool time took 7.1 min with 2 s runs: docs/benchmark.md).
 */
export const runOverheadSeconds = 2;

export interface MeasurementPlan {
    readonly repetitions: number;
    readonly durationSeconds: number;
    readonly warmupSeconds: number;
    readonly scalingPods: readonly number[];
    readonly cases: readonly string[];
}

/**
 * Validates what each stack will see (its stack file, Pulumi.yaml's defaults and the operator's
 * CIDR) with the program's own validation, so a bad value fails here and not after an hour of
 * `up`s. `exists` says which stacks are already there.
 */
export function buildPlan(args: CompareArgs, projectDir: string, backend: string, outDir: string, exists: ReadonlySet<string>, account: PlanAccount = {}): ComparePlan {
    const stacks = planStacks(args, projectDir, exists, account);
    const parallelism = planWaves(args, stacks, account);
    const bench: MeasurementPlan = {
        repetitions: args.repetitions ?? comparisonProfile.repetitions,
        durationSeconds: args.durationSeconds ?? comparisonProfile.durationSeconds,
        warmupSeconds: comparisonProfile.warmupSeconds,
        scalingPods: args.scalingPods ?? comparisonProfile.scalingPods,
        cases: comparisonProfile.cases,
    };
    return {
        stacks,
        spot: args.spot,
        updateExisting: args.updateExisting,
        schedule: args.schedule,
        bench,
        parallelism,
        spotPriceBasis: account.spotPriceBasis ?? "not read",
        operatorCidr: args.operatorCidr!,
        parallel: args.parallel,
        keep: args.keep,
        upTimeoutMinutes: args.upTimeoutMinutes,
        measureTimeoutMinutes: args.measureTimeoutMinutes,
        destroyTimeoutMinutes: args.destroyTimeoutMinutes,
        outDir,
        backend,
    };
}

/** One plan per compared mode; every problem of every stack file, reported together. */
function planStacks(args: CompareArgs, projectDir: string, exists: ReadonlySet<string>, account: PlanAccount): StackPlan[] {
    const project = readProject(projectDir);
    const problems: string[] = [];
    const stacks: StackPlan[] = [];
    for (const mode of args.modes) {
        const stack = planStack(args, project, mode, exists, account, problems);
        if (stack) stacks.push(stack);
    }
    if (problems.length > 0) {
        throw new ConfigError([...new Set(problems)]);
    }
    return stacks;
}

/** The plan of one mode's stack, or undefined with its problems added to `problems`. */
function planStack(args: CompareArgs, project: ReturnType<typeof readProject>, mode: NetworkMode, exists: ReadonlySet<string>, account: PlanAccount, problems: string[]): StackPlan | undefined {
    // The config namespace: the project's name, read from Pulumi.yaml (components/project.ts).
    const projectName = project.name;
    const stack = mode;
    const file = readStackFile(project, stack);
    if (file === undefined) {
        problems.push(`stack file ${stackFilePath(project, stack)} is missing: every compared mode needs stacks/Pulumi.<mode>.yaml`);
        return undefined;
    }
    if (file[`${projectName}:mode`] !== mode) {
        problems.push(`stacks/Pulumi.${stack}.yaml: ${projectName}:mode is ${JSON.stringify(file[`${projectName}:mode`] ?? "(not set)")}, expected ${mode}`);
        return undefined;
    }
    const region = file["aws:region"];
    if (region === undefined) {
        problems.push(`stacks/Pulumi.${stack}.yaml: aws:region is not set`);
        return undefined;
    }
    const raw = (key: SettingKey): string | undefined => (key === "operatorCidr" ? args.operatorCidr : (file[`${projectName}:${key}`] ?? project.defaults[key]));
    try {
        const settings = parseSettings(raw);
        const instances = 2 + (settings.loadGenerator ? 1 : 0);
        return {
            stack,
            mode,
            region,
            instanceType: settings.instanceType,
            instances,
            price: stackHourlyPrice(region, settings.instanceType, instances),
            existing: exists.has(stack),
            spotUsdPerInstanceHour: account.spotPrices?.get(`${region}/${settings.instanceType}`),
        };
    } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        // Name where the one value from outside the stack files came from (the flag or the environment).
        const cidrSource = args.operatorCidrSource ?? "--operator-cidr";
        problems.push(
            ...error.problems.map((p) =>
                p.startsWith("operatorCidr:") ? `${cidrSource} (${projectName}:operatorCidr): ${p.slice("operatorCidr:".length).trim()}` : `stacks/Pulumi.${stack}.yaml: ${p}`,
            ),
        );
        return undefined;
    }
}

/** Waves from the vCPU quota; refused when no wave fits, or when waves contradict --keep or --baseline. */
function planWaves(args: CompareArgs, stacks: readonly StackPlan[], account: PlanAccount): ParallelismPlan {
    // Only stacks that start instances need quota: new ones, and existing ones only with --update-existing.
    const needQuota = stacks.filter((s) => !s.existing || args.updateExisting);
    const vcpusPerStack = Math.max(0, ...stacks.map((s) => s.instances * (vcpusPerInstance as Record<string, number>)[s.instanceType]));
    const parallelism = planParallelism(needQuota.length, vcpusPerStack, args.parallel, account.quota, account.quotaNote ?? "not read");
    if (parallelism.impossible) throw new UsageError(parallelism.impossible);
    if (parallelism.waves > 1 && args.keep) {
        throw new UsageError(`--keep: kept stacks hold their vCPUs, so the ${parallelism.waves} waves the quota needs cannot run; ${parallelism.statement}`);
    }
    if (parallelism.waves > 1 && args.baseline !== undefined) {
        throw new UsageError(
            `--baseline ${args.baseline}: the quota splits the run into ${parallelism.waves} waves, each its own benchmark, so not every mode can be compared against the baseline; compare at most ${parallelism.waveSize} modes at once or raise the quota (${parallelism.statement})`,
        );
    }
    return parallelism;
}

/** The step times of one wave and of the whole run, in minutes. */
export interface TimelineEstimate {
    readonly runsPerRepetition: number;
    readonly secondsPerRepetition: number;
    readonly up: number;
    /** What `up` is made of (empty when nothing is brought up). */
    readonly upSteps: readonly { readonly step: string; readonly minutes: number }[];
    readonly podStart: number;
    /** Wall minutes of measuring one wave (concurrent: one stack's time; round-robin: the sum). */
    readonly measure: number;
    readonly destroy: number;
    readonly perWave: number;
    readonly waves: number;
    readonly typical: number;
    /** Minutes if every up, measurement and destroy runs into its timeout. */
    readonly worst: number;
}

/** Seconds of one repetition of one stack: tool time plus the per-run overhead. */
export function repetitionSeconds(bench: MeasurementPlan): { readonly runs: number; readonly seconds: number } {
    const run = bench.durationSeconds + bench.warmupSeconds;
    const tool = toolSecondsPerRepetition(measurementIds, { ...bench, cases: bench.cases });
    const runs = Math.round(tool / run);
    return { runs, seconds: tool + runs * runOverheadSeconds };
}

/** Waves run one after the other; in a wave: ups together, pods, measuring, destroys together. */
export function estimateTimeline(
    plan: Pick<ComparePlan, "stacks" | "parallelism" | "schedule" | "bench" | "updateExisting" | "upTimeoutMinutes" | "measureTimeoutMinutes" | "destroyTimeoutMinutes">,
): TimelineEstimate {
    const waves = Math.max(1, plan.parallelism.waves);
    // The first wave also measures the pre-existing stacks measured as they are.
    const asIs = plan.updateExisting ? 0 : plan.stacks.filter((s) => s.existing).length;
    const waveStacks = Math.min(plan.stacks.length, Math.max(1, plan.parallelism.waveSize) + asIs);
    const anyUp = plan.stacks.some((s) => !s.existing || plan.updateExisting);
    const anyDestroy = plan.stacks.some((s) => !s.existing);
    const { runs, seconds } = repetitionSeconds(plan.bench);
    const turns = plan.schedule === "concurrent" ? 1 : waveStacks;
    const upPath = upSteps(plan.stacks.filter((s) => !s.existing || plan.updateExisting).map((s) => s.mode));
    const up = anyUp ? upPath.reduce((sum, s) => sum + s.minutes, 0) : 0;
    const destroy = anyDestroy ? stepMinutes.destroy : 0;
    const measure = (plan.bench.repetitions * seconds * turns) / 60;
    const perWave = up + stepMinutes.podStart + measure + destroy;
    return {
        runsPerRepetition: runs,
        secondsPerRepetition: seconds,
        up,
        upSteps: anyUp ? upPath : [],
        podStart: stepMinutes.podStart,
        measure,
        destroy,
        perWave,
        waves,
        typical: waves * perWave,
        worst: waves * ((anyUp ? plan.upTimeoutMinutes : 0) + plan.measureTimeoutMinutes * turns + (anyDestroy ? plan.destroyTimeoutMinutes : 0)),
    };
}

/** Each new stack's cost for `minutes` (prices.ts stackCost); undefined when a price is unknown. */
export function estimateStackCosts(
    stacks: readonly StackPlan[],
    minutes: number,
    market: "on-demand" | "spot" = "on-demand",
): { readonly stack: StackPlan; readonly rates: StackRates; readonly cost: StackCost }[] | undefined {
    const costs: { stack: StackPlan; rates: StackRates; cost: StackCost }[] = [];
    for (const s of stacks.filter((x) => !x.existing)) {
        if (!s.price.known) return undefined;
        const perInstance = market === "spot" ? s.spotUsdPerInstanceHour : s.price.instanceUsdPerHour;
        if (perInstance === undefined) return undefined;
        costs.push({ stack: s, rates: s.price, cost: stackCost(s.price, minutes / 60, perInstance) });
    }
    return costs;
}

/** USD for the stacks this run creates, each existing for `minutes`; undefined when a price is unknown. */
export function estimateUsd(stacks: readonly StackPlan[], minutes: number, market: "on-demand" | "spot" = "on-demand"): number | undefined {
    return estimateStackCosts(stacks, minutes, market)?.reduce((sum, c) => sum + c.cost.total, 0);
}

export function formatMinutes(minutes: number): string {
    const m = Math.round(minutes * 10) / 10;
    if (m >= 60) return `${Math.floor(m / 60)} h ${String(Math.round(m % 60)).padStart(2, "0")} min`;
    return `${Number.isInteger(m) ? m : m.toFixed(1)} min`;
}

/** The plan as the operator reads it before confirming: every figure with its arithmetic. */
export function renderPlan(plan: ComparePlan): string {
    const t = estimateTimeline(plan);
    return [...stackLines(plan), "", ...measurementLines(plan, t), "", ...timelineLines(t), "", ...costLines(plan, t), ...closingLines(plan)].join("\n");
}

/** The stacks, what happens to each, and the limits they run under. */
function stackLines(plan: ComparePlan): string[] {
    const lines: string[] = [];
    const created = plan.stacks.filter((s) => !s.existing);
    const market = plan.spot ? "Spot" : "on demand";
    lines.push(`Plan: compare ${plan.stacks.length} network mode(s), one Pulumi stack each (backend: ${plan.backend})`);
    lines.push("");
    lines.push("  stack          region          instances                    on-demand $/h   stack is");
    for (const s of plan.stacks) {
        const instances = `${s.instances} × ${s.instanceType} + 1 NLB`;
        const price = s.price.known ? formatUsd(s.price.usdPerHour) : "unknown";
        const fate = s.existing
            ? plan.updateExisting
                ? "EXISTING: updated (--update-existing), measured, left up"
                : "EXISTING: measured as it is (no up, no config change), left up"
            : plan.keep
              ? `new (${market}): created, measured, kept (--keep)`
              : `new (${market}): created, measured, destroyed`;
        lines.push(`  ${s.stack.padEnd(14)} ${s.region.padEnd(15)} ${instances.padEnd(28)} ${price.padEnd(15)} ${fate}`);
    }
    const instanceCount = created.reduce((sum, s) => sum + s.instances, 0);
    lines.push("");
    lines.push(`Instances: ${instanceCount} new (per stack: 2 k3s nodes${plan.stacks.some((s) => s.instances > 2) ? " + 1 load generator" : ""}), ${created.length} network load balancer(s)`);
    lines.push(`Operator CIDR: ${plan.operatorCidr} (the only source admitted to SSH, the Kubernetes API and the load balancer)`);
    lines.push(`Capacity: ${plan.parallelism.statement}`);
    lines.push(
        `Timeouts per stack: up ${plan.upTimeoutMinutes} min, measurement ${plan.measureTimeoutMinutes} min, destroy ${plan.destroyTimeoutMinutes} min; stacks measured ${plan.schedule === "concurrent" ? "concurrently (--schedule concurrent)" : "round-robin (--schedule round-robin)"}`,
    );
    return lines;
}

/** What each default of the measurement plan costs in wall minutes per wave. */
function measurementLines(plan: ComparePlan, t: TimelineEstimate): string[] {
    const lines: string[] = [];
    const b = plan.bench;
    const run = b.durationSeconds + b.warmupSeconds;
    const turns = plan.schedule === "concurrent" ? 1 : Math.min(plan.stacks.length, plan.parallelism.waveSize || 1);
    const perRepMin = (t.secondsPerRepetition * turns) / 60;
    lines.push("Measurement plan (what each default costs in wall minutes per wave; override with --repetitions, --duration, --scaling-pods):");
    lines.push(
        `  runs per repetition: ${t.runsPerRepetition} (${b.cases.length} cases + ${b.scalingPods.length} scaling points), each ${b.durationSeconds} s + ${b.warmupSeconds} s warm-up + ~${runOverheadSeconds} s start-up (estimate) = ${run + runOverheadSeconds} s → ${t.secondsPerRepetition} s per repetition`,
    );
    lines.push(
        `  repetitions ${b.repetitions}: ${b.repetitions} × ${formatMinutes(perRepMin)} = ${formatMinutes(t.measure)}; one more would add ${formatMinutes(perRepMin)} and narrow every 95 % interval to ×${(tFactor(b.repetitions + 1) / tFactor(b.repetitions)).toFixed(2)}`,
    );
    lines.push(`  duration ${b.durationSeconds} s: each extra second adds ${formatMinutes((b.repetitions * t.runsPerRepetition * turns) / 60)}`);
    lines.push(
        `  scaling points ${b.scalingPods.join(", ")}: ${formatMinutes((b.repetitions * b.scalingPods.length * (run + runOverheadSeconds) * turns) / 60)} (each further point +${formatMinutes((b.repetitions * (run + runOverheadSeconds) * turns) / 60)})`,
    );
    const leftOut = Object.keys(casesLeftOut).filter((c) => !b.cases.includes(c));
    if (leftOut.length > 0) lines.push(`  cases left out (no information about the difference between modes; docs/compare.md): ${leftOut.join(", ")}`);
    return lines;
}

function timelineLines(t: TimelineEstimate): string[] {
    return [
        `Timeline (step times are ESTIMATES — no run on AWS has been timed yet; compare/plan.ts stepMinutes, docs/compare.md "Step times"):`,
        ...(t.upSteps.length > 0 ? [`  up of the wave's slowest stack: ${t.upSteps.map((s) => `${s.step} ${formatMinutes(s.minutes)}`).join(" + ")} = ${formatMinutes(t.up)}`] : []),
        `  per wave: ups ${formatMinutes(t.up)} (all of the wave at once) + pods start ${formatMinutes(t.podStart)} + measuring ${formatMinutes(t.measure)} + destroys ${formatMinutes(t.destroy)} (all at once; nothing in the clusters is deleted one by one) = ${formatMinutes(t.perWave)}`,
        `  ${t.waves} wave(s) → ~${formatMinutes(t.typical)} wall; at most ${formatMinutes(t.worst)} if every step hits its timeout`,
    ];
}

/** The estimated cost of the stacks this run creates, part by part, on demand and on Spot. */
function costLines(plan: ComparePlan, t: TimelineEstimate): string[] {
    const created = plan.stacks.filter((s) => !s.existing);
    const unknown = created.find((s) => !s.price.known);
    if (unknown && !unknown.price.known) return [`Estimated cost: unknown (${unknown.price.reason})`];
    if (created.length === 0) return ["Estimated cost: $0 for this run (no stack is created; existing stacks are billed to whoever runs them)"];
    const lines: string[] = [];
    const costs = estimateStackCosts(plan.stacks, t.perWave)!;
    const onDemand = costs.reduce((sum, c) => sum + c.cost.total, 0);
    lines.push(
        `Estimated cost (each new stack exists for its wave, ~${formatMinutes(t.perWave)}; what AWS bills by the clock: instances, NLB-hours, public IPv4 addresses, EBS; excludes data transfer, NLCUs, taxes; compare/prices.ts; prices: ${pricesAsOf}):`,
    );
    // Stacks with the same rates share one worked example; each group says how many it has.
    const groups = new Map<string, typeof costs>();
    for (const c of costs) {
        const key = `${c.stack.region}/${c.rates.instanceType}/${c.rates.instances}`;
        groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    for (const group of groups.values()) {
        const { rates, cost, stack } = group[0];
        lines.push(`  per stack (${group.length === costs.length ? "every new stack" : group.map((c) => c.stack.stack).join(", ")}; ${stack.region}), on demand:`);
        for (const line of stackCostLines(rates, cost)) lines.push(`    ${line}`);
        lines.push(`    stack total = $${cost.total.toFixed(4)}`);
    }
    const sum = [...groups.values()].map((g) => `${g.length} × $${g[0].cost.total.toFixed(4)}`).join(" + ");
    lines.push(`  on demand: ${sum} = ~${formatUsd(onDemand)}`);
    // Only the instances are discounted on Spot: the NLB, the addresses and the volumes are not.
    const instanceShare = costs.reduce((total, c) => total + c.cost.instances, 0);
    lines.push(spotLine(plan, t, onDemand, instanceShare));
    lines.push(
        `  --modes all (${networkModes.length} modes, at this plan's per-stack price and steps, if the quota fits them at once): ~${formatMinutes(t.perWave)} wall, ~${formatUsd((onDemand / created.length) * networkModes.length)} on demand`,
    );
    return lines;
}

/** The Spot figure at the live price, or without one, the Spot price that keeps the run under $2. */
function spotLine(plan: ComparePlan, t: TimelineEstimate, onDemand: number, instanceShare: number): string {
    const spot = estimateUsd(plan.stacks, t.perWave, "spot");
    const fixedShare = onDemand - instanceShare;
    if (spot !== undefined) {
        return `  Spot: instances at the current Spot price (${plan.spotPriceBasis}), NLB + public IPv4 + EBS as on demand (${formatUsd(fixedShare)}) = ~${formatUsd(spot)}; ${formatUsd(onDemand - spot)} less than on demand`;
    }
    const breakEven = (2 - fixedShare) / instanceShare;
    if (breakEven <= 0) return `  Spot: price not known (${plan.spotPriceBasis}); NLB + public IPv4 + EBS alone are ${formatUsd(fixedShare)}, so no Spot price keeps this run under $2.00`;
    return `  Spot: price not known (${plan.spotPriceBasis}); the instances are ${formatUsd(instanceShare)} of the on-demand figure and NLB + public IPv4 + EBS ${formatUsd(fixedShare)} whatever the market, so with --spot the run stays under $2.00 when the Spot price is at most ${Math.floor(breakEven * 100)} % of on-demand (($2.00 − ${formatUsd(fixedShare)}) ÷ ${formatUsd(instanceShare)})`;
}

/** Where results go and what happens to the stacks afterwards. */
function closingLines(plan: ComparePlan): string[] {
    const created = plan.stacks.filter((s) => !s.existing);
    const existing = plan.stacks.filter((s) => s.existing);
    const lines = [`Results: ${plan.outDir}`];
    if (created.length > 0) {
        lines.push(
            plan.keep
                ? `Teardown: --keep: the ${created.length} new stack(s) stay up (and cost money) until you run \`pulumi destroy\` or \`npm run compare -- --cleanup\`.`
                : `Teardown: the ${created.length} new stack(s) are destroyed at the end of their wave, after any failure, and on Ctrl-C/SIGTERM; if this process is killed, \`npm run compare -- --cleanup\` destroys them (ledger).`,
        );
    }
    if (existing.length > 0) {
        lines.push(`Existing stacks (${existing.map((s) => s.stack).join(", ")}) were not created by this command and are never destroyed by it.`);
    }
    return lines;
}

/** t(0.975, n−1)/√n: the 95 % interval's half-width in standard deviations (n ≥ 2). */
function tFactor(n: number): number {
    return tQuantile975(n - 1) / Math.sqrt(n);
}
