/**
 * `npm run bench -- <stack>… [options]`  measure stacks (outputs via the Pulumi Automation API)
 * `npm run bench -- --targets file.json`  measure clusters described in a Target[] file
 * `npm run bench -- report <folder>`     re-render report.md and charts from summary.json
 * `npm run bench -- sample [<folder>]`   loopback run of every tool (docs/sample-report)
 *
 * Exit codes: 0 done; 1 failed (or a measurement failed); 2 bad usage; 3 the --max-overhead
 * gate failed; 130 interrupted.
 */
import { parseArgs } from "node:util";
import * as path from "node:path";
import { caseIds, measurementIds } from "./measurements";
import { defaultSampleDir, writeSampleReport } from "./sample";
import { renderReport } from "./report";
import { benchDefaults, plannedToolSeconds, resolveSettings, runBenchmark, type BenchOptions, type ProgressEvent } from "./run";
import { loadTargetsFile, projectDir, readStackOutputs, targetFromStackOutputs } from "./stack-outputs";
import type { Target } from "./targets";

export const usage = `usage:
  npm run bench -- <stack> [<stack>…] [options]
  npm run bench -- --targets <file.json> [options]
  npm run bench -- report <results folder>
  npm run bench -- sample [<folder>]   loopback run of every tool; default docs/sample-report

options:
  --out <dir>             results folder (default results/bench-<time>)
  --repetitions <n>       repetitions of the round-robin (default ${benchDefaults.repetitions})
  --baseline <name>       express every figure also as overhead against this target
  --max-overhead <pct>    exit 3 when a mode's gated figure is more than pct% worse than the baseline
  --measurements <list>   comma-separated subset of: ${measurementIds.join(", ")}
  --cases <list>          only these cases, e.g. iperf3.pod.cross.tcp1 (all: ${caseIds.join(", ")})
  --duration <s>          measured seconds per tool run (default ${benchDefaults.durationSeconds})
  --warmup <s>            discarded warm-up seconds before each run (default ${benchDefaults.warmupSeconds})
  --scaling-pods <list>   pod counts for the scaling curve (default ${benchDefaults.scalingPods.join(",")})
  --connections <n>       wrk connections (default ${benchDefaults.httpConnections})
  --udp-bitrate <rate>    iperf3 UDP target bitrate (default ${benchDefaults.udpBitrate})
  --dry-run               validate targets and options, print the plan, measure nothing`;

class UsageError extends Error {}

function numberFlag(name: string, value: string | undefined): number | undefined {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n)) throw new UsageError(`--${name}: "${value}" is not a number`);
    return n;
}

function listFlag(value: string | undefined): string[] | undefined {
    return value === undefined ? undefined : value.split(",").map((s) => s.trim()).filter(Boolean);
}

export interface ParsedCommand {
    readonly command: "run" | "report" | "sample" | "help";
    readonly folder?: string;
    readonly stacks: readonly string[];
    readonly targetsFile?: string;
    readonly dryRun: boolean;
    readonly options: BenchOptions;
}

/** Parses the command line; errors name the flag and the value. */
export function parseCommandLine(argv: readonly string[], now = new Date()): ParsedCommand {
    let parsed;
    try {
        parsed = parseArgs({
            args: [...argv],
            allowPositionals: true,
            options: {
                targets: { type: "string" },
                out: { type: "string" },
                repetitions: { type: "string" },
                baseline: { type: "string" },
                "max-overhead": { type: "string" },
                measurements: { type: "string" },
                cases: { type: "string" },
                duration: { type: "string" },
                warmup: { type: "string" },
                "scaling-pods": { type: "string" },
                connections: { type: "string" },
                "udp-bitrate": { type: "string" },
                "dry-run": { type: "boolean" },
                help: { type: "boolean", short: "h" },
            },
        });
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
    const v = parsed.values;
    const pos = parsed.positionals;
    if (v.help) return { command: "help", stacks: [], dryRun: false, options: { outDir: "" } };
    if (pos[0] === "report") {
        if (pos.length !== 2) throw new UsageError("report: pass exactly one results folder");
        return { command: "report", folder: pos[1], stacks: [], dryRun: false, options: { outDir: pos[1] } };
    }
    if (pos[0] === "sample") {
        if (pos.length > 2) throw new UsageError("sample: pass at most one output folder");
        return { command: "sample", folder: pos[1] ?? defaultSampleDir, stacks: [], dryRun: false, options: { outDir: pos[1] ?? defaultSampleDir } };
    }
    const stacks = pos[0] === "run" ? pos.slice(1) : pos;
    if (stacks.length === 0 && !v.targets) throw new UsageError("no targets: pass stack names or --targets <file.json>");
    const stamp = now.toISOString().replace(/[:.]/g, "-");
    return {
        command: "run",
        stacks,
        targetsFile: v.targets,
        dryRun: v["dry-run"] ?? false,
        options: {
            outDir: v.out ?? path.join(projectDir, "results", `bench-${stamp}`),
            repetitions: numberFlag("repetitions", v.repetitions),
            baseline: v.baseline,
            maxOverheadPct: numberFlag("max-overhead", v["max-overhead"]),
            measurements: listFlag(v.measurements),
            cases: listFlag(v.cases),
            durationSeconds: numberFlag("duration", v.duration),
            warmupSeconds: numberFlag("warmup", v.warmup),
            scalingPods: listFlag(v["scaling-pods"])?.map((s) => {
                const n = numberFlag("scaling-pods", s);
                return n!;
            }),
            httpConnections: numberFlag("connections", v.connections),
            udpBitrate: v["udp-bitrate"],
        },
    };
}

async function collectTargets(cmd: ParsedCommand): Promise<Target[]> {
    const targets: Target[] = cmd.targetsFile ? loadTargetsFile(cmd.targetsFile) : [];
    for (const stack of cmd.stacks) targets.push(targetFromStackOutputs(stack, await readStackOutputs(stack, projectDir)));
    return targets;
}

export async function main(argv: readonly string[]): Promise<number> {
    let cmd: ParsedCommand;
    try {
        cmd = parseCommandLine(argv);
    } catch (err) {
        console.error(`bench: ${(err as Error).message}\n\n${usage}`);
        return 2;
    }
    if (cmd.command === "help") {
        console.log(usage);
        return 0;
    }
    if (cmd.command === "report") {
        await renderReport(cmd.folder!);
        console.log(`bench: wrote ${path.join(cmd.folder!, "report.md")} and charts/`);
        return 0;
    }
    const controller = new AbortController();
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
            console.error(`\nbench: ${sig}: stopping, removing pods and processes (again to quit at once)…`);
            controller.abort();
        } else {
            process.exit(130);
        }
    };
    const started = Date.now();
    const onProgress = (e: ProgressEvent) => {
        const min = ((Date.now() - started) / 60000).toFixed(1);
        (e.kind === "error" ? console.error : console.log)(`[${min} min] ${e.message}`);
    };
    if (cmd.command === "sample") {
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
        try {
            const summary = await writeSampleReport(cmd.folder, onProgress, controller.signal);
            return summary.errors.length ? 1 : 0;
        } catch (err) {
            if (!controller.signal.aborted) throw err;
            console.error(`bench: interrupted: ${(err as Error).message}`);
            return 130;
        } finally {
            process.off("SIGINT", onSignal);
            process.off("SIGTERM", onSignal);
        }
    }
    const targets = await collectTargets(cmd);
    let settings;
    try {
        settings = resolveSettings(targets, cmd.options);
    } catch (err) {
        console.error(`bench: ${(err as Error).message}`);
        return 2;
    }
    if (cmd.dryRun) {
        console.log(`bench: ${targets.map((t) => `${t.name} (${t.platform}, ${t.mode})`).join(", ")}`);
        console.log(`bench: measurements ${settings.measurements.join(", ")}; ${settings.repetitions} repetition(s); tools run ≈ ${Math.round(plannedToolSeconds(targets, settings) / 60)} min`);
        return 0;
    }
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
        const summary = await runBenchmark(targets, { ...cmd.options, signal: controller.signal, onProgress });
        if (summary.gate && !summary.gate.passed) {
            console.error(`bench: gate failed: ${summary.gate.violations.map((v) => `${v.target} ${v.id} +${v.overheadPct.toFixed(1)}%`).join("; ")}`);
            return 3;
        }
        if (summary.errors.length) {
            console.error(`bench: ${summary.errors.length} measurement(s) failed; see ${path.join(summary.outDir, "report.md")}`);
            return 1;
        }
        return 0;
    } catch (err) {
        if (controller.signal.aborted) {
            console.error(`bench: interrupted: ${(err as Error).message}`);
            return 130;
        }
        throw err;
    } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err) => {
            console.error(`bench: ${(err as Error).message}`);
            process.exit(err instanceof UsageError ? 2 : 1);
        },
    );
}
