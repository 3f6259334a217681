/**
 * What a comparison will create and roughly what it costs, computed before anything exists and
 * shown to the operator for confirmation.
 */
import type { NetworkMode } from "../components/modes";
import { readProject, readStackFile, stackFilePath } from "../components/project";
import { ConfigError, parseSettings, type SettingKey } from "../components/settings";
import type { CompareArgs } from "./args";
import { formatUsd, pricesAsOf, stackHourlyPrice, type StackHourlyPrice } from "./prices";

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
    /** The stack existed before this run: it is updated and measured but never destroyed. */
    readonly existing: boolean;
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
}

/**
 * Typical durations, in minutes, for the estimate only. They are guesses (k3s install, Calico
 * operator rollout and NLB provisioning dominate `up`; the NLB's deletion dominates `destroy`),
 * not measurements: no run against AWS has been timed from this project yet. The upper bound
 * printed next to the estimate comes from the timeouts and is exact.
 */
export const typicalMinutes = { up: 15, measurePerStack: 20, destroy: 8 } as const;

/**
 * Validates what each stack will see (its stack file, Pulumi.yaml's defaults and the operator's
 * CIDR) with the program's own validation, so a bad value fails here and not after an hour of
 * `up`s. `exists` says which stacks are already there.
 */
export function buildPlan(args: CompareArgs, projectDir: string, backend: string, outDir: string, exists: ReadonlySet<string>): ComparePlan {
    const project = readProject(projectDir);
    // The config namespace: the project's name, read from Pulumi.yaml (components/project.ts).
    const projectName = project.name;
    const problems: string[] = [];
    const stacks: StackPlan[] = [];
    for (const mode of args.modes) {
        const stack = mode;
        const file = readStackFile(project, stack);
        if (file === undefined) {
            problems.push(`stack file ${stackFilePath(project, stack)} is missing: every compared mode needs stacks/Pulumi.<mode>.yaml`);
            continue;
        }
        if (file[`${projectName}:mode`] !== mode) {
            problems.push(`stacks/Pulumi.${stack}.yaml: ${projectName}:mode is ${JSON.stringify(file[`${projectName}:mode`] ?? "(not set)")}, expected ${mode}`);
            continue;
        }
        const region = file["aws:region"];
        if (region === undefined) {
            problems.push(`stacks/Pulumi.${stack}.yaml: aws:region is not set`);
            continue;
        }
        const raw = (key: SettingKey): string | undefined =>
            key === "operatorCidr" ? args.operatorCidr : file[`${projectName}:${key}`] ?? project.defaults[key];
        try {
            const settings = parseSettings(raw);
            const instances = 2 + (settings.loadGenerator ? 1 : 0);
            stacks.push({
                stack,
                mode,
                region,
                instanceType: settings.instanceType,
                instances,
                price: stackHourlyPrice(region, settings.instanceType, instances),
                existing: exists.has(stack),
            });
        } catch (error) {
            if (!(error instanceof ConfigError)) throw error;
            // Name the flag for the one value that comes from the command line.
            problems.push(...error.problems.map((p) => (p.startsWith("operatorCidr:") ? `--operator-cidr (${projectName}:operatorCidr): ${p.slice("operatorCidr:".length).trim()}` : `stacks/Pulumi.${stack}.yaml: ${p}`)));
        }
    }
    if (problems.length > 0) {
        throw new ConfigError([...new Set(problems)]);
    }
    return {
        stacks,
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

export interface DurationEstimate {
    /** Typical minutes (from `typicalMinutes`). */
    readonly typical: number;
    /** Minutes if every up, measurement and destroy runs into its timeout. */
    readonly worst: number;
}

/** Ups run in waves of `parallel`; the benchmark measures all stacks in one run; destroys run together. */
export function estimateMinutes(plan: Pick<ComparePlan, "stacks" | "parallel" | "upTimeoutMinutes" | "measureTimeoutMinutes" | "destroyTimeoutMinutes">): DurationEstimate {
    const n = plan.stacks.length;
    const waves = Math.ceil(n / plan.parallel);
    return {
        typical: waves * typicalMinutes.up + n * typicalMinutes.measurePerStack + typicalMinutes.destroy,
        worst: waves * plan.upTimeoutMinutes + n * plan.measureTimeoutMinutes + plan.destroyTimeoutMinutes,
    };
}

/** USD for every stack running `minutes`, or undefined when some price is unknown. */
export function estimateUsd(stacks: readonly StackPlan[], minutes: number): number | undefined {
    let total = 0;
    for (const s of stacks) {
        if (!s.price.known) return undefined;
        total += s.price.usdPerHour * (minutes / 60);
    }
    return total;
}

export function formatMinutes(minutes: number): string {
    const m = Math.round(minutes);
    return m >= 60 ? `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min` : `${m} min`;
}

/** The plan as the operator reads it before confirming. */
export function renderPlan(plan: ComparePlan): string {
    const lines: string[] = [];
    const created = plan.stacks.filter((s) => !s.existing);
    const existing = plan.stacks.filter((s) => s.existing);
    lines.push(`Plan: compare ${plan.stacks.length} network mode(s), one Pulumi stack each (backend: ${plan.backend})`);
    lines.push("");
    lines.push("  stack          region          instances                    on-demand $/h   stack is");
    for (const s of plan.stacks) {
        const instances = `${s.instances} × ${s.instanceType} + 1 NLB`;
        const price = s.price.known ? formatUsd(s.price.usdPerHour) : "unknown";
        const fate = s.existing ? "EXISTING: updated, measured, left up" : plan.keep ? "new: created, measured, kept (--keep)" : "new: created, measured, destroyed";
        lines.push(`  ${s.stack.padEnd(14)} ${s.region.padEnd(15)} ${instances.padEnd(28)} ${price.padEnd(15)} ${fate}`);
    }
    const instanceCount = plan.stacks.reduce((sum, s) => sum + s.instances, 0);
    lines.push("");
    lines.push(`Instances: ${instanceCount} in total (per stack: 2 k3s nodes${plan.stacks.some((s) => s.instances > 2) ? " + 1 load generator" : ""}), ${plan.stacks.length} network load balancer(s)`);
    lines.push(`Operator CIDR: ${plan.operatorCidr} (the only source admitted to SSH, the Kubernetes API and the load balancer)`);
    lines.push(`Parallel ups: ${plan.parallel}; timeouts per stack: up ${plan.upTimeoutMinutes} min, measurement ${plan.measureTimeoutMinutes} min, destroy ${plan.destroyTimeoutMinutes} min`);
    const minutes = estimateMinutes(plan);
    lines.push(`Estimated duration: ~${formatMinutes(minutes.typical)} (typical, a guess: see compare/plan.ts), at most ${formatMinutes(minutes.worst)} if every step hits its timeout`);
    const unknown = plan.stacks.find((s) => !s.price.known);
    if (unknown && !unknown.price.known) {
        lines.push(`Estimated cost: unknown (${unknown.price.reason})`);
    } else {
        const typical = estimateUsd(plan.stacks, minutes.typical)!;
        const worst = estimateUsd(plan.stacks, minutes.worst)!;
        lines.push(`Estimated cost: ~${formatUsd(typical)} on demand, at most ${formatUsd(worst)} (instances + NLB-hours; excludes EBS, data transfer, NLCUs; prices: ${pricesAsOf})`);
    }
    lines.push(`Results: ${plan.outDir}`);
    if (created.length > 0) {
        lines.push(
            plan.keep
                ? `Teardown: --keep: the ${created.length} new stack(s) stay up (and cost money) until you run \`pulumi destroy\` or \`npm run compare -- --cleanup\`.`
                : `Teardown: the ${created.length} new stack(s) are destroyed at the end, after any failure, and on Ctrl-C/SIGTERM; if this process is killed, \`npm run compare -- --cleanup\` destroys them (ledger).`,
        );
    }
    if (existing.length > 0) {
        lines.push(`Existing stacks (${existing.map((s) => s.stack).join(", ")}) were not created by this command and are never destroyed by it.`);
    }
    return lines.join("\n");
}

