/**
 * The runner's table of measurements, one module per kind behind one type (`Measurement`,
 * context.ts), as cloud-bulldozer/k8s-netperf has one driver per tool (pkg/drivers/); and what
 * the CLIs compute from the cases.
 * The kinds' public names are re-exported here for the runner, the CLIs and the report.
 */
import { optInCases, type Measurement, type MeasureSettings } from "./context";
import type { MeasurementId } from "./ids";
import { measureHttp } from "./http";
import { measureGuestbook } from "./guestbook";
import { measureThroughput, throughputCases } from "./iperf3";
import { latencyCases, measureLatency } from "./latency";
import { measureScaling } from "./scaling";
import { firstByteRunSeconds, newConnectionCase } from "./connect";

export { measurementIds, measurementTools, type MeasurementId } from "./ids";
export { optInCases, type Figure, type Measurement, type MeasureContext, type MeasureSettings } from "./context";
export { measureHttp, nodePathLabel } from "./http";
export { measureGuestbook } from "./guestbook";
export { firstByteConnections, newConnectionCase } from "./connect";
export { measureThroughput, throughputCases } from "./iperf3";
export { costBitrateDefault, costDatagramBytes, costPacketBitrateDefault, costUdpRunSeconds, costUdpWarmupSeconds } from "./cost";
export { latencyCases, loadedLatencyMpsDefault, measureLatency } from "./latency";
export { listeningPorts, measureScaling, validateScalingPods } from "./scaling";

/** Every selectable case, for `BenchOptions.cases`. */
export const caseIds: readonly string[] = [
    "http.lb",
    "http.nodeport",
    "guestbook.read",
    "guestbook.write",
    newConnectionCase,
    ...throughputCases.map((c) => `iperf3.${c.id}`),
    ...latencyCases.map((c) => `latency.${c.id}`),
];

export const measurementRunners: Readonly<Record<MeasurementId, Measurement>> = {
    http: measureHttp,
    guestbook: measureGuestbook,
    iperf3: measureThroughput,
    latency: measureLatency,
    scaling: measureScaling,
};

/**
 * Seconds one repetition of one target spends in the tools (what `docs/benchmark.md` and the
 * CLI's estimate compute from): each wrk, iperf3 and sockperf run is warm-up + duration.
 * Connection retries, pod start-up and environment probes come on top.
 */
export function toolSecondsPerRepetition(ids: readonly MeasurementId[], s: Pick<MeasureSettings, "durationSeconds" | "warmupSeconds" | "scalingPods" | "cases">, hasLoadBalancer = true): number {
    const run = s.durationSeconds + s.warmupSeconds;
    const count = (prefix: string, all: readonly string[]) => all.filter((c) => (s.cases === undefined ? !optInCases.includes(`${prefix}.${c}`) : s.cases.includes(`${prefix}.${c}`))).length;
    const runs: Record<MeasurementId, number> = {
        http: count("http", hasLoadBalancer ? ["lb", "nodeport"] : ["nodeport"]),
        guestbook: count("guestbook", ["read", "write", "connect"]),
        iperf3: count(
            "iperf3",
            throughputCases.map((c) => c.id),
        ),
        latency: count(
            "latency",
            latencyCases.map((c) => c.id),
        ),
        scaling: s.scalingPods.length,
    };
    // The new-connection case adds its one-at-a-time curl run.
    const curl = ids.includes("guestbook") && count("guestbook", ["connect"]) > 0 ? firstByteRunSeconds : 0;
    return ids.reduce((a, id) => a + runs[id] * run, 0) + curl;
}
