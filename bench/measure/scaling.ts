/**
 * 5. The paper's scaling figure: aggregate TCP throughput of n pods as n/2 cross-node pairs,
 * one point per pod count.
 */
import { clockCommand, iperf3ClientCommand, iperf3ServerCommand, startAtCommand, startStampMarker, tcpSocketsCommand, toolGraceSeconds } from "./commands";
import { parseIperf3 } from "./parse";
import { checkAborted, expectSuccess, toolTimeoutMs, type Figure, type MeasureContext } from "./context";
import { connectRetryDelayMs, sleep } from "./client-server";
import { withCpu, type WithCpu } from "./node-cpu";
import type { Endpoint } from "../sessions/session";
import { lastWords, type BackgroundProcess, type CommandResult } from "../sessions/shell";

/** Pod counts must be even (cross-node pairs) and positive. */
export function validateScalingPods(counts: readonly number[]): void {
    for (const n of counts) {
        if (!Number.isInteger(n) || n < 2 || n % 2 !== 0) {
            throw new Error(`scalingPods: ${n} is not allowed; each count must be an even integer ≥ 2 (pods run in cross-node pairs)`);
        }
    }
}

/** Listening TCP ports in /proc/net/tcp{,6} text: state 0A is TCP_LISTEN, the local port is hex
 * after the colon of `local_address` (proc(5); include/net/tcp_states.h). */
export function listeningPorts(procNetTcp: string): Set<number> {
    const ports = new Set<number>();
    for (const line of procNetTcp.split("\n")) {
        const cols = line.trim().split(/\s+/);
        if (cols[3] === "0A" && /:[0-9A-F]{4}$/i.test(cols[1] ?? "")) ports.add(parseInt(cols[1].split(":").pop()!, 16));
    }
    return ports;
}

/** How long the servers of one scaling point may take to listen (pod execs go through the API). */
const scalingListenTimeoutMs = 60_000;
/** Lead time before the common client start: long enough to deliver every client's exec. */
function scalingLeadSeconds(pairs: number): number {
    return 2 + 0.1 * pairs;
}
/** Start skew, as a share of the measured seconds, above which the aggregate is not reported:
 * pairs that ran alone for part of their window would overstate simultaneous throughput. */
const maxStartSkewShare = 0.02;
/** The smallest skew the rule acts on: a busy machine wakes sleepers tens of milliseconds late,
 * so below this the rule would measure the scheduler (it matters only for runs under 5 s). */
const minStartSkewSeconds = 0.1;

/** The clients of a scaling point did not start together (see `maxStartSkewShare`). */
class StartSkewError extends Error {}

async function waitListening(ctx: MeasureContext, servers: readonly Endpoint[], ports: readonly number[], procs: readonly BackgroundProcess[]): Promise<void> {
    const deadline = Date.now() + scalingListenTimeoutMs;
    const pending = new Set(servers.map((_, i) => i));
    const ended = new Map<number, CommandResult>();
    procs.forEach((p, i) => void p.done.then((r) => ended.set(i, r)));
    while (pending.size > 0) {
        checkAborted(ctx.signal);
        for (const [i, r] of ended) {
            if (!pending.has(i)) continue;
            // A server that ended before it listened (port taken, tool missing) will never listen.
            throw new Error(`scaling: the iperf3 server on ${servers[i].shell.name} port ${ports[i]} ended before it listened (exit ${r.code ?? r.signal ?? "signal"}): ${lastWords(r)}`);
        }
        await Promise.all(
            [...pending].map(async (i) => {
                const r = await servers[i].shell.run(tcpSocketsCommand(), { timeoutMs: 15_000, signal: ctx.signal });
                if (listeningPorts(r.stdout).has(ports[i])) pending.delete(i);
            }),
        );
        if (pending.size === 0) break;
        if (Date.now() > deadline) {
            const slow = [...pending].map((i) => `${servers[i].shell.name} port ${ports[i]}`).join(", ");
            throw new Error(`scaling: ${pending.size} of ${servers.length} iperf3 server(s) not listening after ${scalingListenTimeoutMs / 1000} s: ${slow}`);
        }
        await sleep(connectRetryDelayMs);
    }
}

/** The pairs of one scaling point after their run: commands, outputs, and the nodes' CPU. */
interface ScalingRun {
    readonly name: string;
    readonly servers: readonly Endpoint[];
    readonly clients: readonly Endpoint[];
    readonly serverCommands: readonly string[];
    readonly serverResults: readonly CommandResult[];
    readonly clientCommands: readonly string[];
    readonly measured: WithCpu<PromiseSettledResult<CommandResult>[]>;
}

/** Every client sleeps until one common time on the clients' node clock, then runs to its end. */
async function runClientsTogether(
    ctx: MeasureContext,
    name: string,
    servers: readonly Endpoint[],
    clients: readonly Endpoint[],
    ports: readonly number[],
    lead: number,
): Promise<Pick<ScalingRun, "clientCommands" | "measured">> {
    const s = ctx.settings;
    const now = Number((await clients[0].shell.run(clockCommand(), { timeoutMs: 15_000, signal: ctx.signal })).stdout.trim());
    if (!Number.isFinite(now)) throw new Error(`scaling: could not read the clock on ${clients[0].shell.name}`);
    const at = now + lead;
    const clientCommands = clients.map((_, i) =>
        startAtCommand(at, iperf3ClientCommand({ host: servers[i].ip, port: ports[i], durationSeconds: s.durationSeconds, omitSeconds: s.warmupSeconds, streams: 1 })),
    );
    const measured = await withCpu(ctx, name, lead + s.durationSeconds + s.warmupSeconds, lead + s.warmupSeconds, () =>
        Promise.allSettled(clients.map((client, i) => client.shell.run(clientCommands[i], { timeoutMs: toolTimeoutMs(s) + lead * 1000, signal: ctx.signal }))),
    );
    return { clientCommands, measured };
}

/** Starts n/2 servers on node 1, waits until all listen, runs the clients on node 2, stops the servers (also on failure). */
async function runScalingPairs(ctx: MeasureContext, n: number): Promise<ScalingRun> {
    const s = ctx.settings;
    const pairs = n / 2;
    const servers = await ctx.session.pods({ role: "scale", node: 0, count: pairs });
    const clients = await ctx.session.pods({ role: "scale", node: 1, count: pairs });
    const name = `scaling-${n}pods`;
    const ports = servers.map((_, i) => s.iperf3Port + 1 + i);
    const lead = scalingLeadSeconds(pairs);
    const serverCommands = ports.map((port) => iperf3ServerCommand({ port, lifetimeSeconds: (s.durationSeconds + s.warmupSeconds) * 2 + lead + 3 * toolGraceSeconds + scalingListenTimeoutMs / 1000 }));
    const procs: BackgroundProcess[] = servers.map((server, i) => server.shell.start(serverCommands[i]));
    const stopServers = () => Promise.all(procs.map((p) => p.stop()));
    let ran: Pick<ScalingRun, "clientCommands" | "measured">;
    try {
        await waitListening(ctx, servers, ports, procs);
        ran = await runClientsTogether(ctx, name, servers, clients, ports, lead);
    } catch (err) {
        await stopServers();
        throw err;
    }
    const serverResults = await stopServers();
    return { name, servers, clients, serverCommands, serverResults, ...ran };
}

/** Records every pair's outputs; each pair's throughput, start time, or why it failed. */
function readPairs(ctx: MeasureContext, run: ScalingRun): { raw: string[]; failures: string[]; gbps: number[]; starts: number[] } {
    const { name, servers, clients } = run;
    const raw: string[] = [];
    const failures: string[] = [];
    const gbps: number[] = [];
    const starts: number[] = [];
    run.measured.value.forEach((r, i) => {
        const pair = `${name}-pair${i + 1}`;
        raw.push(ctx.record(`${pair}-server`, servers[i].shell, run.serverCommands[i], run.serverResults[i]));
        if (r.status === "rejected") return void failures.push(`pair ${i + 1}: ${(r.reason as Error).message}`);
        raw.push(ctx.record(pair, clients[i].shell, run.clientCommands[i], r.value));
        const stamp = new RegExp(`^${startStampMarker} (\\d+\\.\\d+)$`, "m").exec(r.value.stderr);
        if (stamp) starts.push(Number(stamp[1]));
        try {
            expectSuccess("iperf3 client", clients[i].shell, r.value);
            gbps.push(parseIperf3(r.value.stdout).gbps);
        } catch (e) {
            failures.push(`pair ${i + 1}: ${(e as Error).message}`);
        }
    });
    raw.push(...run.measured.raw);
    return { raw, failures, gbps, starts };
}

/**
 * One point of the scaling curve: n pods as n/2 cross-node pairs, TCP 1 stream each, the figure
 * the sum of what the pairs received. All servers listen before any client starts (a slow server
 * delays the point instead of failing it), and every client sleeps until one common time on the
 * clients' node clock, so the pairs' measured windows coincide; the measured start skew is kept
 * as a figure. Each pair runs to its end even when another fails.
 */
async function scalingPoint(ctx: MeasureContext, n: number): Promise<Figure[]> {
    const s = ctx.settings;
    const pairs = n / 2;
    const { raw, failures, gbps, starts } = readPairs(ctx, await runScalingPairs(ctx, n));
    if (failures.length) throw new Error(`scaling ${n} pods: ${failures.length} of ${pairs} pair(s) failed, so no aggregate: ${failures.join("; ")}`);
    if (starts.length !== pairs) throw new Error(`scaling ${n} pods: ${pairs - starts.length} client(s) did not report their start time`);
    const skewSeconds = Math.max(...starts) - Math.min(...starts);
    const allowed = Math.max(maxStartSkewShare * s.durationSeconds, minStartSkewSeconds);
    if (skewSeconds > allowed) {
        throw new StartSkewError(
            `scaling ${n} pods: the clients started ${(skewSeconds * 1000).toFixed(0)} ms apart, more than ${(allowed * 1000).toFixed(0)} ms (${maxStartSkewShare * 100}% of the ${s.durationSeconds} s measured, at least ${minStartSkewSeconds * 1000} ms); the aggregate would overstate simultaneous throughput`,
        );
    }
    return [
        {
            id: `scaling.${n}.throughput`,
            measurement: "scaling",
            label: `${n} pods (${pairs} cross-node pairs): aggregate TCP throughput`,
            unit: "Gbit/s",
            better: "higher",
            value: gbps.reduce((a, b) => a + b, 0),
            raw,
        },
        {
            id: `scaling.${n}.startSkew`,
            measurement: "scaling",
            label: `${n} pods: spread of the clients' start times`,
            unit: "ms",
            better: "lower",
            value: skewSeconds * 1000,
            raw,
        },
    ];
}

/**
 * 5. The paper's scaling figure, one point per pod count. The scaling pods are removed after the
 * last point (up to 100 idle pods would otherwise stay for every later repetition).
 */
export async function measureScaling(ctx: MeasureContext): Promise<Figure[]> {
    validateScalingPods(ctx.settings.scalingPods);
    const figures: Figure[] = [];
    let failure: unknown;
    try {
        for (const n of ctx.settings.scalingPods) {
            checkAborted(ctx.signal);
            // A point whose clients did not start together is measured once more (a busy node can
            // delay one exec); a second miss fails the point rather than report an inflated sum.
            const point = await scalingPoint(ctx, n).catch(async (err) => {
                if (!(err instanceof StartSkewError)) throw err;
                ctx.note(`${err.message}; measured again`);
                return scalingPoint(ctx, n);
            });
            figures.push(...point);
        }
    } catch (err) {
        failure = err;
    }
    try {
        await ctx.session.releasePods("scale");
    } catch (err) {
        if (failure === undefined) throw err;
        ctx.note(`scaling: removing the scaling pods failed too: ${(err as Error).message}`);
    }
    if (failure !== undefined) throw failure;
    return figures;
}
