/**
 * `sudo npm run lab [-- options]`: the comparison on this Linux machine. Builds every selected
 * mode in network namespaces (datapath, BGP, guestbook), measures them all with the benchmark
 * runner, writes the same report, and removes everything it created — also on failure, Ctrl-C
 * and SIGTERM. `--cleanup` removes what a crashed or killed run left behind (and only that).
 *
 * Exit codes: 0 done; 1 failed (or a measurement failed); 2 bad usage; 130/143 interrupted.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { renderReport } from "../bench/report";
import { runBenchmark, type BenchOptions } from "../bench/run";
import { defaultFrontendWorkers, labHttpConnections } from "./guestbook";
import { removeCpuGroups } from "./cpuGroup";
import { Lab, unsupportedReason, type BuiltMode } from "./lab";
import { isTsxChild, runAsWorker, watchForwarder, workerEnv } from "./worker";
import { cleanupEntry, defaultLedgerDir, orphanedLedgers, readLedgers } from "./ledger";
import { labModes, parseLabModes, type LabMode } from "./modes";
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
    // Measured on a shared 2-core machine (docs/lab.md "Pinning"): pinned runs spread less.
    pinCpus: true,
} as const;

/** How long the runner may take to stop after Ctrl-C before the lab removes everything anyway. */
const abortGraceMs = 5_000;

export const usage = `usage: sudo npm run lab [-- options]

Builds each mode as network namespaces on this machine (no cloud, no Kubernetes), runs the
guestbook in them, measures every mode with the benchmark runner and writes the same report.
The lab reproduces each plugin's kernel datapath, not its control plane, on this machine's CPU.

options:
  --modes <list>         comma-separated modes, or "all" (default: all = ${labModes.join(",")})
  --out <dir>            results folder (default results/lab-<time>)
  --repetitions <n>      repetitions of the round-robin (default ${labBenchDefaults.repetitions})
  --duration <s>         measured seconds per tool run (default ${labBenchDefaults.durationSeconds})
  --warmup <s>           discarded warm-up seconds per run (default ${labBenchDefaults.warmupSeconds})
  --measurements <list>  runner measurements (default ${labBenchDefaults.measurements.join(",")})
  --workers <n>          Apache (mod_php) processes per frontend (default ${defaultFrontendWorkers})
  --pin <on|off>         pin servers to CPU 0 and clients to CPU 1 (taskset) in iperf3 and sockperf runs (default on)
  --verify               build each mode, show the evidence (capture, BGP, MTU), measure nothing
  --cleanup              remove what crashed or killed lab runs left behind, then exit
  -h, --help             this text`;

export class UsageError extends Error {}

export interface LabCommand {
    readonly action: "run" | "verify" | "cleanup" | "help";
    readonly modes: readonly LabMode[];
    readonly outDir: string;
    readonly frontendWorkers: number;
    readonly bench: Omit<BenchOptions, "outDir">;
}

function integerFlag(name: string, value: string | undefined, fallback: number, min: number): number {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: ${JSON.stringify(value)} is not allowed; use a whole number ≥ ${min}`);
    return n;
}

function onOff(name: string, value: string | undefined, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (value !== "on" && value !== "off") throw new UsageError(`--${name}: ${JSON.stringify(value)} is not allowed; use on or off`);
    return value === "on";
}

/** Parses the command line; every error names the flag, the value and what is allowed. */
export function parseLabCommand(argv: readonly string[], now = new Date()): LabCommand {
    let values;
    try {
        values = parseArgs({
            args: [...argv],
            allowPositionals: false,
            options: {
                modes: { type: "string" },
                out: { type: "string" },
                repetitions: { type: "string" },
                duration: { type: "string" },
                warmup: { type: "string" },
                measurements: { type: "string" },
                workers: { type: "string" },
                pin: { type: "string" },
                verify: { type: "boolean" },
                cleanup: { type: "boolean" },
                help: { type: "boolean", short: "h" },
            },
        }).values;
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
    if (values.cleanup && values.verify) throw new UsageError("--cleanup and --verify: choose one");
    let modes: LabMode[];
    try {
        modes = values.modes === undefined ? [...labModes] : parseLabModes(values.modes);
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
    const stamp = now.toISOString().replace(/[:.]/g, "-").slice(0, 19);
    const measurements = values.measurements?.split(",").map((s) => s.trim()).filter(Boolean) ?? [...labBenchDefaults.measurements];
    if (measurements.length === 0) throw new UsageError(`--measurements: ${JSON.stringify(values.measurements)} is empty`);
    return {
        action: values.help ? "help" : values.cleanup ? "cleanup" : values.verify ? "verify" : "run",
        modes,
        outDir: path.resolve(values.out ?? `results/lab-${stamp}`),
        frontendWorkers: integerFlag("workers", values.workers, defaultFrontendWorkers, 1),
        bench: {
            repetitions: integerFlag("repetitions", values.repetitions, labBenchDefaults.repetitions, 1),
            durationSeconds: integerFlag("duration", values.duration, labBenchDefaults.durationSeconds, 1),
            warmupSeconds: integerFlag("warmup", values.warmup, labBenchDefaults.warmupSeconds, 0),
            measurements,
            // The lab's own cases apply to its own measurements; with other measurements, all their cases.
            cases: values.measurements === undefined ? [...labBenchDefaults.cases] : undefined,
            httpConnections: labHttpConnections,
            pinCpus: onOff("pin", values.pin, labBenchDefaults.pinCpus),
            // The seed's zero point is the plain VM: the host-network baseline, when it is measured.
            baseline: modes.includes("host") ? "lab-host" : undefined,
        },
    };
}

/** The ledger folder; CNI_LAB_LEDGER_DIR moves it (the tests use their own). */
function ledgerDir(): string {
    return process.env.CNI_LAB_LEDGER_DIR || defaultLedgerDir;
}

async function cleanupLeftovers(): Promise<number> {
    const dir = ledgerDir();
    const all = readLedgers(dir);
    const orphans = orphanedLedgers(dir);
    if (orphans.length === 0) {
        console.log(`lab: nothing to clean up (${all.length} ledger(s) in ${dir}, all owned by running labs)`);
        return 0;
    }
    let failed = 0;
    for (const entry of orphans) {
        const report = await cleanupEntry(dir, entry);
        report.problems.push(...(await removeCpuGroups(entry.runId)));
        console.log(
            `lab: run ${entry.runId} (started ${entry.startedAt}): stopped ${report.processesStopped} process(es), ` +
                `deleted ${report.namespacesDeleted.length} namespace(s)`,
        );
        for (const p of report.problems) console.error(`  problem: ${p}`);
        if (report.problems.length > 0) failed++;
    }
    return failed === 0 ? 0 : 1;
}

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

/** Puts the lab's notes first in summary.json's notes and re-renders report.md, so a later
 * `npm run bench -- report <folder>` keeps them. */
export async function addLabNotes(outDir: string, notes: readonly string[]): Promise<void> {
    const file = path.join(outDir, "summary.json");
    const summary = JSON.parse(readFileSync(file, "utf8")) as { notes: string[] };
    summary.notes = [...notes, ...summary.notes.filter((n) => !notes.includes(n))];
    writeFileSync(file, JSON.stringify(summary, null, 2) + "\n");
    await renderReport(outDir);
}

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

async function main(argv: readonly string[]): Promise<number> {
    const command = parseLabCommand(argv);
    if (command.action === "help") {
        console.log(usage);
        return 0;
    }
    if (process.getuid?.() !== 0) {
        console.error("lab: needs root (it creates network namespaces and iptables rules inside them): sudo npm run lab");
        return 2;
    }
    if (command.action === "cleanup") return cleanupLeftovers();

    const lab = Lab.open(ledgerDir());
    const controller = new AbortController();
    let interruptedBy: NodeJS.Signals | undefined;
    const onSignal = (sig: NodeJS.Signals) => {
        if (interruptedBy) {
            console.error(`lab: ${sig} again; still removing run ${lab.runId} (leftovers, if any: npm run lab -- --cleanup)`);
            return;
        }
        interruptedBy = sig;
        console.error(`lab: ${sig}: stopping and removing everything run ${lab.runId} created…`);
        controller.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let code = 0;
    try {
        console.log(`lab: run ${lab.runId}; ledger ${lab.ledger.dir}/cnilab-${lab.runId}.json`);
        const kernel = await lab.probeKernel();
        const built: BuiltMode[] = [];
        const skipped: string[] = [];
        for (const mode of command.modes) {
            if (controller.signal.aborted) break;
            const reason = unsupportedReason(mode, kernel);
            if (reason) {
                skipped.push(`${mode}: ${reason}`);
                console.warn(`lab: skipping ${mode}: ${reason}`);
                continue;
            }
            built.push(await lab.build(mode, { frontendWorkers: command.frontendWorkers, onProgress: (m) => console.log(`lab: ${m}`) }));
        }
        if (controller.signal.aborted) throw Object.assign(new Error("interrupted"), { name: "AbortError" });
        if (built.length === 0) throw new Error(`no mode could be built here:\n  ${skipped.join("\n  ")}`);
        if (command.action === "verify") {
            for (const b of built) if (!(await verifyMode(lab, b))) code = 1;
        } else {
            const eta = new RemainingTime();
            const bench = runBenchmark(
                built.map((b) => b.target),
                {
                    ...command.bench,
                    baseline: built.some((b) => b.target.name === command.bench.baseline) ? command.bench.baseline : undefined,
                    outDir: command.outDir,
                    signal: controller.signal,
                    onProgress: (e) => (e.kind === "error" ? console.error : console.log)(`bench: ${e.message}${eta.update(e)}`),
                },
            );
            // After an interrupt the runner gets a few seconds to stop its tools and write partial
            // results; a tool it still waits for then ends when the lab removes its namespaces.
            const stalled = new Promise<"stalled">((resolve) =>
                controller.signal.addEventListener("abort", () => setTimeout(() => resolve("stalled"), abortGraceMs).unref(), { once: true }),
            );
            const summary = await Promise.race([bench, stalled]);
            if (summary === "stalled") {
                console.error(`lab: the runner is still stopping after ${abortGraceMs / 1000} s; removing the lab under it`);
                await lab.close();
                await Promise.race([bench.catch(() => undefined), new Promise((r) => setTimeout(r, abortGraceMs).unref())]);
                throw Object.assign(new Error("interrupted"), { name: "AbortError" });
            }
            await addLabNotes(summary.outDir, [
                labCaveat,
                ...skipped.map((s) => `not measured on this machine: ${s}`),
            ]);
            console.log(`lab: report ${path.join(summary.outDir, "report.md")}`);
            if (skipped.length > 0) console.log(`lab: not measured on this machine:\n  ${skipped.join("\n  ")}`);
            if (summary.errors.length > 0) {
                console.error(`lab: ${summary.errors.length} measurement(s) failed; see the report's errors`);
                code = 1;
            }
        }
    } catch (err) {
        if (interruptedBy || (err as Error).name === "AbortError") {
            code = interruptedBy === "SIGTERM" ? 143 : 130;
        } else {
            console.error(`lab: ${(err as Error).message}`);
            code = 1;
        }
    } finally {
        const report = await lab.close();
        console.log(`lab: removed run ${lab.runId}: ${report.namespacesDeleted.length} namespace(s), ${report.processesStopped} process(es)`);
        for (const p of report.problems) console.error(`lab: cleanup problem: ${p} (retry: npm run lab -- --cleanup)`);
        if (report.problems.length > 0 && code === 0) code = 1;
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    }
    return code;
}

if (require.main === module) {
    const argv = process.argv.slice(2);
    const underTsxRelay = isTsxChild() && !process.env[workerEnv];
    if (!underTsxRelay) watchForwarder();
    (underTsxRelay ? runAsWorker(__filename, argv) : main(argv)).then(
        (code) => process.exit(code),
        (err) => {
            console.error(`lab: ${err instanceof UsageError ? "" : "unexpected error: "}${(err as Error).message}`);
            if (err instanceof UsageError) console.error(usage);
            process.exit(err instanceof UsageError ? 2 : 1);
        },
    );
}
