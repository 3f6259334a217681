/**
 * 3 + 6. iperf3 throughput, retransmits, UDP loss/jitter, CPU-seconds per Gbit; CPU per GB at a
 * fixed rate (the opt-in cost cases, cost.ts).
 */
import { iperf3ClientCommand, iperf3ServerCommand, toolGraceSeconds } from "./commands";
import { parseIperf3, type ThroughputResult } from "./parse";
import { checkAborted, expectSuccess, pinned, toolTimeoutMs, wanted, type Figure, type MeasureContext } from "./context";
import { clientAgainstServer, pairFor } from "./client-server";
import { costDatagramBytes, measureCost, type CaseFigure } from "./cost";
import { withCpu } from "./node-cpu";
import type { Endpoint } from "../sessions/session";

interface ThroughputCase {
    /** e.g. "pod.cross.tcp1" */
    readonly id: string;
    readonly label: string;
    readonly hostNetwork: boolean;
    readonly sameNode: boolean;
    readonly streams: number;
    readonly udp: boolean;
    /** A CPU-cost run at a fixed rate, CPU counted in the target's group (opt-in): TCP at
     * `costBitrate`, or UDP datagrams of `costDatagramBytes` at `costPacketBitrate`. */
    readonly cost?: boolean;
}

/** The iperf3 matrix: pod↔pod across nodes and on one node, and the host-network baseline. */
export const throughputCases: readonly ThroughputCase[] = [
    { id: "pod.cross.tcp1", label: "pod↔pod across nodes, TCP 1 stream", hostNetwork: false, sameNode: false, streams: 1, udp: false },
    { id: "pod.cross.tcp8", label: "pod↔pod across nodes, TCP 8 streams", hostNetwork: false, sameNode: false, streams: 8, udp: false },
    { id: "pod.cross.udp", label: "pod↔pod across nodes, UDP", hostNetwork: false, sameNode: false, streams: 1, udp: true },
    { id: "pod.same.tcp1", label: "pod↔pod on one node, TCP 1 stream", hostNetwork: false, sameNode: true, streams: 1, udp: false },
    { id: "pod.same.tcp8", label: "pod↔pod on one node, TCP 8 streams", hostNetwork: false, sameNode: true, streams: 8, udp: false },
    { id: "host.cross.tcp1", label: "host↔host (hostNetwork), TCP 1 stream", hostNetwork: true, sameNode: false, streams: 1, udp: false },
    { id: "host.cross.tcp8", label: "host↔host (hostNetwork), TCP 8 streams", hostNetwork: true, sameNode: false, streams: 8, udp: false },
    { id: "host.cross.udp", label: "host↔host (hostNetwork), UDP", hostNetwork: true, sameNode: false, streams: 1, udp: true },
    { id: "pod.cross.cost", label: "pod↔pod across nodes, TCP at a fixed rate", hostNetwork: false, sameNode: false, streams: 1, udp: false, cost: true },
    { id: "host.cross.cost", label: "host↔host (hostNetwork), TCP at a fixed rate", hostNetwork: true, sameNode: false, streams: 1, udp: false, cost: true },
    { id: "pod.cross.udpcost", label: `pod↔pod across nodes, UDP ${costDatagramBytes}-byte datagrams at a fixed rate`, hostNetwork: false, sameNode: false, streams: 1, udp: true, cost: true },
    { id: "host.cross.udpcost", label: `host↔host (hostNetwork), UDP ${costDatagramBytes}-byte datagrams at a fixed rate`, hostNetwork: true, sameNode: false, streams: 1, udp: true, cost: true },
];

/**
 * The iperf3 port of a case's server. Host-network servers take the next port of the range the
 * stacks open (measurementPorts.iperf3), so that a port published to a container on the same
 * node (Docker's -p, the bridge baseline) does not capture their connections.
 */
function iperf3PortFor(ctx: MeasureContext, server: Endpoint): number {
    return ctx.settings.iperf3Port + (server.hostNetwork ? 1 : 0);
}

async function runIperf3(
    ctx: MeasureContext,
    name: string,
    server: Endpoint,
    client: Endpoint,
    port: number,
    streams: number,
    udp: boolean,
): Promise<{ result: ThroughputResult; raw: string[]; busyCpus?: number }> {
    const s = ctx.settings;
    const serverCommand = pinned(ctx, "server", iperf3ServerCommand({ port, lifetimeSeconds: (s.durationSeconds + s.warmupSeconds) * 2 + 3 * toolGraceSeconds }));
    const clientCommand = pinned(
        ctx,
        "client",
        iperf3ClientCommand({
            host: server.ip,
            port,
            durationSeconds: s.durationSeconds,
            omitSeconds: s.warmupSeconds,
            streams,
            udpBitrate: udp ? s.udpBitrate : undefined,
        }),
    );
    const measured = await withCpu(ctx, name, s.durationSeconds + s.warmupSeconds, s.warmupSeconds, () =>
        clientAgainstServer(ctx, name, server, serverCommand, client, clientCommand, toolTimeoutMs(s)),
    );
    const { result, raw } = measured.value;
    expectSuccess("iperf3 client", client.shell, result);
    return { result: parseIperf3(result.stdout), raw: [...raw, ...measured.raw], busyCpus: measured.busyCpus };
}

/** A saturating run's figures: throughput (the gate's for pod.cross.tcp1), retransmits, UDP loss and jitter, CPU per Gbit. */
async function measureSaturating(ctx: MeasureContext, c: ThroughputCase, name: string, server: Endpoint, client: Endpoint, f: CaseFigure): Promise<Figure[]> {
    const { result, raw, busyCpus } = await runIperf3(ctx, name, server, client, iperf3PortFor(ctx, server), c.streams, c.udp);
    const figures = [f("throughput", "gbps", "Gbit/s", "higher", result.gbps, raw, c.id === "pod.cross.tcp1")];
    if (result.retransmits !== undefined) figures.push(f("retransmits", "retransmits", "count", "lower", result.retransmits, raw));
    if (result.lostPercent !== undefined) figures.push(f("UDP loss", "loss", "%", "lower", result.lostPercent, raw));
    if (result.jitterMs !== undefined) figures.push(f("UDP jitter", "jitter", "ms", "lower", result.jitterMs, raw));
    if (busyCpus !== undefined && result.gbps > 0) {
        // busy CPUs / (Gbit/s) = CPU-seconds per Gbit.
        const scope = ctx.session.sharedKernel ? "CPU-s per Gbit (shared kernel: both ends)" : "node CPU-s per Gbit (both nodes)";
        figures.push(f(scope, "cpuPerGbit", "CPU-s/Gbit", "lower", busyCpus / result.gbps, raw));
    }
    return figures;
}

/** 3 + 6. Every selected case of the matrix, in its order. */
export async function measureThroughput(ctx: MeasureContext): Promise<Figure[]> {
    const figures: Figure[] = [];
    for (const c of throughputCases) {
        checkAborted(ctx.signal);
        if (!wanted(ctx, `iperf3.${c.id}`)) continue;
        const { server, client } = await pairFor(ctx, c.hostNetwork, c.sameNode);
        const name = `iperf3-${c.id.replace(/\./g, "-")}`;
        const f: CaseFigure = (what, key, unit, better, value, raw, gated = false) => ({
            id: `iperf3.${c.id}.${key}`,
            measurement: "iperf3",
            label: `${c.label}: ${what}`,
            unit,
            better,
            value,
            raw,
            gated: gated || undefined,
        });
        figures.push(...(c.cost ? await measureCost(ctx, c.label, c.udp, name, server, client, iperf3PortFor(ctx, server), f) : await measureSaturating(ctx, c, name, server, client, f)));
    }
    return figures;
}
