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
import { runBenchmark, type BenchOptions } from "../bench/run";
import { exitCodes, exitCodeOfMain, optionLines, parseCommandLine, refuseOthers, shared, sharedWith, watchInterrupts } from "../core/cli";
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
import { birdProtocols, birdRoutes, captureOnUnderlay, crossNodePair, fullSizePayload, ping, underlayCaptureFilter } from "./verify";

/**
 * The lab's benchmark defaults. On one machine every "node" and "pod" shares the same cores, so
 * a saturating run measures who wins the CPU, not what a datapath costs. The lab's headline
 * figures are therefore costs and fixed-rate latencies (docs/lab.md "The method"):
 *   - CPU-seconds per GB moved by one TCP stream at a fixed rate (iperf3 -b), pod↔pod and
 *     host↔host, counted in the mode's CPU group plus ksoftirqd, warm-up excluded;
 *   - CPU-ms per guestbook read (Apache + mod_php + Redis + wrk, keep-alive);
 *   - TCP round trips at a fixed offered rate (sockperf under-load);
 *   - saturating throughput second, pod and host, for "% of host".
 * Repetitions and durations come from measured run-to-run spread (docs/lab.md "Budget").
 * `scaling` is left out: every "pod" shares the same CPUs.
 */
export const labBenchDefaults = {
    repetitions: 3,
    durationSeconds: 1,
    warmupSeconds: 1,
    measurements: ["guestbook", "iperf3", "latency"],
    cases: ["guestbook.read", "iperf3.pod.cross.udpcost", "iperf3.host.cross.udpcost", "iperf3.pod.cross.tcp1", "latency.pod.cross.load"],
    // docs/lab.md "Pinning": no consistent effect on the spread on a quiet machine; on, as the documented runs were made.
    pinCpus: true,
} as const;

/** How long the runner may take to stop after Ctrl-C before the lab removes everything anyway. */
const abortGraceMs = 5_000;

const options = {
    modes: shared("modes", `comma-separated modes, or "all" (default: all = ${labModes.join(",")}; ${labModes.filter((m) => awsOnlyReason(m)).join(", ")} only on AWS)`),
    out: shared("out", "results folder (default results/lab-<time>)"),
    repetitions: shared("repetitions", `repetitions of the round-robin (default ${labBenchDefaults.repetitions})`),
    duration: shared("duration", `measured seconds per tool run (default ${labBenchDefaults.durationSeconds})`),
    warmup: shared("warmup", `discarded warm-up seconds per run (default ${labBenchDefaults.warmupSeconds})`),
    measurements: sharedWith("measurements", `runner measurements (default ${labBenchDefaults.measurements.join(",")} with the lab's cases; naming them runs all their ordinary cases)`, { kind: "list", allowed: measurementIds }),
    workers: { type: "string", arg: "N", help: `Apache (mod_php) processes per frontend (default ${defaultFrontendWorkers})`, value: { kind: "integer", min: 1, max: 256 } },
    pin: { type: "string", arg: "on|off", help: `pin servers to CPU 0 and clients to CPU 1 (taskset) in iperf3 and sockperf runs (default ${labBenchDefaults.pinCpus ? "on" : "off"})`, value: { kind: "choice", allowed: ["on", "off"] } },
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
    readonly outDir: string;
    readonly frontendWorkers: number;
    readonly bench: Omit<BenchOptions, "outDir">;
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
    const modes: LabMode[] = values.modes ?? [...labModes];
    const plainVm = modes.find((mode) => labModeFacts[mode].attachment === "host-network");
    const stamp = now.toISOString().replace(/[:.]/g, "-").slice(0, 19);
    return {
        action: values.cleanup ? "cleanup" : values.verify ? "verify" : "run",
        modes,
        outDir: values.out ?? path.resolve(`results/lab-${stamp}`),
        frontendWorkers: values.workers ?? defaultFrontendWorkers,
        bench: {
            repetitions: values.repetitions ?? labBenchDefaults.repetitions,
            durationSeconds: values.duration ?? labBenchDefaults.durationSeconds,
            warmupSeconds: values.warmup ?? labBenchDefaults.warmupSeconds,
            measurements: values.measurements ?? [...labBenchDefaults.measurements],
            // The lab's own cases apply to its own measurements; with other measurements, all their cases.
            cases: values.measurements === undefined ? [...labBenchDefaults.cases] : undefined,
            httpConnections: labHttpConnections,
            pinCpus: values.pin === undefined ? labBenchDefaults.pinCpus : values.pin === "on",
            // The seed's zero point is the plain VM: the host-network baseline, when it is measured.
            baseline: plainVm ? labTargetName(plainVm) : undefined,
        },
    };
}

/** What `main` needs from outside. */
export interface LabWiring {
    /** Where run ledgers (and run directories) live. */
    readonly ledgerDir: string;
}

export const productionWiring: LabWiring = { ledgerDir: defaultLedgerDir };

/** Prints the evidence that each mode's datapath is what it claims; false when some is missing. */
async function verifyMode(lab: Lab, built: BuiltMode): Promise<boolean> {
    const t = built.topology;
    const subnets = t.attachment === "cni-bridge" || t.attachment === "calico-veth";
    console.log(`\n== ${t.mode}: ${t.nodes.map((n) => `${n.name} ${n.ip}${subnets ? ` pods ${n.podSubnet}` : ""}`).join("; ")}; pod MTU ${t.mtu.pod}`);
    for (const [i, files] of built.bird.entries()) {
        console.log(`-- birdc -s ${files.socket} show protocols (${t.nodes[i].name})\n${(await birdProtocols(files.socket)).trim()}`);
        console.log(`-- ip route show proto bird (${t.nodes[i].name})\n${await birdRoutes(t.nodes[i].netns)}`);
    }
    if (t.attachment === "host-network" || t.attachment === "docker-bridge") {
        console.log(
            t.attachment === "host-network"
                ? "-- no pods: Redis and PHP run on the nodes themselves; the guestbook answered through every node"
                : "-- containers reach each other only through published ports (no pod addresses across hosts); the guestbook answered through every node",
        );
        return true;
    }
    const { from, to } = crossNodePair(t);
    const filter = underlayCaptureFilter(t, from, to);
    const capture = await captureOnUnderlay(t, lab.ledger.runDir, filter, () => ping(from.netns, to.ip));
    console.log(`-- tcpdump on the underlay, filter "${filter}", while ${from.ip} pings ${to.ip}:\n${capture.text || "(nothing captured)"}`);
    const full = await ping(from.netns, to.ip, { count: 1, size: fullSizePayload(t.mtu.pod), dontFragment: true });
    console.log(`-- ${t.mtu.pod}-byte packet with DF set, pod to pod across nodes: ${full.ok ? "delivered" : "FAILED"}`);
    return capture.packets > 0 && full.ok;
}

/** Said in every lab report (docs/lab.md explains it). */
export const labCaveat =
    "Local lab: this run reproduces each plugin's kernel datapath (devices, routes, BGP-learned routes, NAT rules), " +
    "not its control plane (no flanneld, Felix, kube-proxy or Kubernetes), with every node and pod sharing this one machine's CPU and kernel.";

/**
 * The remaining time of the benchmark, from the steps measured so far: the mean time of a
 * finished step times the steps still to run. Printed on every step's progress line.
 */
export class RemainingTime {
    private firstStepAt?: number;
    constructor(private readonly now: () => number = Date.now) {}

    /** The suffix for a progress line ("" before the first step has finished). */
    update(e: { readonly kind: string; readonly step?: number; readonly steps?: number }): string {
        if (e.kind !== "measure" || e.step === undefined || e.steps === undefined) return "";
        const t = this.now();
        if (this.firstStepAt === undefined || e.step === 1) {
            this.firstStepAt = t;
            return "";
        }
        const done = e.step - 1;
        const perStep = (t - this.firstStepAt) / done;
        const left = Math.round((perStep * (e.steps - done)) / 1000);
        return ` (≈ ${left >= 60 ? `${Math.floor(left / 60)} min ${left % 60} s` : `${left} s`} left at ${(perStep / 1000).toFixed(1)} s per step)`;
    }
}

export async function main(argv: readonly string[], wiring: LabWiring): Promise<number> {
    const command = parseLabCommand(argv);
    if (command.action === "help") {
        console.log(usage);
        return exitCodes.ok;
    }
    // Before the root check: a missing program is said (with `sudo npm run lab:deps`) whoever runs it.
    requireTools(labTools(command.action, command.modes, command.bench.measurements));
    if (process.getuid?.() !== 0) {
        throw new UsageError("needs root (it creates network namespaces and iptables rules inside them): sudo npm run lab");
    }
    if (command.action === "cleanup") return cleanupLeftovers(wiring.ledgerDir);

    const lab = Lab.open(wiring.ledgerDir);
    // The first Ctrl-C/SIGTERM stops and removes everything; later ones only say it is still going.
    const interrupts = watchInterrupts((sig, count) => {
        if (count === 1) console.error(`lab: ${sig}: stopping and removing everything run ${lab.runId} created…`);
        else console.error(`lab: ${sig} again; still removing run ${lab.runId} (leftovers, if any: npm run lab -- --cleanup)`);
    });
    const interrupted = () => new InterruptedError(`interrupted by ${interrupts.received}`);
    let code: number = exitCodes.ok;
    try {
        console.log(`lab: run ${lab.runId}; ledger ${lab.ledger.dir}/cnilab-${lab.runId}.json`);
        const kernel = await lab.probeKernel();
        const built: BuiltMode[] = [];
        const skipped: string[] = [];
        for (const mode of command.modes) {
            if (interrupts.signal.aborted) break;
            const reason = unsupportedReason(mode, kernel);
            if (reason) {
                skipped.push(`${mode}: ${reason}`);
                console.warn(`lab: skipping ${mode}: ${reason}`);
                continue;
            }
            built.push(await lab.build(mode, { frontendWorkers: command.frontendWorkers, onProgress: (m) => console.log(`lab: ${m}`) }));
        }
        if (interrupts.signal.aborted) throw interrupted();
        if (built.length === 0) throw new Error(`no mode could be built here:\n  ${skipped.join("\n  ")}`);
        if (command.action === "verify") {
            for (const b of built) if (!(await verifyMode(lab, b))) code = exitCodes.failure;
        } else {
            const eta = new RemainingTime();
            const bench = runBenchmark(
                built.map((b) => b.target),
                {
                    ...command.bench,
                    baseline: built.some((b) => b.target.name === command.bench.baseline) ? command.bench.baseline : undefined,
                    outDir: command.outDir,
                    // Said in summary.json and the report by the runner itself (no rewriting afterwards).
                    notes: [labCaveat, ...skipped.map((s) => `not measured on this machine: ${s}`)],
                    signal: interrupts.signal,
                    onProgress: (e) => (e.kind === "error" ? console.error : console.log)(`bench: ${e.message}${eta.update(e)}`),
                },
            );
            // After an interrupt the runner gets a few seconds to stop its tools and write partial
            // results; a tool it still waits for then ends when the lab removes its namespaces.
            const stalled = new Promise<"stalled">((resolve) =>
                interrupts.signal.addEventListener("abort", () => setTimeout(() => resolve("stalled"), abortGraceMs).unref(), { once: true }),
            );
            const summary = await Promise.race([bench, stalled]);
            if (summary === "stalled") {
                console.error(`lab: the runner is still stopping after ${abortGraceMs / 1000} s; removing the lab under it`);
                await lab.close();
                await Promise.race([bench.catch(() => undefined), new Promise((r) => setTimeout(r, abortGraceMs).unref())]);
                throw interrupted();
            }
            console.log(`lab: report ${path.join(summary.outDir, "report.md")}`);
            if (skipped.length > 0) console.log(`lab: not measured on this machine:\n  ${skipped.join("\n  ")}`);
            for (const s of summary.skipped ?? []) console.log(`lab: ${s.target} ${s.measurement} not measured: ${s.reason}`);
            if (summary.errors.length > 0) {
                console.error(`lab: ${summary.errors.length} measurement(s) failed; see the report's errors`);
                code = exitCodes.failure;
            }
        }
    } catch (err) {
        if (interrupts.signal.aborted || err instanceof InterruptedError) {
            code = exitCodes.interrupted;
        } else {
            console.error(`lab: ${(err as Error).message}`);
            code = exitCodes.failure;
        }
    } finally {
        const report = await lab.close();
        console.log(`lab: removed run ${lab.runId}: ${report.namespacesDeleted.length} namespace(s), ${report.processesStopped} process(es)`);
        for (const p of report.problems) console.error(`lab: cleanup problem: ${p} (retry: npm run lab -- --cleanup)`);
        if (report.problems.length > 0 && code === exitCodes.ok) code = exitCodes.failure;
        interrupts.dispose();
    }
    return code;
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
