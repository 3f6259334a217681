/**
 * `sudo npm run lab [-- options]`: the comparison on this Linux machine. Builds every selected
 * mode in network namespaces (datapath, BGP, guestbook), measures them all with the benchmark
 * runner, writes the same report, and removes everything it created — also on failure, Ctrl-C
 * and SIGTERM. `--cleanup` removes what a crashed or killed run left behind (and only that).
 *
 * Exit codes (core/cli.ts, the same in every CLI): 0 done; 1 failed (or a measurement failed,
 * or a program it runs is not on PATH: said before anything is made); 2 bad usage;
 * 130 interrupted (Ctrl-C or SIGTERM).
 *
 * A thin entry: `main(argv, wiring)` receives where its ledgers live; the production entry at
 * the bottom uses /run/cni-lab, tests use test/lab/lab-entry.ts with their own folder.
 */
import * as path from "node:path";
import { labProfile, serviceAxisLabProfile } from "../bench/profiles";
import { runBenchmark, type BenchOptions } from "../bench/run";
import { exitCodes, exitCodeOfMain, optionLines, parseCommandLine, refuseOthers, shared, sharedWith, watchInterrupts, type InterruptWatch } from "../core/cli";
import { measurementIds } from "../bench/measure/measurements";
import { InterruptedError, UsageError } from "../core/errors";
import { defaultFrontendWorkers, labHttpConnections } from "./guestbook";
import { Lab, labTargetName, unsupportedReason, type BuiltMode } from "./lab";
import { isTsxChild, runAsWorker, watchForwarder, workerEnv } from "./worker";
import { requireTools } from "../core/tools";
import { labTools } from "./tools";
import { cleanupLeftovers } from "./cleanup";
import { defaultLedgerDir } from "./ledger";
import { awsOnlyReason, labModeFacts, labModes, type LabMode } from "./modes";
import { printModeEvidence } from "./evidence";
import { RemainingTime } from "./remainingTime";
import { ipvsUnsupportedReason, labServiceProxyModes, probeIpvs } from "./serviceProxy";
import { minimumPairedRounds } from "../bench/run";
import { backgroundLoadArgv, backgroundLoadSliceMs, startBackgroundLoad } from "./backgroundLoad";

/** How long the runner may take to stop after Ctrl-C before the lab removes everything anyway. */
const abortGraceMs = 5_000;

/** What the budget keeps back for removing every mode and writing the report (measured: 3–6 s). */
const teardownReserveSeconds = 15;

const options = {
    modes: shared("modes", `comma-separated modes, or "all" (default: all = ${labModes.join(",")}; ${labModes.filter((m) => awsOnlyReason(m)).join(", ")} only on AWS)`),
    out: shared("out", "results folder (default results/lab-<time>)"),
    repetitions: shared("repetitions", `rounds, exactly (default: as many as the --budget holds, at least ${minimumPairedRounds})`),
    budget: {
        type: "string",
        arg: "S",
        help: `seconds the whole run may take, building and removing included; rounds stop when the next would overrun it (default ${labProfile.budgetSeconds})`,
        value: { kind: "integer", min: 60, max: 86_400 },
    },
    seed: { type: "string", arg: "N", help: "seed of the rounds' random orders (default: from the clock; the report records it)", value: { kind: "integer", min: 0, max: 2 ** 31 - 1 } },
    "background-load": {
        type: "string",
        arg: "P",
        help: `a disturbance to check the method against: one CPU ${"busy P % of the time"} (stress-ng, ${backgroundLoadSliceMs}-ms busy slices) throughout the run (default: none)`,
        value: { kind: "integer", min: 1, max: 100 },
    },
    duration: shared("duration", `measured seconds per tool run (default ${labProfile.durationSeconds})`),
    warmup: shared("warmup", `discarded warm-up seconds per run (default ${labProfile.warmupSeconds})`),
    measurements: sharedWith("measurements", `runner measurements (default ${labProfile.measurements.join(",")} with the lab's cases; naming them runs all their ordinary cases)`, {
        kind: "list",
        allowed: measurementIds,
    }),
    workers: { type: "string", arg: "N", help: `Apache (mod_php) processes per frontend (default ${defaultFrontendWorkers})`, value: { kind: "integer", min: 1, max: 256 } },
    pin: {
        type: "string",
        arg: "on|off",
        help: `pin servers to CPU 0 and clients to CPU 1 (taskset) in iperf3 and sockperf runs (default ${labProfile.pinCpus ? "on" : "off"})`,
        value: { kind: "choice", allowed: ["on", "off"] },
    },
    "service-proxy": sharedWith(
        "service-proxy",
        `measure the Service-proxy axis with these kube-proxy modes (${labServiceProxyModes.join(",")}): each mode × proxy is a target, lab-<mode>-<proxy> (default mode ${serviceAxisLabProfile.mode}); docs/service-proxy.md`,
        { kind: "list", allowed: labServiceProxyModes },
    ),
    services: shared("services", `with --service-proxy: extra Service counts to measure at (default ${serviceAxisLabProfile.counts.join(",")})`),
    verify: { type: "boolean", help: "build each mode, show the evidence (capture, BGP, MTU), measure nothing" },
    cleanup: shared("cleanup", "remove what crashed or killed lab runs left behind, then exit"),
    help: shared("help"),
} as const;

/** What `--cleanup` takes besides itself: nothing (it removes what the ledgers list). */
export const labCleanupTakes = [] as const;

/** The option vocabulary of `npm run lab` (the hostile-input table is generated from it). */
export const labOptions = options;

export const usage = `usage: sudo npm run lab [-- options]

Builds each mode as network namespaces on this machine (no cloud, no Kubernetes), runs the
guestbook in them, measures every mode with the benchmark runner and writes the same report.
The lab reproduces each plugin's kernel datapath, not its control plane, on this machine's CPU.

options:
${optionLines(options)}

Exit codes: 0 done, 1 failed, 2 bad usage, 130 interrupted.`;

export { UsageError };

export interface LabCommand {
    readonly action: "run" | "verify" | "cleanup" | "help";
    readonly modes: readonly LabMode[];
    /** The Service-proxy axis: every mode is built once per proxy (`--service-proxy`). */
    readonly serviceProxies?: readonly (typeof labServiceProxyModes)[number][];
    readonly outDir: string;
    readonly frontendWorkers: number;
    /** The whole run's budget in seconds, when the rounds are not fixed with --repetitions. */
    readonly budgetSeconds?: number;
    /** Percent of one CPU the disturbance keeps busy (--background-load); undefined: none. */
    readonly backgroundLoadPercent?: number;
    readonly bench: Omit<BenchOptions, "outDir" | "budgetSeconds">;
}

/** Parses the command line; every error names the flag, the value and what is allowed. */
export function parseLabCommand(argv: readonly string[], now = new Date()): LabCommand {
    const parsed = parseCommandLine(argv, options);
    const { values, sources } = parsed;
    if (values.help) return { action: "help", modes: [], outDir: "", frontendWorkers: defaultFrontendWorkers, bench: {} };
    // Cleanup removes what the ledgers list; every other option would be silently ignored.
    if (values.cleanup) refuseOthers(parsed, "--cleanup", labCleanupTakes);
    // "all" builds what this machine can and says what it skipped; a mode named on its own that
    // the lab never builds is a mistake to hear about now, not after the others were built.
    const awsOnly = values.modes !== undefined && parsed.texts.modes?.trim() !== "all" ? values.modes.filter((m) => awsOnlyReason(m)) : [];
    if (awsOnly.length > 0) throw new UsageError(`${sources.modes}: ${awsOnly.join(", ")}: ${awsOnlyReason(awsOnly[0])}; the lab builds ${labModes.filter((m) => !awsOnlyReason(m)).join(", ")}`);
    if (values.budget !== undefined && values.repetitions !== undefined) {
        throw new UsageError(`${sources.budget} and ${sources.repetitions}: the rounds are either fixed (--repetitions) or as many as the budget holds (--budget); give one`);
    }
    const stamp = now.toISOString().replace(/[:.]/g, "-").slice(0, 19);
    if (values.services !== undefined && values["service-proxy"] === undefined)
        throw new UsageError(`${sources.services}: needs --service-proxy (the kube-proxy modes whose rule sets get the Services)`);
    if (values["service-proxy"] !== undefined) return serviceAxisCommand(parsed, stamp);
    const modes: LabMode[] = values.modes ?? [...labModes];
    const plainVm = modes.find((mode) => labModeFacts[mode].attachment === "host-network");
    return {
        action: values.cleanup ? "cleanup" : values.verify ? "verify" : "run",
        modes,
        outDir: values.out ?? path.resolve(`results/lab-${stamp}`),
        frontendWorkers: values.workers ?? defaultFrontendWorkers,
        // Fixed rounds, or as many as the budget holds.
        budgetSeconds: values.repetitions === undefined ? (values.budget ?? labProfile.budgetSeconds) : undefined,
        backgroundLoadPercent: values["background-load"],
        bench: {
            schedule: labProfile.schedule,
            seed: values.seed,
            repetitions: values.repetitions ?? labProfile.repetitions,
            durationSeconds: values.duration ?? labProfile.durationSeconds,
            warmupSeconds: values.warmup ?? labProfile.warmupSeconds,
            measurements: values.measurements ?? [...labProfile.measurements],
            // The lab's own cases apply to its own measurements; with other measurements, all their cases.
            cases: values.measurements === undefined ? [...labProfile.cases] : undefined,
            httpConnections: labHttpConnections,
            pinCpus: values.pin === undefined ? labProfile.pinCpus : values.pin === "on",
            // The seed's zero point is the plain VM: the host-network baseline, when it is measured.
            baseline: plainVm ? labTargetName(plainVm) : undefined,
        },
    };
}

/**
 * `--service-proxy`: each pod-network mode (default vxlan) × proxy mode is a target; the cases are
 * the axis's (new connections and keep-alive reads) at every `--services` count, with the axis's
 * repetitions and durations unless given (bench/profiles.ts serviceAxisLabProfile: within 10 minutes).
 */
function serviceAxisCommand(parsed: ReturnType<typeof parseCommandLine<typeof options>>, stamp: string): LabCommand {
    const { values, sources } = parsed;
    const modes: LabMode[] = values.modes ?? [serviceAxisLabProfile.mode];
    const noProxy = modes.filter((m) => labModeFacts[m].attachment === "host-network" || labModeFacts[m].attachment === "docker-bridge");
    if (noProxy.length > 0) {
        throw new UsageError(`${sources.modes}: ${noProxy.join(", ")} has no Service proxy in its path (a baseline); with --service-proxy use pod-network modes such as ${serviceAxisLabProfile.mode}`);
    }
    for (const flag of ["verify", "measurements"] as const) {
        if (values[flag] !== undefined) throw new UsageError(`${sources[flag]}: not with --service-proxy (it measures the axis's cases: ${serviceAxisLabProfile.cases.join(", ")})`);
    }
    // The axis runs its repetitions round-robin, each Service count in turn (docs/service-proxy.md).
    for (const flag of ["budget", "seed", "background-load"] as const) {
        if (values[flag] !== undefined) throw new UsageError(`${sources[flag]}: not with --service-proxy (the Service-count axis runs fixed --repetitions round-robin)`);
    }
    return {
        action: "run",
        modes,
        serviceProxies: values["service-proxy"],
        outDir: values.out ?? path.resolve(`results/lab-services-${stamp}`),
        frontendWorkers: values.workers ?? defaultFrontendWorkers,
        bench: {
            repetitions: values.repetitions ?? serviceAxisLabProfile.repetitions,
            durationSeconds: values.duration ?? serviceAxisLabProfile.durationSeconds,
            warmupSeconds: values.warmup ?? serviceAxisLabProfile.warmupSeconds,
            measurements: [...serviceAxisLabProfile.measurements],
            cases: [...serviceAxisLabProfile.cases],
            httpConnections: labHttpConnections,
            pinCpus: values.pin === undefined ? labProfile.pinCpus : values.pin === "on",
            serviceCounts: values.services ?? [...serviceAxisLabProfile.counts],
        },
    };
}

/** What `main` needs from outside. */
export interface LabWiring {
    /** Where run ledgers (and run directories) live. */
    readonly ledgerDir: string;
}

export const productionWiring: LabWiring = { ledgerDir: defaultLedgerDir };

/** Said in every lab report (docs/lab.md explains it). */
export const labCaveat =
    "Local lab: this run reproduces each plugin's kernel datapath (devices, routes, BGP-learned routes, NAT rules), " +
    "not its control plane (no flanneld, Felix, kube-proxy or Kubernetes), with every node and pod sharing this one machine's CPU and kernel.";

export async function main(argv: readonly string[], wiring: LabWiring): Promise<number> {
    const command = parseLabCommand(argv);
    if (command.action === "help") {
        console.log(usage);
        return exitCodes.ok;
    }
    // Before the root check: a missing program is said (with `sudo npm run lab:deps`) whoever runs it.
    requireTools(labTools(command));
    if (process.getuid?.() !== 0) {
        throw new UsageError("needs root (it creates network namespaces and iptables rules inside them): sudo npm run lab");
    }
    if (command.action === "cleanup") return cleanupLeftovers(wiring.ledgerDir);

    const startedAt = Date.now();
    const lab = Lab.open(wiring.ledgerDir);
    // The first Ctrl-C/SIGTERM stops and removes everything; later ones only say it is still going.
    const interrupts = watchInterrupts((sig, count) => {
        if (count === 1) console.error(`lab: ${sig}: stopping and removing everything run ${lab.runId} created…`);
        else console.error(`lab: ${sig} again; still removing run ${lab.runId} (leftovers, if any: npm run lab -- --cleanup)`);
    });
    let code: number = exitCodes.ok;
    try {
        console.log(`lab: run ${lab.runId}; ledger ${lab.ledger.dir}/cnilab-${lab.runId}.json`);
        const disturbance = command.action === "run" ? startDisturbance(lab, command) : undefined;
        const { built, skipped } = await buildModes(lab, command, interrupts);
        const budgetSeconds = command.budgetSeconds === undefined ? undefined : command.budgetSeconds - (Date.now() - startedAt) / 1000 - teardownReserveSeconds;
        code = command.action === "verify" ? await printEvidence(lab, built) : await measureModes(lab, command, built, skipped, interrupts, budgetSeconds, disturbance);
    } catch (err) {
        if (interrupts.signal.aborted || err instanceof InterruptedError) {
            code = exitCodes.interrupted;
        } else {
            console.error(`lab: ${(err as Error).message}`);
            code = exitCodes.failure;
        }
    } finally {
        code = await removeRun(lab, code);
        interrupts.dispose();
    }
    return code;
}

function interruptedBy(interrupts: InterruptWatch): InterruptedError {
    return new InterruptedError(`interrupted by ${interrupts.received}`);
}

/** Builds every mode this kernel supports, in order; the others are skipped with the reason. */
async function buildModes(lab: Lab, command: LabCommand, interrupts: InterruptWatch): Promise<{ readonly built: BuiltMode[]; readonly skipped: string[] }> {
    const kernel = await lab.probeKernel();
    const built: BuiltMode[] = [];
    const skipped: string[] = [];
    if (command.serviceProxies) {
        // kube-proxy's third mode: said with the reason, as a mode the kernel cannot build is.
        const reason = ipvsUnsupportedReason(probeIpvs()) ?? "the lab builds kube-proxy's iptables and nftables rule sets, not its IPVS virtual servers";
        skipped.push(`kube-proxy ipvs: ${reason}`);
        console.warn(`lab: skipping kube-proxy ipvs: ${reason}`);
    }
    for (const mode of command.modes) {
        if (interrupts.signal.aborted) break;
        const reason = unsupportedReason(mode, kernel);
        if (reason) {
            skipped.push(`${mode}: ${reason}`);
            console.warn(`lab: skipping ${mode}: ${reason}`);
            continue;
        }
        for (const serviceProxy of command.serviceProxies ?? [undefined]) {
            if (interrupts.signal.aborted) break;
            built.push(await lab.build(mode, { frontendWorkers: command.frontendWorkers, onProgress: (m) => console.log(`lab: ${m}`), serviceProxy }));
        }
    }
    if (interrupts.signal.aborted) throw interruptedBy(interrupts);
    if (built.length === 0) throw new Error(`no mode could be built here:\n  ${skipped.join("\n  ")}`);
    return { built, skipped };
}

/** `--verify`: every mode's evidence; failure when some mode's is missing. */
async function printEvidence(lab: Lab, built: readonly BuiltMode[]): Promise<number> {
    let code: number = exitCodes.ok;
    for (const b of built) if (!(await printModeEvidence(lab, b))) code = exitCodes.failure;
    return code;
}

/**
 * `--background-load`: the disturbance, started before the first mode is built so that it runs
 * throughout; it ends with the run (ledger), or by itself an hour after its budget.
 */
function startDisturbance(lab: Lab, command: LabCommand): string | undefined {
    const percent = command.backgroundLoadPercent;
    if (percent === undefined) return undefined;
    const argv = backgroundLoadArgv(percent, (command.budgetSeconds ?? 0) + 3600);
    const load = startBackgroundLoad(lab.ledger, argv, percent);
    const note = `Disturbance (--background-load ${percent}): ${load.what}, throughout the run: \`${argv.join(" ")}\``;
    console.log(`lab: ${note}`);
    return note;
}

/** Measures every built mode with the benchmark runner; failure when a measurement failed. */
async function measureModes(
    lab: Lab,
    command: LabCommand,
    built: readonly BuiltMode[],
    skipped: readonly string[],
    interrupts: InterruptWatch,
    budgetSeconds: number | undefined,
    disturbance: string | undefined,
): Promise<number> {
    const eta = new RemainingTime();
    const bench = runBenchmark(
        built.map((b) => b.target),
        {
            ...command.bench,
            ...(budgetSeconds !== undefined ? { budgetSeconds: Math.max(1, budgetSeconds) } : {}),
            baseline: built.some((b) => b.target.name === command.bench.baseline) ? command.bench.baseline : undefined,
            outDir: command.outDir,
            // Said in summary.json and the report by the runner itself (no rewriting afterwards).
            notes: [labCaveat, ...(disturbance ? [disturbance] : []), ...skipped.map((s) => `not measured on this machine: ${s}`)],
            signal: interrupts.signal,
            onProgress: (e) => (e.kind === "error" ? console.error : console.log)(`bench: ${e.message}${eta.update(e)}`),
        },
    );
    // After an interrupt the runner gets a few seconds to stop its tools and write partial
    // results; a tool it still waits for then ends when the lab removes its namespaces.
    const stalled = new Promise<"stalled">((resolve) => interrupts.signal.addEventListener("abort", () => setTimeout(() => resolve("stalled"), abortGraceMs).unref(), { once: true }));
    const summary = await Promise.race([bench, stalled]);
    if (summary === "stalled") {
        console.error(`lab: the runner is still stopping after ${abortGraceMs / 1000} s; removing the lab under it`);
        await lab.close();
        await Promise.race([bench.catch(() => undefined), new Promise((r) => setTimeout(r, abortGraceMs).unref())]);
        throw interruptedBy(interrupts);
    }
    console.log(`lab: report ${path.join(summary.outDir, "report.md")}`);
    if (skipped.length > 0) console.log(`lab: not measured on this machine:\n  ${skipped.join("\n  ")}`);
    for (const s of summary.skipped ?? []) console.log(`lab: ${s.target} ${s.measurement} not measured: ${s.reason}`);
    if (summary.errors.length > 0) {
        console.error(`lab: ${summary.errors.length} measurement(s) failed; see the report's errors`);
        return exitCodes.failure;
    }
    return exitCodes.ok;
}

/** Removes everything the run created; a problem doing so turns success into failure. */
async function removeRun(lab: Lab, code: number): Promise<number> {
    const report = await lab.close();
    console.log(`lab: removed run ${lab.runId}: ${report.namespacesDeleted.length} namespace(s), ${report.processesStopped} process(es)`);
    for (const p of report.problems) console.error(`lab: cleanup problem: ${p} (retry: npm run lab -- --cleanup)`);
    return report.problems.length > 0 && code === exitCodes.ok ? exitCodes.failure : code;
}

/**
 * The lab's entry, for `script` (this file, or a test-only entry): under the tsx CLI it runs the
 * lab in a worker out of reach of tsx's signal relay (lab/worker.ts); otherwise it runs `main`.
 */
export function runLabEntry(script: string, wiring: LabWiring): void {
    const argv = process.argv.slice(2);
    const underTsxRelay = isTsxChild() && !process.env[workerEnv];
    if (!underTsxRelay) watchForwarder();
    const run = underTsxRelay ? runAsWorker(script, argv) : exitCodeOfMain("lab", () => main(argv, wiring));
    void run.then((code) => process.exit(code));
}

if (require.main === module) {
    runLabEntry(__filename, productionWiring);
}
