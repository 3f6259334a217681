/**
 * `npm run compare -- --modes vxlan,host-gw [--keep] [--yes]`: one stack per network mode, up in
 * parallel, measured together, always torn down. `npm run compare -- --cleanup` destroys what a
 * killed run left behind. See docs/compare.md.
 *
 * A thin entry: `main(argv, env, wire)` receives its wiring (engine, benchmark runner, folders).
 * The production wiring below uses the Automation API with the CLI in its own process group
 * (core/pulumi.ts) and the real runner; tests inject stand-ins through their own entry
 * (test/compare/compare-entry.ts). No production path reads a test-only variable.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../components/settings";
import { exitCodes, runCli } from "../core/cli";
import { UsageError } from "../core/errors";
import { chooseBackend, checkPassphrase, defaultStopSchedule, GroupPulumiCommand, requirePulumiCli, type StopSchedule } from "../core/pulumi";
import { parseCompareArgs, usage, type CompareArgs } from "./args";
import type { StackEngine } from "./engine";
import { Ledger, RunLock } from "./ledger";
import { cleanupLeftovers, cleanupOutcome, runComparison, type BenchmarkRunner, type CompareDeps, type CompareOptions, type CompareReport } from "./orchestrator";
import { AwsAccountCapacity, explainCapacityError, type AccountCapacity } from "./capacity";
import { buildPlan, renderPlan, type ComparePlan } from "./plan";
import { billRecord, ProgressBoard, renderOutcome, renderRunCost } from "./progress";
import { readAccount } from "./account";
import { writeBill } from "./bill";
import { confirm } from "./confirmation";
import { watchTeardownInterrupts, type TeardownInterrupts } from "./teardown-interrupts";

/** Everything `main` needs from outside: what talks to Pulumi and to clusters, and where files go. */
export interface CompareWiring {
    readonly engine: StackEngine;
    readonly runBenchmark: BenchmarkRunner;
    /** The project root: Pulumi.yaml and stacks/. */
    readonly projectDir: string;
    readonly ledgerDir: string;
    /** Where results go when --out is not given. */
    readonly resultsDir: string;
    /** How long an aborted operation may take to end (the engine's whole stop schedule). */
    readonly stopBoundMs: number;
    /** Printed before the plan (e.g. that the backend was defaulted). */
    readonly notes: readonly string[];
    /** The account's vCPU quota and Spot prices (capacity.ts); absent: planned without them, said so. */
    readonly capacity?: AccountCapacity;
    /** Re-renders a results folder's report (bench/results/report.ts renderReport), after bill.json is written. */
    readonly renderReport: (folder: string) => Promise<void>;
}

/** The project root: Pulumi.yaml and stacks/ sit one folder above this file. */
const projectDir = path.resolve(__dirname, "..");

export interface PulumiWiringOptions {
    readonly schedule?: StopSchedule;
    /** The `pulumi` executable (default: from PATH). */
    readonly command?: string;
    readonly runBenchmark?: BenchmarkRunner;
    readonly ledgerDir?: string;
    readonly resultsDir?: string;
}

/**
 * The real wiring: the Automation API over this project with the backend every command of the
 * project uses (core/pulumi.ts chooseBackend), and the benchmark runner.
 */
export async function pulumiWiring(env: NodeJS.ProcessEnv, options: PulumiWiringOptions = {}): Promise<CompareWiring> {
    const backend = chooseBackend(env);
    const problem = checkPassphrase(env, backend.url);
    if (problem) throw new UsageError(problem);
    // Before anything is created (the backend folder, the ledger, the lock).
    requirePulumiCli(options.command, env);
    const ledgerDir = options.ledgerDir ?? path.join(projectDir, ".compare-ledger");
    const command = new GroupPulumiCommand(options.command, options.schedule ?? defaultStopSchedule);
    // Imported lazily: the runner pulls in SSH and Kubernetes clients that --help never needs.
    const { PulumiEngine } = await import("./pulumi-engine");
    const runBenchmark = options.runBenchmark ?? (await import("../bench/run")).runBenchmark;
    return {
        engine: new PulumiEngine(projectDir, backend.url, ledgerDir, command),
        runBenchmark,
        projectDir,
        ledgerDir,
        resultsDir: options.resultsDir ?? path.join(projectDir, "results"),
        // A little more than the schedule: the exit is noticed on the next event-loop turn.
        stopBoundMs: command.stopBoundMs + 5_000,
        notes: backend.defaulted ? [`PULUMI_BACKEND_URL is not set: using the local backend ${backend.url}`] : [],
        capacity: new AwsAccountCapacity(),
        renderReport: async (folder) => (await import("../bench/results/report")).renderReport(folder),
    };
}

function runIdNow(): string {
    return new Date()
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d+Z$/, "Z");
}

async function cleanupCommand(args: CompareArgs, wiring: CompareWiring, ledger: Ledger): Promise<number> {
    const entries = ledger.entries();
    if (entries.length === 0) {
        console.log(`Nothing to clean up: the ledger (${ledger.file}) lists no stacks.`);
        return exitCodes.ok;
    }
    console.log(`The ledger lists ${entries.length} stack(s) created by this command and not destroyed:`);
    for (const e of entries) console.log(`  ${e.stack.padEnd(13)} ${e.phase.padEnd(9)} run ${e.runId}, pid ${e.pid}, recorded ${e.recordedAt}${e.note ? ` — ${e.note}` : ""}`);
    console.log(`Backend: ${wiring.engine.description}. Only these stacks are destroyed; no other stack is touched.`);
    if (!(await confirm(`Destroy ${entries.length} stack(s)?`, args.yes))) {
        console.log("Nothing destroyed.");
        return exitCodes.failure;
    }
    const interrupts = watchTeardownInterrupts();
    interrupts.tearingDown = true;
    let report;
    try {
        report = await cleanupLeftovers(
            { engine: wiring.engine, ledger, onNote: (line) => console.log(line) },
            { destroyTimeoutMs: args.destroyTimeoutMinutes * 60_000, stopBoundMs: wiring.stopBoundMs, abandon: interrupts.abandon },
        );
    } finally {
        interrupts.dispose();
    }
    console.log(`Cleanup: ${report.destroyed.length} destroyed, ${report.absent.length} never existed, ${report.failed.length} failed.`);
    const outcome = cleanupOutcome(report, { received: interrupts.received(), abandoned: interrupts.abandon.aborted });
    if (outcome.note) console.log(outcome.note);
    return outcome.code;
}

/** The exit code of a finished comparison (docs/compare.md). */
export function exitCodeOf(report: CompareReport): number {
    if (report.interrupted) return exitCodes.interrupted;
    if (report.ok) return exitCodes.ok;
    const onlyGate =
        report.benchmarks.some((b) => b.summary?.gatePassed === false) &&
        report.benchmarks.every((b) => b.error === undefined) &&
        report.stacks.every((r) => r.errors.length === 0 && r.finalState !== "failed");
    return onlyGate ? exitCodes.gateFailed : exitCodes.failure;
}

async function compareCommand(args: CompareArgs, wiring: CompareWiring, ledger: Ledger): Promise<number> {
    refuseLeftovers(ledger);
    const runId = runIdNow();
    const outDir = path.resolve(args.outDir ?? path.join(wiring.resultsDir, `compare-${runId}`));
    const plan = await planComparison(args, wiring, outDir);
    console.log(renderPlan(plan));
    console.log("");
    if (!(await confirm(`Create ${plan.stacks.filter((s) => !s.existing).length} stack(s)?`, args.yes))) {
        console.log("Nothing created.");
        return exitCodes.failure;
    }

    const interrupts = watchTeardownInterrupts();
    const startedAt = Date.now();
    const board = new ProgressBoard(startedAt);
    const status = setInterval(() => console.log(board.status(Date.now())), 60_000);
    status.unref();
    const logDir = path.join(outDir, "logs");
    fs.mkdirSync(logDir, { recursive: true });
    console.log(`Run ${runId}: engine logs in ${logDir}`);

    try {
        const report = await runComparison(comparisonDeps(wiring, ledger, board, interrupts, logDir), comparisonOptions(args, wiring, plan, runId, outDir, interrupts));
        console.log("");
        console.log(renderOutcome(report));
        // The report carries the estimated and the measured bill, next to the figures.
        const bill = billRecord(report, plan, startedAt, Date.now());
        console.log(renderRunCost(bill));
        await writeBill(bill, report.benchmarks, wiring.renderReport);
        return exitCodeOf(report);
    } finally {
        clearInterval(status);
        interrupts.dispose();
    }
}

/** A new run starts only when no earlier run left stacks behind. */
function refuseLeftovers(ledger: Ledger): void {
    const leftovers = ledger.entries();
    if (leftovers.length > 0) {
        throw new UsageError(`the ledger lists stacks from an earlier run that were not destroyed (${leftovers.map((e) => e.stack).join(", ")}): run \`npm run compare -- --cleanup\` first`);
    }
}

/** The plan with what exists already and what the account allows. */
async function planComparison(args: CompareArgs, wiring: CompareWiring, outDir: string): Promise<ComparePlan> {
    const exists = new Set<string>();
    for (const mode of args.modes) if (await wiring.engine.exists(mode)) exists.add(mode);
    // Regions come from the stack files: a plan without the account's figures names them first.
    const regions = [...new Set(buildPlan(args, wiring.projectDir, wiring.engine.description, outDir, exists).stacks.map((s) => `${s.region}/${s.instanceType}`))];
    const account = await readAccount(wiring.capacity, regions, args.spot);
    return buildPlan(args, wiring.projectDir, wiring.engine.description, outDir, exists, account);
}

/** The orchestrator's collaborators, printing progress to the console and engine output to logDir. */
function comparisonDeps(wiring: CompareWiring, ledger: Ledger, board: ProgressBoard, interrupts: TeardownInterrupts, logDir: string): CompareDeps {
    return {
        engine: wiring.engine,
        ledger,
        runBenchmark: wiring.runBenchmark,
        onTransition: (t) => {
            if (t.state === "destroying") interrupts.tearingDown = true;
            console.log(board.transition(t));
        },
        onBenchmarkProgress: (e) => console.log(`  bench${e.target ? ` ${e.target}` : ""}: ${e.message}`),
        onEngineOutput: (stack, line) => fs.appendFileSync(path.join(logDir, `${stack}.log`), line.endsWith("\n") ? line : `${line}\n`),
        onNote: (line) => console.log(`  note: ${line}`),
    };
}

function comparisonOptions(args: CompareArgs, wiring: CompareWiring, plan: ComparePlan, runId: string, outDir: string, interrupts: TeardownInterrupts): CompareOptions {
    return {
        runId,
        stacks: plan.stacks.map((s) => ({ stack: s.stack, existing: s.existing })),
        config: { operatorCidr: plan.operatorCidr },
        // Only on stacks this run creates: every instance of a stack on Spot, or none.
        newStackConfig: { spot: String(args.spot) },
        existingStacks: args.updateExisting ? "update" : "measure",
        waveSize: plan.parallelism.waveSize,
        explainUpError: (text) => explainCapacityError(text, args.spot),
        parallel: args.parallel,
        keep: args.keep,
        upTimeoutMs: args.upTimeoutMinutes * 60_000,
        measureTimeoutMs: args.measureTimeoutMinutes * 60_000,
        destroyTimeoutMs: args.destroyTimeoutMinutes * 60_000,
        stopBoundMs: wiring.stopBoundMs,
        interrupt: interrupts.signal,
        abandonTeardown: interrupts.abandon,
        bench: { outDir, ...plan.bench, schedule: plan.schedule, baseline: args.baseline, maxOverheadPct: args.maxOverheadPct },
    };
}

/**
 * `--dry-run`: the plan from the flags and the stack files alone. It wires nothing and calls
 * nothing (no Pulumi, no AWS, no ledger, no lock), so it runs anywhere, without credentials.
 */
function dryRun(args: CompareArgs): number {
    const outDir = path.resolve(args.outDir ?? path.join(projectDir, "results", "compare-<run id>"));
    const plan = buildPlan(args, projectDir, "not contacted (--dry-run)", outDir, new Set(), {
        quotaNote: "--dry-run calls nothing; a real run reads it first",
        spotPriceBasis: "--dry-run calls nothing; a real run reads DescribeSpotPriceHistory",
    });
    console.log("DRY RUN: nothing is created; existing stacks and the account's quota are not looked up.");
    console.log(renderPlan(plan));
    return exitCodes.ok;
}

/** The command: parses, wires (only when something will run), takes the run lock, runs. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, wire: (env: NodeJS.ProcessEnv) => Promise<CompareWiring>): Promise<number> {
    const args = parseCompareArgs(argv, env);
    if (args.command === "help") {
        console.log(usage);
        return exitCodes.ok;
    }
    if (args.dryRun) return dryRun(args);
    const wiring = await wire(env);
    for (const note of wiring.notes) console.log(note);
    const lock = new RunLock(wiring.ledgerDir);
    lock.acquire();
    try {
        const ledger = new Ledger(wiring.ledgerDir);
        return args.command === "cleanup" ? await cleanupCommand(args, wiring, ledger) : await compareCommand(args, wiring, ledger);
    } finally {
        lock.release();
    }
}

if (require.main === module) {
    runCli("compare", () => main(process.argv.slice(2), process.env, (env) => pulumiWiring(env)), [ConfigError]);
}
