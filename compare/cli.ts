/**
 * `npm run compare -- --modes vxlan,host-gw [--keep] [--yes]`: one stack per network mode, up in
 * parallel, measured together, always torn down. `npm run compare -- --cleanup` destroys what a
 * killed run left behind. See docs/compare.md.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline/promises";
import { parseCompareArgs, usage, UsageError, type CompareArgs } from "./args";
import type { StackEngine } from "./engine";
import { FakeEngine, fakeBenchmark } from "./fake-engine";
import { Ledger, RunLock } from "./ledger";
import { cleanupLeftovers, runComparison, type BenchmarkRunner } from "./orchestrator";
import { buildPlan, renderPlan } from "./plan";
import { ProgressBoard, renderOutcome, renderRunCost } from "./progress";
import { ConfigError } from "../components/settings";

/** The project root: Pulumi.yaml and stacks/ sit one folder above this file. */
const projectDir = path.resolve(__dirname, "..");

/** How long an aborted Pulumi operation may take to stop before `pulumi cancel` (it finishes in-flight resource calls). */
const pulumiGraceMs = 120_000;

interface Wiring {
    readonly engine: StackEngine;
    readonly runBenchmark: BenchmarkRunner;
    readonly ledgerDir: string;
    /** Where results go when --out is not given. */
    readonly resultsDir: string;
    readonly graceMs: number;
    /** Printed before the plan (e.g. that the backend was defaulted). */
    readonly notes: readonly string[];
}

/**
 * The engine: Pulumi's Automation API, or — for tests only — the fake, selected with
 * CNI_COMPARE_ENGINE=fake:<state dir>. The fake creates nothing and sends no traffic; its
 * benchmark is fake too, so fake outputs never reach a real measurement.
 */
async function wire(env: NodeJS.ProcessEnv): Promise<Wiring> {
    const selector = env.CNI_COMPARE_ENGINE;
    if (selector !== undefined && selector !== "") {
        const match = /^fake:(.+)$/.exec(selector);
        if (!match) {
            throw new UsageError(`CNI_COMPARE_ENGINE: ${JSON.stringify(selector)} is not supported; the only value is fake:<state dir> (tests only). Unset it to use Pulumi.`);
        }
        const dir = path.resolve(match[1]);
        const engine = new FakeEngine(dir);
        return {
            engine,
            runBenchmark: fakeBenchmark(engine),
            ledgerDir: path.join(dir, ".compare-ledger"),
            resultsDir: path.join(dir, "results"),
            graceMs: 2_000,
            notes: [`TEST ENGINE: ${engine.description}; nothing is created in any cloud`],
        };
    }
    const { chooseBackend, checkPassphrase, PulumiEngine } = await import("./pulumi-engine");
    const backend = chooseBackend(env);
    const problem = checkPassphrase(env, backend.url);
    if (problem) throw new UsageError(problem);
    const ledgerDir = path.join(projectDir, ".compare-ledger");
    // Imported lazily: the runner pulls in SSH and Kubernetes clients the fake never needs.
    const { runBenchmark } = await import("../bench/run");
    return {
        engine: new PulumiEngine(projectDir, backend.url, ledgerDir),
        runBenchmark,
        ledgerDir,
        resultsDir: path.join(projectDir, "results"),
        graceMs: pulumiGraceMs,
        notes: backend.defaulted ? [`PULUMI_BACKEND_URL is not set: using the local backend ${backend.url}`] : [],
    };
}

/** Asks on the terminal; refuses without one (CI, pipes) unless --yes was given. */
async function confirm(question: string, yes: boolean): Promise<boolean> {
    if (yes) return true;
    if (!process.stdin.isTTY) {
        throw new UsageError("no terminal to ask for confirmation: re-run with --yes to accept the plan above");
    }
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    // Ctrl-C at the prompt is a "no" (readline would otherwise just pause the input).
    const cancel = new AbortController();
    rl.on("SIGINT", () => cancel.abort());
    try {
        const answer = await rl.question(`${question} Type "yes" to go on: `, { signal: cancel.signal });
        return answer.trim().toLowerCase() === "yes";
    } catch (error) {
        if (cancel.signal.aborted) return false;
        throw error;
    } finally {
        rl.close();
    }
}

function runIdNow(): string {
    return new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

async function cleanupCommand(args: CompareArgs, wiring: Wiring, ledger: Ledger): Promise<number> {
    const entries = ledger.entries();
    if (entries.length === 0) {
        console.log(`Nothing to clean up: the ledger (${ledger.file}) lists no stacks.`);
        return 0;
    }
    console.log(`The ledger lists ${entries.length} stack(s) created by this command and not destroyed:`);
    for (const e of entries) console.log(`  ${e.stack.padEnd(13)} ${e.phase.padEnd(9)} run ${e.runId}, pid ${e.pid}, recorded ${e.recordedAt}`);
    console.log(`Backend: ${wiring.engine.description}. Only these stacks are destroyed; no other stack is touched.`);
    if (!(await confirm(`Destroy ${entries.length} stack(s)?`, args.yes))) {
        console.log("Nothing destroyed.");
        return 1;
    }
    const report = await cleanupLeftovers(
        { engine: wiring.engine, ledger, onNote: (line) => console.log(line) },
        { destroyTimeoutMs: args.destroyTimeoutMinutes * 60_000, graceMs: wiring.graceMs },
    );
    console.log(`Cleanup: ${report.destroyed.length} destroyed, ${report.absent.length} never existed, ${report.failed.length} failed.`);
    return report.failed.length === 0 ? 0 : 1;
}

async function compareCommand(args: CompareArgs, wiring: Wiring, ledger: Ledger): Promise<number> {
    const leftovers = ledger.entries();
    if (leftovers.length > 0) {
        throw new UsageError(
            `the ledger lists stacks from an earlier run that were not destroyed (${leftovers.map((e) => e.stack).join(", ")}): run \`npm run compare -- --cleanup\` first`,
        );
    }
    const runId = runIdNow();
    const outDir = path.resolve(args.outDir ?? path.join(wiring.resultsDir, `compare-${runId}`));
    const exists = new Set<string>();
    for (const mode of args.modes) if (await wiring.engine.exists(mode)) exists.add(mode);
    const plan = buildPlan(args, projectDir, wiring.engine.description, outDir, exists);
    console.log(renderPlan(plan));
    console.log("");
    if (!(await confirm(`Create ${plan.stacks.filter((s) => !s.existing).length} stack(s)?`, args.yes))) {
        console.log("Nothing created.");
        return 1;
    }

    const interrupt = new AbortController();
    let signalsSeen = 0;
    let exitSignal: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
        signalsSeen++;
        if (signalsSeen === 1) {
            exitSignal = signal;
            console.log(`\n${signal}: stopping what is running, then destroying every stack this run created. Please wait.`);
            interrupt.abort();
        } else if (signalsSeen === 2) {
            console.log(`\n${signal} again: teardown is still running. Once more exits at once and leaves the stacks to \`npm run compare -- --cleanup\`.`);
        } else {
            console.log(`\n${signal}: exiting without finishing teardown. Run \`npm run compare -- --cleanup\` now: the ledger lists what is left.`);
            process.exit(130);
        }
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);

    const startedAt = Date.now();
    const board = new ProgressBoard(startedAt);
    const status = setInterval(() => console.log(board.status(Date.now())), 60_000);
    status.unref();
    const logDir = path.join(outDir, "logs");
    fs.mkdirSync(logDir, { recursive: true });
    console.log(`Run ${runId}: engine logs in ${logDir}`);

    try {
        const report = await runComparison(
            {
                engine: wiring.engine,
                ledger,
                runBenchmark: wiring.runBenchmark,
                onTransition: (t) => console.log(board.transition(t)),
                onBenchmarkProgress: (e) => console.log(`  bench${e.target ? ` ${e.target}` : ""}: ${e.message}`),
                onEngineOutput: (stack, line) => fs.appendFileSync(path.join(logDir, `${stack}.log`), line.endsWith("\n") ? line : `${line}\n`),
                onNote: (line) => console.log(`  note: ${line}`),
            },
            {
                runId,
                stacks: plan.stacks.map((s) => ({ stack: s.stack, existing: s.existing })),
                config: { operatorCidr: plan.operatorCidr },
                parallel: args.parallel,
                keep: args.keep,
                upTimeoutMs: args.upTimeoutMinutes * 60_000,
                measureTimeoutMs: args.measureTimeoutMinutes * 60_000,
                destroyTimeoutMs: args.destroyTimeoutMinutes * 60_000,
                graceMs: wiring.graceMs,
                interrupt: interrupt.signal,
                bench: { outDir, repetitions: args.repetitions, baseline: args.baseline, maxOverheadPct: args.maxOverheadPct },
            },
        );
        console.log("");
        console.log(renderOutcome(report));
        console.log(renderRunCost(report, plan.stacks, Date.now()));
        if (exitSignal) return exitSignal === "SIGTERM" ? 143 : 130;
        return report.ok ? 0 : 1;
    } finally {
        clearInterval(status);
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    }
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
    const args = parseCompareArgs(argv, env);
    if (args.command === "help") {
        console.log(usage);
        return 0;
    }
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
    main(process.argv.slice(2), process.env).then(
        (code) => {
            process.exitCode = code;
        },
        (error: unknown) => {
            if (error instanceof UsageError || error instanceof ConfigError) {
                console.error(`compare: ${error.message}`);
                process.exitCode = 2;
            } else {
                console.error(`compare: ${(error as Error).stack ?? String(error)}`);
                process.exitCode = 1;
            }
        },
    );
}
