/**
 * `npm run bench -- <stack>… [options]`  measure stacks (outputs via the Pulumi Automation API)
 * `npm run bench -- --targets file.json`  measure clusters described in a Target[] file
 * `npm run bench -- report <folder> [--baseline <target>]`  re-render report.md and charts from
 *                                        summary.json, optionally against another target of the run
 * `npm run bench -- sample [<folder>]`   loopback run of every tool (docs/sample-report)
 *
 * Exit codes (core/cli.ts, the same in every CLI): 0 done; 1 failed (or a measurement failed,
 * or a program it needs is not on PATH: said before anything is read or made); 2 bad usage; 3 the --max-overhead-pct gate failed; 130 interrupted.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { exitCodes, optionLines, outputFolder, parseCommandLine, refuseOthers, runCli, shared, sharedWith, watchInterrupts } from "../core/cli";
import { UsageError } from "../core/errors";
import { requireTools, type Tool } from "../core/tools";
import { caseIds, measurementIds, type MeasurementId } from "./measure/measurements";
import { renderReport } from "./results/report";
import { runnerProfile } from "./profiles";
import { iperf3Bitrate, plannedToolSeconds, resolveSettings, runBenchmark, schedules, type BenchOptions, type ProgressEvent } from "./run";
import { defaultSampleDir, sampleTools, writeSampleReport } from "./sample";
import { labSessionTools } from "./sessions/lab";
import { loadTargetsFile, projectDir, readStackOutputs, stackOutputsTools, targetFromStackOutputs, type OutputValues } from "./stack-outputs";
import type { Target } from "./targets";
import { serviceAxisCases } from "./service-axis";
import type { ServiceProxyMode } from "../components/serviceProxy";

const options = {
    targets: { type: "string", arg: "FILE", help: "measure the clusters a Target[] JSON file describes", value: { kind: "in-file" } },
    out: shared("out", "results folder (default results/bench-<time>)"),
    repetitions: shared("repetitions", `repetitions per target (default ${runnerProfile.repetitions})`),
    schedule: sharedWith("schedule", "concurrent (default when every target is a separate aws-k3s cluster) or round-robin (default otherwise: lab and loopback share hardware)", {
        kind: "choice",
        allowed: schedules,
    }),
    baseline: shared("baseline"),
    "max-overhead-pct": shared("max-overhead-pct"),
    measurements: sharedWith("measurements", `comma-separated subset of: ${measurementIds.join(", ")}`, { kind: "list", allowed: measurementIds }),
    cases: { type: "string", arg: "LIST", help: `only these cases, e.g. iperf3.pod.cross.tcp1 (all: ${caseIds.join(", ")})`, value: { kind: "list", allowed: caseIds } },
    duration: shared("duration", `measured seconds per tool run (default ${runnerProfile.durationSeconds})`),
    warmup: shared("warmup", `discarded warm-up seconds before each run (default ${runnerProfile.warmupSeconds})`),
    "scaling-pods": { type: "string", arg: "LIST", help: `pod counts for the scaling curve (default ${runnerProfile.scalingPods.join(",")})`, value: { kind: "list", integer: { min: 2, max: 1000 } } },
    connections: { type: "string", arg: "N", help: `wrk connections (default ${runnerProfile.httpConnections})`, value: { kind: "integer", min: 1, max: 10_000 } },
    "udp-bitrate": {
        type: "string",
        arg: "RATE",
        help: `iperf3 UDP target bitrate (default ${runnerProfile.udpBitrate})`,
        value: { kind: "text", pattern: iperf3Bitrate, example: "iperf3 -b syntax such as 500M or 1G" },
    },
    "service-proxy": shared("service-proxy", "refuse targets whose Service proxy (stack output serviceProxy) is not one of these: iptables, nftables, ebpf"),
    services: shared("services", `measure at each of these counts of extra Services (targets must be able to change theirs; cases default to ${serviceAxisCases.join(", ")})`),
    "dry-run": shared("dry-run", "validate targets and options, print the plan, measure nothing"),
    help: shared("help"),
} as const;

/** The option vocabulary of this CLI (the hostile-input table is generated from it). */
export const benchOptions = options;

export const usage = `usage:
  npm run bench -- <stack> [<stack>…] [options]
  npm run bench -- --targets <file.json> [options]
  npm run bench -- report <results folder> [--baseline <target>]
  npm run bench -- sample [<folder>]   loopback run of every tool; default docs/sample-report

Stacks are read from PULUMI_BACKEND_URL when it is set; else from the backend of your
\`pulumi login\`, then from file://~/.pulumi-cni-compare (where \`npm run compare\` keeps its stacks).

options:
${optionLines(options)}

Exit codes: 0 done, 1 failed, 2 bad usage, 3 the --max-overhead-pct gate failed, 130 interrupted.`;

export interface ParsedCommand {
    readonly command: "run" | "report" | "sample" | "help";
    readonly folder?: string;
    readonly stacks: readonly string[];
    readonly targetsFile?: string;
    readonly dryRun: boolean;
    readonly options: BenchOptions;
    /** `--service-proxy`: the proxy modes every target must have. */
    readonly serviceProxies?: readonly ServiceProxyMode[];
}

/** Parses the command line; errors (UsageError) name the option and the value. */
export function parseBenchCommand(argv: readonly string[], now = new Date()): ParsedCommand {
    const parsed = parseCommandLine(argv, options, { positionals: true });
    const { values: v, positionals: pos } = parsed;
    if (v.help) return { command: "help", stacks: [], dryRun: false, options: { outDir: "" } };
    if (pos[0] === "report") {
        if (pos.length !== 2) throw new UsageError("report: pass exactly one results folder");
        // Only --baseline changes a report of a saved run; the others describe how to measure.
        refuseOthers(parsed, "report", ["baseline"]);
        return { command: "report", folder: pos[1], stacks: [], dryRun: false, options: { outDir: pos[1], baseline: v.baseline } };
    }
    if (pos[0] === "sample") {
        if (pos.length > 2) throw new UsageError("sample: pass at most one output folder");
        refuseOthers(parsed, "sample", []);
        const folder = pos[1] === undefined ? defaultSampleDir : outputFolder("sample", pos[1]);
        return { command: "sample", folder, stacks: [], dryRun: false, options: { outDir: folder } };
    }
    const stacks = pos[0] === "run" ? pos.slice(1) : pos;
    if (stacks.length === 0 && !v.targets) throw new UsageError("no targets: pass stack names or --targets <file.json>");
    const stamp = now.toISOString().replace(/[:.]/g, "-");
    return {
        command: "run",
        stacks,
        targetsFile: v.targets,
        dryRun: v["dry-run"] ?? false,
        serviceProxies: v["service-proxy"],
        options: {
            outDir: v.out ?? path.join(projectDir, "results", `bench-${stamp}`),
            repetitions: v.repetitions,
            schedule: v.schedule,
            baseline: v.baseline,
            maxOverheadPct: v["max-overhead-pct"],
            // The Service-count axis measures its own cases unless told otherwise.
            measurements: v.measurements ?? (v.services && !v.cases ? ["guestbook"] : undefined),
            cases: v.cases ?? (v.services && !v.measurements ? [...serviceAxisCases] : undefined),
            serviceCounts: v.services,
            durationSeconds: v.duration,
            warmupSeconds: v.warmup,
            scalingPods: v["scaling-pods"],
            httpConnections: v.connections,
            udpBitrate: v["udp-bitrate"],
        },
    };
}

/** The runner's setting names (bench/run.ts resolveSettings) as the flags a user typed. */
const flagOfSetting: Readonly<Record<string, string>> = {
    baseline: "--baseline",
    maxOverheadPct: "--max-overhead-pct",
    measurements: "--measurements",
    cases: "--cases",
    scalingPods: "--scaling-pods",
    schedule: "--schedule",
    udpBitrate: "--udp-bitrate",
    repetitions: "--repetitions",
    durationSeconds: "--duration",
    warmupSeconds: "--warmup",
    httpConnections: "--connections",
    serviceCounts: "--services",
};

/** The Service proxy a target runs: its stack output, or the lab target's kube-proxy mode; undefined when it does not say. */
export function targetServiceProxy(t: Target): ServiceProxyMode | undefined {
    return t.serviceProxy ?? t.lab?.serviceProxy?.mode;
}

/** `--service-proxy`: every target must run one of the given proxies; the error names each that does not. */
export function checkServiceProxies(targets: readonly Target[], allowed: readonly ServiceProxyMode[]): void {
    const wrong = targets.filter((t) => {
        const mode = targetServiceProxy(t);
        return mode === undefined || !allowed.includes(mode);
    });
    if (wrong.length === 0) return;
    const what = wrong.map((t) => `${t.name} runs ${targetServiceProxy(t) ?? "an unknown proxy (its outputs have no serviceProxy)"}`).join("; ");
    throw new UsageError(`--service-proxy: ${what}; allowed: ${allowed.join(", ")}`);
}

/** A resolveSettings message ("baseline: …") naming the flag instead ("--baseline: …"). */
function asTyped(message: string): string {
    const key = /^(\w+):/.exec(message)?.[1];
    return key !== undefined && flagOfSetting[key] ? flagOfSetting[key] + message.slice(key.length) : message;
}

/** `report`'s folder: an existing folder holding a run's summary.json; anything else is bad input. */
function resultsFolder(folder: string): string {
    const stat = fs.statSync(folder, { throwIfNoEntry: false });
    if (stat === undefined) throw new UsageError(`report: ${JSON.stringify(folder)} does not exist; pass a results folder`);
    if (!stat.isDirectory()) throw new UsageError(`report: ${JSON.stringify(folder)} is a file; pass a results folder`);
    // The file bench/results/report.ts readSummary reads (and checks field by field: a bad one is a SchemaError, exit 2 too).
    if (!fs.existsSync(path.join(folder, "summary.json"))) throw new UsageError(`report: ${JSON.stringify(folder)} holds no summary.json; pass the folder a run wrote`);
    return folder;
}

/** What `main` needs from outside: how a stack's outputs are read (tests pass a fake). */
export interface BenchWiring {
    readonly readStackOutputs: (stack: string) => Promise<OutputValues>;
    /** The programs `readStackOutputs` starts on this machine, checked with the others before any is read. */
    readonly readerTools?: readonly Tool[];
}

export const productionWiring: BenchWiring = { readStackOutputs: (stack) => readStackOutputs(stack), readerTools: stackOutputsTools };

/**
 * The programs `cmd` starts on this machine: the stack reader's (`readerTools`: the Pulumi CLI)
 * when stacks are named; for lab targets what a lab session runs (unless --dry-run: it measures
 * nothing); for `sample`, the loopback tools and guestbook. aws-k3s targets are measured over
 * SSH: nothing local.
 */
export function benchTools(cmd: ParsedCommand, fileTargets: readonly Target[], readerTools: readonly Tool[] = []): Tool[] {
    if (cmd.command === "sample") return sampleTools();
    if (cmd.command !== "run") return [];
    const reader = cmd.stacks.length > 0 ? readerTools : [];
    const lab = fileTargets.filter((t) => t.platform === "lab");
    const measurements = (cmd.options.measurements ?? measurementIds) as readonly MeasurementId[];
    const local =
        cmd.dryRun || lab.length === 0
            ? []
            : labSessionTools(
                  measurements,
                  lab.some((t) => t.lab?.cpuCgroup !== undefined),
              );
    return [...reader, ...local];
}

async function collectTargets(cmd: ParsedCommand, fileTargets: readonly Target[], wiring: BenchWiring): Promise<Target[]> {
    const targets: Target[] = [...fileTargets];
    for (const stack of cmd.stacks) targets.push(targetFromStackOutputs(stack, await wiring.readStackOutputs(stack)));
    return targets;
}

export async function main(argv: readonly string[], wiring: BenchWiring): Promise<number> {
    const cmd = parseBenchCommand(argv);
    if (cmd.command === "help") {
        console.log(usage);
        return exitCodes.ok;
    }
    if (cmd.command === "report") {
        await renderReport(resultsFolder(cmd.folder!), { baseline: cmd.options.baseline });
        console.log(`bench: wrote ${path.join(cmd.folder!, "report.md")} and charts/${cmd.options.baseline ? ` against the baseline ${cmd.options.baseline}` : ""}`);
        return exitCodes.ok;
    }
    const started = Date.now();
    const onProgress = (e: ProgressEvent) => {
        const min = ((Date.now() - started) / 60000).toFixed(1);
        (e.kind === "error" ? console.error : console.log)(`[${min} min] ${e.message}`);
    };
    const fileTargets = cmd.command === "run" && cmd.targetsFile ? loadTargetsFile(cmd.targetsFile) : [];
    // Before any stack is read, any file written or any tool started.
    requireTools(benchTools(cmd, fileTargets, wiring.readerTools));
    const targets = cmd.command === "sample" ? [] : await collectTargets(cmd, fileTargets, wiring);
    if (cmd.command === "run") {
        if (cmd.serviceProxies) checkServiceProxies(targets, cmd.serviceProxies);
        let settings;
        try {
            settings = resolveSettings(targets, cmd.options);
        } catch (err) {
            throw new UsageError(asTyped((err as Error).message));
        }
        if (cmd.dryRun) {
            console.log(`bench: ${targets.map((t) => `${t.name} (${t.platform}, ${t.mode})`).join(", ")}`);
            console.log(
                `bench: measurements ${settings.measurements.join(", ")}; ${settings.serviceCounts ? `at ${settings.serviceCounts.join(", ")} extra Services; ` : ""}${settings.repetitions} repetition(s), ${settings.schedule}; tools run ≈ ${Math.round(plannedToolSeconds(targets, settings) / 60)} min`,
            );
            return exitCodes.ok;
        }
    }
    // First Ctrl-C: stop, remove pods and processes, write partial results; a later one (after
    // the repeat window) exits at once.
    const interrupts = watchInterrupts((sig, count) => {
        if (count === 1) console.error(`\nbench: ${sig}: stopping, removing pods and processes (again to quit at once)…`);
        else process.exit(exitCodes.interrupted);
    });
    try {
        if (cmd.command === "sample") {
            const summary = await writeSampleReport(cmd.folder, onProgress, interrupts.signal);
            return summary.errors.length ? exitCodes.failure : exitCodes.ok;
        }
        const summary = await runBenchmark(targets, { ...cmd.options, signal: interrupts.signal, onProgress });
        if (summary.gate && !summary.gate.passed) {
            console.error(`bench: gate failed: ${summary.gate.violations.map((v) => `${v.target} ${v.id} +${v.overheadPct.toFixed(1)}%`).join("; ")}`);
            return exitCodes.gateFailed;
        }
        if (summary.errors.length) {
            console.error(`bench: ${summary.errors.length} measurement(s) failed; see ${path.join(summary.outDir, "report.md")}`);
            return exitCodes.failure;
        }
        return exitCodes.ok;
    } catch (err) {
        if (interrupts.signal.aborted) {
            console.error(`bench: interrupted: ${(err as Error).message}`);
            return exitCodes.interrupted;
        }
        throw err;
    } finally {
        interrupts.dispose();
    }
}

if (require.main === module) {
    runCli("bench", () => main(process.argv.slice(2), productionWiring));
}
