/**
 * What every measurement is given and returns (one module per kind: http.ts, guestbook.ts,
 * iperf3.ts with cost.ts, latency.ts, scaling.ts). A measurement is a function of one cluster
 * session and one repetition: it builds command lines (commands.ts), runs them on the session's
 * shells, keeps every raw output (through `record`) and returns figures. Every run has a
 * discarded warm-up first.
 */
import { InterruptedError } from "../../core/errors";
import { onCpu, toolGraceSeconds } from "./commands";
import type { MeasurementId } from "./ids";
import type { ClusterSession } from "../sessions/session";
import type { CommandResult, Shell } from "../sessions/shell";
import type { Better } from "../results/stats";

/** One number measured once. */
export interface Figure {
    /** Stable id, e.g. "iperf3.pod.cross.tcp1.gbps". */
    readonly id: string;
    readonly measurement: MeasurementId;
    readonly label: string;
    readonly unit: string;
    readonly better: Better;
    readonly value: number;
    /** Raw output file(s) it was read from, relative to the results folder. */
    readonly raw: readonly string[];
    /** Part of the `--max-overhead-pct` gate. */
    readonly gated?: boolean;
}

/** Resolved settings every measurement reads. */
export interface MeasureSettings {
    readonly durationSeconds: number;
    readonly warmupSeconds: number;
    readonly scalingPods: readonly number[];
    readonly httpConnections: number;
    readonly httpThreads: number;
    readonly requestTimeoutSeconds: number;
    readonly udpBitrate: string;
    /** First TCP/UDP port for iperf3 servers; scaling pairs use the following ones. */
    readonly iperf3Port: number;
    readonly sockperfPort: number;
    /** Only these cases (ids from `caseIds`); all when undefined (opt-in cases only when listed). */
    readonly cases?: readonly string[];
    /** Fixed TCP rate of the CPU-cost runs (iperf3 -b syntax); default `costBitrateDefault`. */
    readonly costBitrate?: string;
    /** Fixed UDP rate of the per-packet cost runs (iperf3 -b syntax); default `costPacketBitrateDefault`. */
    readonly costPacketBitrate?: string;
    /** Messages per second of the fixed-rate latency runs; default `loadedLatencyMpsDefault`. */
    readonly latencyMps?: number;
    /** Pin servers to CPU 0 and clients to CPU 1 (taskset) in the iperf3 and sockperf runs. */
    readonly pinCpus?: boolean;
}

export interface MeasureContext {
    readonly session: ClusterSession;
    readonly settings: MeasureSettings;
    readonly signal?: AbortSignal;
    /** Saves a raw output and returns its path relative to the results folder. */
    record(name: string, shell: Shell, command: string, result: CommandResult): string;
    /** Adds a line to the run's notes (skipped parts, reasons). */
    note(text: string): void;
    /** USER_HZ of the nodes (environment's clkTck), for /proc/stat jiffies. */
    readonly clkTck: number;
}

/** One measurement: the figures of one repetition on one session. */
export type Measurement = (ctx: MeasureContext) => Promise<Figure[]>;

/** Cases that run only when asked for by name (`cases`): the lab's cost and fixed-rate figures, and
 * the Service-proxy axis's new connections (docs/service-proxy.md). */
export const optInCases: readonly string[] = [
    "guestbook.connect",
    "iperf3.pod.cross.cost",
    "iperf3.host.cross.cost",
    "iperf3.pod.cross.udpcost",
    "iperf3.host.cross.udpcost",
    "latency.pod.cross.load",
    "latency.host.cross.load",
];

/** Whether a case (e.g. "iperf3.pod.cross.tcp1") is selected. */
export function wanted(ctx: MeasureContext, caseId: string): boolean {
    if (ctx.settings.cases === undefined) return !optInCases.includes(caseId);
    return ctx.settings.cases.includes(caseId);
}

/** Server on CPU 0, client on CPU 1, when pinning is asked for. */
export function pinned(ctx: MeasureContext, role: "server" | "client", command: string): string {
    return onCpu(ctx.settings.pinCpus ? (role === "server" ? 0 : 1) : undefined, command);
}

/** An abort is an InterruptedError, recognised by its class (core/errors.ts), never by its name. */
export function checkAborted(signal?: AbortSignal): void {
    if (signal?.aborted) throw new InterruptedError("benchmark aborted");
}

export function toolTimeoutMs(s: MeasureSettings): number {
    return (s.durationSeconds + s.warmupSeconds + 2 * toolGraceSeconds) * 1000;
}

/** Fails with the tool's output when it did not exit 0. */
export function expectSuccess(what: string, shell: Shell, result: CommandResult): void {
    if (result.code !== 0) {
        const tail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-5).join("\n");
        throw new Error(`${what} on ${shell.name} exited with ${result.code ?? "a signal"}: ${tail}`);
    }
}
