/**
 * The lab's CPU-cost runs (opt-in iperf3 cases, iperf3.ts): one stream at a fixed rate, server
 * and client in the target's CPU group, the figure the CPU the datapath spends per byte or per
 * packet. On shared cores a saturating run measures who wins the CPU; at a fixed rate every
 * path moves the same bytes and the CPU it needs for them is its cost.
 */
import { inCgroup, iperf3ClientCommand, iperf3ServerCommand, toolGraceSeconds, withCpuProbes } from "./commands";
import { iperf3PacketsSentFrom, parseCpuWindow, parseIperf3, type CpuWindow, type ThroughputResult } from "./parse";
import { expectSuccess, pinned, toolTimeoutMs, type Figure, type MeasureContext } from "./context";
import { clientAgainstServer } from "./client-server";
import type { Endpoint } from "../sessions/session";
import type { Better } from "../results/stats";

/** The CPU-cost runs' offered TCP rate: below what every lab path reaches on a busy 2-core machine
 * (the slowest measured 2.1 Gbit/s saturated; docs/lab.md), so every path moves the same bytes. */
export const costBitrateDefault = "1G";

/** UDP cost runs: datagram size (bytes of payload, iperf3 -l) and the offered rate. 1400 bytes
 * fit every lab mode's pod MTU, so each datagram is one packet on every path (no GSO, no
 * fragments): the figure is the CPU the datapath spends per packet. */
export const costDatagramBytes = 1400;
/** 1 Gbit/s (about 89 000 packets/s): on the lab's 2-core machine the spread of the same mode's
 * CPU per packet across 5 repetitions was 1–4 % at 1 Gbit/s and 5–15 % at 200 Mbit/s, where a
 * window holds a fifth of the packets and the tools' per-wake-up work weighs more (docs/lab.md
 * "The offered rate"); loss stays at 0.3–2 %, and the figure is per packet sent. */
export const costPacketBitrateDefault = "1G";
/** The UDP cost runs' warm-up (excluded from CPU and packets) and their report interval. A UDP
 * sender at a fixed rate has no ramp to wait for (unlike TCP's slow start): 0.3 s covers the
 * tools' start-up, and the short window buys the interleaved lab twice the rounds (docs/lab.md
 * "Budget"). */
export const costUdpWarmupSeconds = 0.3;
const costUdpIntervalSeconds = 0.1;
/** Whole seconds a UDP cost run lasts (iperf3 -t takes whole seconds): `durationSeconds`, of
 * which the first `costUdpWarmupSeconds` are not counted. */
export function costUdpRunSeconds(durationSeconds: number): number {
    return Math.max(1, Math.ceil(durationSeconds));
}

/** Makes one figure of a throughput case (iperf3.ts). */
export type CaseFigure = (what: string, key: string, unit: string, better: Better, value: number, raw: string[], gated?: boolean) => Figure;

interface CostRun {
    readonly result: ThroughputResult;
    readonly window: CpuWindow;
    readonly packetsSent?: number;
    readonly raw: string[];
}

/**
 * CPU cost of moving bytes: one TCP stream at the fixed `costBitrate` (or UDP datagrams at
 * `costPacketBitrate`); CPU-seconds of the group (+ ksoftirqd) from the end of iperf3's omitted
 * warm-up to its exit, divided by the bytes received after the warm-up.
 */
async function runCost(ctx: MeasureContext, name: string, server: Endpoint, client: Endpoint, port: number, udp: boolean): Promise<CostRun> {
    const s = ctx.settings;
    const cgroup = ctx.session.cpuCgroup;
    if (!cgroup) throw new Error("the CPU-cost runs need a CPU group counting the target's processes (the lab has one; whole machines do not)");
    const serverCommand = inCgroup(cgroup, pinned(ctx, "server", iperf3ServerCommand({ port, lifetimeSeconds: (s.durationSeconds + s.warmupSeconds) * 2 + 3 * toolGraceSeconds })));
    // TCP: iperf3 -O discards whole warm-up seconds. UDP: the run is read from its interval
    // reports (-i), so the warm-up can be a fraction of a second (`costUdpWarmupSeconds`) and
    // the run is `durationSeconds` long in all.
    const iperf3 = iperf3ClientCommand({
        host: server.ip,
        port,
        // iperf3 -t takes whole seconds: the UDP window is what is left after the warm-up.
        durationSeconds: udp ? costUdpRunSeconds(s.durationSeconds) : s.durationSeconds,
        omitSeconds: udp ? 0 : s.warmupSeconds,
        streams: 1,
        ...(udp
            ? { udpBitrate: s.costPacketBitrate ?? costPacketBitrateDefault, length: costDatagramBytes, intervalSeconds: costUdpIntervalSeconds }
            : { tcpBitrate: s.costBitrate ?? costBitrateDefault }),
    });
    const clientCommand = inCgroup(cgroup, withCpuProbes(cgroup, udp ? costUdpWarmupSeconds : s.warmupSeconds, pinned(ctx, "client", iperf3)));
    const { result, raw } = await clientAgainstServer(ctx, name, server, serverCommand, client, clientCommand, toolTimeoutMs(s));
    expectSuccess("iperf3 client", client.shell, result);
    return {
        result: parseIperf3(result.stdout),
        window: parseCpuWindow(result.stderr),
        packetsSent: udp ? iperf3PacketsSentFrom(result.stdout, costUdpWarmupSeconds).packets : undefined,
        raw,
    };
}

/** 6. One cost case's figures: CPU per GB (TCP), or CPU per packet sent (UDP). */
export async function measureCost(ctx: MeasureContext, label: string, udp: boolean, name: string, server: Endpoint, client: Endpoint, port: number, f: CaseFigure): Promise<Figure[]> {
    const { result, window, packetsSent, raw } = await runCost(ctx, name, server, client, port, udp);
    const gigabytes = result.bytes / 1e9;
    if (!(gigabytes > 0)) throw new Error(`${label}: iperf3 received no bytes after its warm-up`);
    const otherLoad = f("other load on the machine during the run (CPUs busy outside the mode's group and ksoftirqd)", "otherLoad", "CPUs", "lower", window.otherLoadCpus, raw);
    const rate = f("rate achieved", "gbps", "Gbit/s", "higher", result.gbps, raw);
    if (!udp) return [f("CPU-s per GB moved (the mode's processes and ksoftirqd)", "cpuPerGB", "CPU-s/GB", "lower", window.cpuSeconds / gigabytes, raw), otherLoad, rate];
    // Per packet sent: every one crossed the whole datapath; a receiver that falls behind
    // drops some at its socket, which would otherwise make the others look dearer.
    const packets = packetsSent;
    if (!(packets && packets > 0)) throw new Error(`${label}: iperf3 reported no packets sent after its warm-up`);
    return [
        f("CPU-µs per packet sent (the mode's processes and ksoftirqd)", "cpuUsPerPacket", "CPU-µs/packet", "lower", (window.cpuSeconds * 1e6) / packets, raw),
        f(`CPU-s per GB sent in ${costDatagramBytes}-byte datagrams`, "cpuPerGB", "CPU-s/GB", "lower", window.cpuSeconds / ((packets * costDatagramBytes) / 1e9), raw),
        otherLoad,
        rate,
        ...(result.lostPercent !== undefined ? [f("UDP loss", "loss", "%", "lower", result.lostPercent, raw)] : []),
    ];
}
