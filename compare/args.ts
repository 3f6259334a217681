/**
 * The command line of `npm run compare`, parsed and validated in one pure function:
 * argv and environment in, typed arguments (or a UsageError naming the flag) out.
 */
import { parseArgs } from "node:util";
import { isNetworkMode, networkModes, type NetworkMode } from "../components/modes";
import { parseCidr } from "../components/cidr";

export class UsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "UsageError";
    }
}

/** Defaults, in minutes unless named otherwise. */
export const compareDefaults = {
    parallel: 3,
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
    readonly baseline?: NetworkMode;
    readonly maxOverheadPct?: number;
}

export const usage = `Usage: npm run compare -- --modes <mode,mode,…|all> [options]
       npm run compare -- --cleanup [--yes]

Creates one Pulumi stack per network mode, measures them all with the benchmark runner, then
destroys every stack it created (also on failure, Ctrl-C and SIGTERM).

  --modes LIST             ${networkModes.join(", ")} (or "all")
  --operator-cidr CIDR     your address range, e.g. 203.0.113.7/32 (or env OPERATOR_CIDR)
  --parallel N             simultaneous stack updates (default ${compareDefaults.parallel})
  --keep                   leave the stacks up after measuring (you destroy them)
  --yes                    do not ask for confirmation (required without a terminal)
  --up-timeout MIN         per stack (default ${compareDefaults.upTimeoutMinutes})
  --measure-timeout MIN    per stack measured (default ${compareDefaults.measureTimeoutMinutes})
  --destroy-timeout MIN    per stack (default ${compareDefaults.destroyTimeoutMinutes})
  --out DIR                benchmark results (default results/compare-<run id>)
  --repetitions N          benchmark repetitions (runner default)
  --baseline MODE          express every figure against this mode
  --max-overhead-pct P     with --baseline: fail when a mode is worse by more than P %
  --cleanup                destroy the stacks a crashed or killed run left behind (from the ledger)
  -h, --help               this text

Environment: PULUMI_CONFIG_PASSPHRASE (required), PULUMI_BACKEND_URL (default file://~/.pulumi-cni-compare),
OPERATOR_CIDR. CNI_COMPARE_ENGINE=fake:<dir> is for tests only (no cloud, no network).`;

function number(flag: string, text: string | undefined, min: number, max: number, integer: boolean): number | undefined {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
        throw new UsageError(`${flag}: ${JSON.stringify(text)} must be ${integer ? "a whole number" : "a number"} from ${min} to ${max}`);
    }
    return value;
}

/** `--operator-cidr` (or OPERATOR_CIDR) as a CIDR; its allowed width is checked with the rest of
 * the stack config by components/settings.ts (see plan.ts), the one place that rule lives. */
export function parseOperatorCidr(text: string, source: string): string {
    const parsed = parseCidr(text);
    if ("problem" in parsed) {
        throw new UsageError(`${source}: ${JSON.stringify(text)} ${parsed.problem}`);
    }
    return parsed.text;
}

export function parseModes(text: string): NetworkMode[] {
    if (text.trim() === "all") return [...networkModes];
    const modes: NetworkMode[] = [];
    for (const raw of text.split(",")) {
        const mode = raw.trim();
        if (!isNetworkMode(mode)) {
            throw new UsageError(`--modes: ${JSON.stringify(mode)} is not a network mode; allowed: ${networkModes.join(", ")} (or "all")`);
        }
        if (modes.includes(mode)) {
            throw new UsageError(`--modes: ${mode} is listed twice`);
        }
        modes.push(mode);
    }
    return modes;
}

export function parseCompareArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): CompareArgs {
    let values;
    try {
        ({ values } = parseArgs({
            args: [...argv],
            strict: true,
            allowPositionals: false,
            options: {
                modes: { type: "string" },
                "operator-cidr": { type: "string" },
                parallel: { type: "string" },
                keep: { type: "boolean" },
                yes: { type: "boolean" },
                "up-timeout": { type: "string" },
                "measure-timeout": { type: "string" },
                "destroy-timeout": { type: "string" },
                out: { type: "string" },
                repetitions: { type: "string" },
                baseline: { type: "string" },
                "max-overhead-pct": { type: "string" },
                cleanup: { type: "boolean" },
                help: { type: "boolean", short: "h" },
            },
        }));
    } catch (error) {
        throw new UsageError(`${(error as Error).message}\n\n${usage}`);
    }
    const base = {
        parallel: number("--parallel", values.parallel, 1, 20, true) ?? compareDefaults.parallel,
        keep: values.keep ?? false,
        yes: values.yes ?? false,
        upTimeoutMinutes: number("--up-timeout", values["up-timeout"], 1, 24 * 60, false) ?? compareDefaults.upTimeoutMinutes,
        measureTimeoutMinutes: number("--measure-timeout", values["measure-timeout"], 1, 24 * 60, false) ?? compareDefaults.measureTimeoutMinutes,
        destroyTimeoutMinutes: number("--destroy-timeout", values["destroy-timeout"], 1, 24 * 60, false) ?? compareDefaults.destroyTimeoutMinutes,
    };
    if (values.help) {
        return { command: "help", modes: [], ...base };
    }
    if (values.cleanup) {
        const stray = ["modes", "operator-cidr", "keep", "out", "baseline"].filter((flag) => (values as Record<string, unknown>)[flag] !== undefined);
        if (stray.length > 0) {
            throw new UsageError(`--cleanup takes only --yes and --destroy-timeout; remove --${stray.join(", --")}`);
        }
        return { command: "cleanup", modes: [], ...base };
    }
    if (values.modes === undefined) {
        throw new UsageError(`--modes is required (e.g. --modes vxlan,host-gw or --modes all)\n\n${usage}`);
    }
    const modes = parseModes(values.modes);

    const cidrText = values["operator-cidr"] ?? env.OPERATOR_CIDR;
    if (cidrText === undefined || cidrText.trim() === "") {
        throw new UsageError("--operator-cidr (or env OPERATOR_CIDR) is required: the address range allowed to reach the nodes, e.g. 203.0.113.7/32 (this command cannot detect it: no network access is assumed)");
    }
    const operatorCidr = parseOperatorCidr(cidrText.trim(), values["operator-cidr"] !== undefined ? "--operator-cidr" : "OPERATOR_CIDR");

    let baseline: NetworkMode | undefined;
    if (values.baseline !== undefined) {
        if (!isNetworkMode(values.baseline) || !modes.includes(values.baseline)) {
            throw new UsageError(`--baseline: ${JSON.stringify(values.baseline)} must be one of the compared modes: ${modes.join(", ")}`);
        }
        baseline = values.baseline;
    }
    const maxOverheadPct = number("--max-overhead-pct", values["max-overhead-pct"], 0, 1000, false);
    if (maxOverheadPct !== undefined && baseline === undefined) {
        throw new UsageError("--max-overhead-pct needs --baseline (the mode the overhead is measured against)");
    }
    return {
        command: "compare",
        modes,
        operatorCidr,
        ...base,
        outDir: values.out,
        repetitions: number("--repetitions", values.repetitions, 1, 100, true),
        baseline,
        maxOverheadPct,
    };
}
