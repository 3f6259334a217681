/** 4. TCP request/response round trips: sockperf ping-pong (p50, p99), or under-load at a fixed rate. */
import { inCgroup, sockperfPingPongCommand, sockperfServerCommand, sockperfUnderLoadCommand, toolGraceSeconds } from "./commands";
import { parseSockperf } from "./parse";
import { checkAborted, expectSuccess, pinned, toolTimeoutMs, wanted, type Figure, type MeasureContext } from "./context";
import { clientAgainstServer, pairFor } from "./client-server";

/** The fixed-rate latency runs' offered messages per second (docs/lab.md). */
export const loadedLatencyMpsDefault = 5000;

export const latencyCases = [
    { id: "pod.cross", label: "pod↔pod across nodes", hostNetwork: false, sameNode: false, fixedRate: false },
    { id: "pod.same", label: "pod↔pod on one node", hostNetwork: false, sameNode: true, fixedRate: false },
    { id: "host.cross", label: "host↔host (hostNetwork)", hostNetwork: true, sameNode: false, fixedRate: false },
    { id: "pod.cross.load", label: "pod↔pod across nodes at a fixed rate", hostNetwork: false, sameNode: false, fixedRate: true },
    { id: "host.cross.load", label: "host↔host (hostNetwork) at a fixed rate", hostNetwork: true, sameNode: false, fixedRate: true },
] as const;

type LatencyCase = (typeof latencyCases)[number];

/** One case: a warm-up (ping-pong only), the measured run, its p50 (the gate's for pod.cross) and p99. */
async function measureLatencyCase(ctx: MeasureContext, c: LatencyCase): Promise<Figure[]> {
    const s = ctx.settings;
    const { server, client } = await pairFor(ctx, c.hostNetwork, c.sameNode);
    const name = `sockperf-${c.id.replace(/\./g, "-")}`;
    const serverCommand = (seconds: number) =>
        // All addresses: behind a published port (Docker's -p, the bridge baseline) clients use the
        // host's address, which the container does not have.
        inCgroup(ctx.session.cpuCgroup, pinned(ctx, "server", sockperfServerCommand({ ip: "0.0.0.0", port: s.sockperfPort, lifetimeSeconds: seconds * 2 + 3 * toolGraceSeconds })));
    const raw: string[] = [];
    // under-load discards its own first 400 ms; ping-pong gets a separate warm-up run.
    if (s.warmupSeconds > 0 && !c.fixedRate) {
        const warm = sockperfPingPongCommand({ ip: server.ip, port: s.sockperfPort, durationSeconds: s.warmupSeconds });
        const w = await clientAgainstServer(ctx, `${name}-warmup`, server, serverCommand(s.warmupSeconds), client, warm, toolTimeoutMs(s));
        raw.push(...w.raw);
        expectSuccess("sockperf (warm-up)", client.shell, w.result);
    }
    const tool = c.fixedRate
        ? sockperfUnderLoadCommand({ ip: server.ip, port: s.sockperfPort, durationSeconds: s.durationSeconds, messagesPerSecond: s.latencyMps ?? loadedLatencyMpsDefault })
        : sockperfPingPongCommand({ ip: server.ip, port: s.sockperfPort, durationSeconds: s.durationSeconds });
    const command = inCgroup(ctx.session.cpuCgroup, pinned(ctx, "client", tool));
    const m = await clientAgainstServer(ctx, name, server, serverCommand(s.durationSeconds), client, command, toolTimeoutMs(s));
    raw.push(...m.raw);
    expectSuccess("sockperf", client.shell, m.result);
    const r = parseSockperf(m.result.stdout);
    const f = (key: string, what: string, value: number, gated = false): Figure => ({
        id: `latency.${c.id}.${key}`,
        measurement: "latency",
        label: `${c.label}: ${what}`,
        unit: "µs",
        better: "lower",
        value,
        raw,
        gated: gated || undefined,
    });
    return [f("p50", "TCP round trip p50", r.p50Us, c.id === "pod.cross"), f("p99", "TCP round trip p99", r.p99Us)];
}

/** 4. Every selected latency case, in its order. */
export async function measureLatency(ctx: MeasureContext): Promise<Figure[]> {
    const figures: Figure[] = [];
    for (const c of latencyCases) {
        checkAborted(ctx.signal);
        if (!wanted(ctx, `latency.${c.id}`)) continue;
        figures.push(...(await measureLatencyCase(ctx, c)));
    }
    return figures;
}
