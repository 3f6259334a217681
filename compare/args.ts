/**
 * The command line of `npm run compare`, parsed and validated in one pure function:
 * argv and environment in, typed arguments (or a UsageError naming the flag) out.
 */
import { isNetworkMode, networkModes, type NetworkMode } from "../components/modes";
import { parseCidr } from "../components/cidr";
import { schedules, type Schedule } from "../bench/results/summary";
import { validateScalingPods } from "../bench/measure/measurements";
import { optionLines, parseCommandLine, refuseOthers, shared, sharedWith } from "../core/cli";
import { UsageError } from "../core/errors";

/** Defaults, in minutes unless named otherwise. */
export const compareDefaults = {
    /** All ups at once (each stack is its own VPC); the account's vCPU quota may lower it (capacity.ts). */
    parallel: 20,
    /** Separate stacks share no hardware, so measuring them at the same time is fair (bench/run.ts). */
    schedule: "concurrent" as Schedule,
    upTimeoutMinutes: 30,
    measureTimeoutMinutes: 60,
    destroyTimeoutMinutes: 20,
} as const;

export interface CompareArgs {
    readonly command: "compare" | "cleanup" | "help";
    /** Network modes to compare, one stack each (stack name = mode). */
    readonly modes: readonly NetworkMode[];
    /** Written to every stack as `cni-compare:operatorCidr` (the only source admitted). */
    readonly operatorCidr?: string;
    /** Where it came from, for messages: "--operator-cidr" or "env OPERATOR_CIDR". */
    readonly operatorCidrSource?: string;
    /** Maximum simultaneous `up`s. */
    readonly parallel: number;
    /** Leave the stacks up after measuring. */
    readonly keep: boolean;
    /** Skip the confirmation prompt. */
    readonly yes: boolean;
    readonly upTimeoutMinutes: number;
    /** Per stack: the benchmark's limit is this times the number of stacks measured. */
    readonly measureTimeoutMinutes: number;
    readonly destroyTimeoutMinutes: number;
    /** Benchmark output folder; default results/compare-<run id>. */
    readonly outDir?: string;
    readonly repetitions?: number;
    readonly durationSeconds?: number;
    readonly scalingPods?: readonly number[];
    readonly baseline?: NetworkMode;
    readonly maxOverheadPct?: number;
    /** How the benchmark takes the stacks: all at once (default) or round-robin. */
    readonly schedule: Schedule;
    /** Run `up` (and set operatorCidr) on stacks that existed before the run; default: measure them as they are. */
    readonly updateExisting: boolean;
    /** Every instance of every stack this run creates on one-time Spot (config `spot`). */
    readonly spot: boolean;
    /** Print the plan, create nothing, call nothing. */
    readonly dryRun: boolean;
}

/** Minutes an operation may take: from one minute to a day. */
const minutes = { kind: "number", min: 1, max: 24 * 60 } as const;

const options = {
    modes: shared("modes", `${networkModes.join(", ")} (or "all")`),
    "operator-cidr": { type: "string", arg: "CIDR", help: "your address range, e.g. 203.0.113.7/32", value: { kind: "text" }, env: "OPERATOR_CIDR" },
    parallel: {
        type: "string",
        arg: "N",
        help: `at most N simultaneous stack updates (default: all, within the account's EC2 vCPU quota; max ${compareDefaults.parallel})`,
        value: { kind: "integer", min: 1, max: compareDefaults.parallel },
    },
    schedule: sharedWith("schedule", "concurrent (default: stacks are separate clusters, all measured at once) or round-robin (one stack at a time, order rotating)", {
        kind: "choice",
        allowed: schedules,
    }),
    spot: { type: "boolean", help: "every instance of every new stack on one-time Spot (a stack's instances are all Spot or all on-demand)" },
    "update-existing": { type: "boolean", help: "also run `up` (and set --operator-cidr) on stacks that existed before this run; default: measure them as they are" },
    "dry-run": shared("dry-run", "validate everything, print the plan with its cost arithmetic, create and call nothing"),
    keep: { type: "boolean", help: "leave the stacks up after measuring (they stay in the ledger for --cleanup)" },
    yes: shared("yes"),
    "up-timeout": { type: "string", arg: "MIN", help: `per stack (default ${compareDefaults.upTimeoutMinutes})`, value: minutes },
    "measure-timeout": { type: "string", arg: "MIN", help: `per stack measured (default ${compareDefaults.measureTimeoutMinutes})`, value: minutes },
    "destroy-timeout": { type: "string", arg: "MIN", help: `per stack (default ${compareDefaults.destroyTimeoutMinutes})`, value: minutes },
    out: shared("out", "benchmark results (default results/compare-<run id>)"),
    repetitions: shared("repetitions", "benchmark repetitions (default: the comparison plan's, see --dry-run)"),
    duration: shared("duration", "measured seconds per tool run (default: the comparison plan's)"),
    "scaling-pods": { type: "string", arg: "LIST", help: "pod counts of the scaling curve (default: the comparison plan's)", value: { kind: "list", integer: { min: 2, max: 1000 } } },
    baseline: shared("baseline", "express every figure against this mode"),
    "max-overhead-pct": shared("max-overhead-pct"),
    cleanup: shared("cleanup", "destroy the stacks a crashed or killed run left behind (from the ledger), then exit"),
    help: shared("help"),
} as const;

/** What `--cleanup` takes besides itself: every other option would be silently ignored. */
export const compareCleanupTakes = ["yes", "destroy-timeout"] as const;

/** The option vocabulary of `npm run compare` (the hostile-input table is generated from it). */
export const compareOptions = options;

export const usage = `Usage: npm run compare -- --modes <mode,mode,…|all> [options]
       npm run compare -- --cleanup [--yes]

Creates one Pulumi stack per network mode, measures them all with the benchmark runner, then
destroys every stack it created (also on failure, Ctrl-C and SIGTERM).

${optionLines(options)}

Exit codes: 0 done, 1 failed, 2 bad usage, 3 the --max-overhead-pct gate failed, 130 interrupted.
Environment: PULUMI_CONFIG_PASSPHRASE (required for a file backend), PULUMI_BACKEND_URL (default
file://~/.pulumi-cni-compare, shared with \`npm run bench -- <stack>\`), OPERATOR_CIDR (--operator-cidr).`;

/** `--operator-cidr` (or OPERATOR_CIDR) as a CIDR; its allowed width is checked with the rest of
 * the stack config by components/settings.ts (see plan.ts), the one place that rule lives. */
export function parseOperatorCidr(text: string, source: string): string {
    const parsed = parseCidr(text);
    if ("problem" in parsed) {
        throw new UsageError(`${source}: ${JSON.stringify(text)} ${parsed.problem}`);
    }
    return parsed.text;
}

/** `--scaling-pods`, checked with the runner's own rule (bench/measure/scaling.ts validateScalingPods). */
function checkScalingPods(flag: string, items: readonly number[] | undefined): readonly number[] | undefined {
    if (items === undefined) return undefined;
    try {
        validateScalingPods(items);
    } catch (error) {
        throw new UsageError(`${flag}: ${JSON.stringify(items.join(","))}: ${(error as Error).message}`);
    }
    return items;
}

export function parseCompareArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): CompareArgs {
    const parsed = parseCommandLine(argv, options, { env });
    const { values, sources } = parsed;
    const base = {
        parallel: values.parallel ?? compareDefaults.parallel,
        keep: values.keep ?? false,
        yes: values.yes ?? false,
        upTimeoutMinutes: values["up-timeout"] ?? compareDefaults.upTimeoutMinutes,
        measureTimeoutMinutes: values["measure-timeout"] ?? compareDefaults.measureTimeoutMinutes,
        destroyTimeoutMinutes: values["destroy-timeout"] ?? compareDefaults.destroyTimeoutMinutes,
        schedule: values.schedule ?? compareDefaults.schedule,
        updateExisting: values["update-existing"] ?? false,
        spot: values.spot ?? false,
        dryRun: values["dry-run"] ?? false,
    };
    if (values.help) {
        return { command: "help", modes: [], ...base };
    }
    if (values.cleanup) {
        refuseOthers(parsed, "--cleanup", compareCleanupTakes);
        return { command: "cleanup", modes: [], ...base };
    }
    if (values.modes === undefined) {
        throw new UsageError(`--modes is required (e.g. --modes vxlan,host-gw or --modes all)\n\n${usage}`);
    }
    const modes = values.modes;

    if (values["operator-cidr"] === undefined) {
        throw new UsageError(
            "--operator-cidr (or env OPERATOR_CIDR) is required: the address range allowed to reach the nodes, e.g. 203.0.113.7/32 (this command cannot detect it: no network access is assumed)",
        );
    }
    const operatorCidrSource = sources["operator-cidr"]!;
    const operatorCidr = parseOperatorCidr(values["operator-cidr"].trim(), operatorCidrSource);

    let baseline: NetworkMode | undefined;
    if (values.baseline !== undefined) {
        if (!isNetworkMode(values.baseline) || !modes.includes(values.baseline)) {
            throw new UsageError(`--baseline: ${JSON.stringify(values.baseline)} must be one of the compared modes: ${modes.join(", ")}`);
        }
        baseline = values.baseline;
    }
    const maxOverheadPct = values["max-overhead-pct"];
    if (maxOverheadPct !== undefined && baseline === undefined) {
        throw new UsageError("--max-overhead-pct needs --baseline (the mode the overhead is measured against)");
    }
    return {
        command: "compare",
        modes,
        operatorCidr,
        operatorCidrSource,
        ...base,
        outDir: values.out,
        repetitions: values.repetitions,
        durationSeconds: values.duration,
        scalingPods: checkScalingPods(sources["scaling-pods"] ?? "--scaling-pods", values["scaling-pods"]),
        baseline,
        maxOverheadPct,
    };
}
