/**
 * The measurements, each a function of one cluster session and one repetition. They build
 * command lines (commands.ts), run them on the session's shells, keep every raw output
 * (through `record`) and return figures. Every run has a discarded warm-up first.
 */
import {
    clockCommand,
    cpuSamplerCommand,
    guestbookReadPath,
    guestbookWritePath,
    iperf3ClientCommand,
    iperf3ServerCommand,
    joinUrl,
    sockperfPingPongCommand,
    sockperfServerCommand,
    startAtCommand,
    startStampMarker,
    tcpSocketsCommand,
    toolGraceSeconds,
    wrkCommand,
} from "./commands";
import { busyCpuRate, parseCpuSamples, parseIperf3, parseSockperf, parseWrk, type HttpResult, type ThroughputResult } from "./parse";
import type { ClusterSession, Endpoint } from "./session";
import type { BackgroundProcess, CommandResult, Shell } from "./shell";
import type { Better } from "./stats";

/** Every measurement the runner knows, in the order it runs them. */
export const measurementIds = ["http", "guestbook", "iperf3", "latency", "scaling"] as const;
export type MeasurementId = (typeof measurementIds)[number];

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
    /** Part of the `--max-overhead` gate. */
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
    /** Only these cases (ids from `caseIds`); all when undefined. */
    readonly cases?: readonly string[];
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

/** Whether a case (e.g. "iperf3.pod.cross.tcp1") is selected. */
function wanted(ctx: MeasureContext, caseId: string): boolean {
    return ctx.settings.cases === undefined || ctx.settings.cases.includes(caseId);
}

function checkAborted(signal?: AbortSignal): void {
    if (signal?.aborted) {
        const e = new Error("benchmark aborted");
        e.name = "AbortError";
        throw e;
    }
}

function toolTimeoutMs(s: MeasureSettings): number {
    return (s.durationSeconds + s.warmupSeconds + 2 * toolGraceSeconds) * 1000;
}

/** Fails with the tool's output when it did not exit 0. */
function expectSuccess(what: string, shell: Shell, result: CommandResult): void {
    if (result.code !== 0) {
        const tail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-5).join("\n");
        throw new Error(`${what} on ${shell.name} exited with ${result.code ?? "a signal"}: ${tail}`);
    }
}

/**
 * Busy CPUs on the nodes while `body` runs (summed over the nodes, averaged over the samples
 * after `skipSeconds`, the warm-up). Nodes that share a kernel (lab, loopback) are sampled once.
 * Cost per unit of work = this rate / the work's rate (Gbit/s, requests/s).
 */
async function withCpu<T>(ctx: MeasureContext, name: string, seconds: number, skipSeconds: number, body: () => Promise<T>): Promise<{ value: T; busyCpus?: number; raw: string[] }> {
    const hosts = ctx.session.sharedKernel ? ctx.session.hosts.slice(0, 1) : ctx.session.hosts;
    const command = cpuSamplerCommand(Math.ceil(seconds) + 2);
    const samplers: BackgroundProcess[] = hosts.map((h) => h.start(command));
    const stopAll = () => Promise.all(samplers.map((s) => s.stop()));
    const value = await body().catch(async (err) => {
        await stopAll();
        throw err;
    });
    const outputs = await stopAll();
    const raw: string[] = [];
    let total = 0;
    let complete = true;
    outputs.forEach((r, i) => {
        raw.push(ctx.record(`${name}-cpu-node${i + 1}`, hosts[i], command, r));
        const samples = parseCpuSamples(r.stdout);
        const busy = samples.length ? busyCpuRate(samples, ctx.clkTck, samples[0].time + skipSeconds) : undefined;
        if (busy === undefined) complete = false;
        else total += busy;
    });
    return { value, busyCpus: complete ? total : undefined, raw };
}

// ---------------------------------------------------------------- HTTP (wrk)

async function runWrk(ctx: MeasureContext, name: string, url: string, connections: number): Promise<{ result: HttpResult; raw: string[]; busyCpus?: number }> {
    const s = ctx.settings;
    const lg = ctx.session.loadGenerator;
    const base = { url, connections, threads: s.httpThreads, requestTimeoutSeconds: s.requestTimeoutSeconds };
    const raw: string[] = [];
    if (s.warmupSeconds > 0) {
        const warm = wrkCommand({ ...base, durationSeconds: s.warmupSeconds });
        const r = await lg.run(warm, { timeoutMs: toolTimeoutMs(s), signal: ctx.signal });
        raw.push(ctx.record(`${name}-warmup`, lg, warm, r));
        expectSuccess("wrk (warm-up)", lg, r);
    }
    checkAborted(ctx.signal);
    const command = wrkCommand({ ...base, durationSeconds: s.durationSeconds });
    const measured = await withCpu(ctx, name, s.durationSeconds, 0, () => lg.run(command, { timeoutMs: toolTimeoutMs(s), signal: ctx.signal }));
    raw.push(ctx.record(name, lg, command, measured.value));
    expectSuccess("wrk", lg, measured.value);
    return { result: parseWrk(measured.value.stdout), raw: [...raw, ...measured.raw], busyCpus: measured.busyCpus };
}

function httpFigures(prefix: string, label: string, measurement: MeasurementId, r: HttpResult, raw: string[], extraPercentiles: boolean, gated: boolean, busyCpus: number | undefined, sharedKernel: boolean): Figure[] {
    const f = (id: string, what: string, unit: string, better: Better, value: number, g = false): Figure => ({
        id: `${prefix}.${id}`,
        measurement,
        label: `${label}: ${what}`,
        unit,
        better,
        value,
        raw,
        gated: g || undefined,
    });
    return [
        f("rps", "requests/s", "req/s", "higher", r.requestsPerSecond, gated),
        f("latency.mean", "mean latency", "ms", "lower", r.latencyMs.mean, gated),
        f("latency.p50", "p50 latency", "ms", "lower", r.latencyMs.p50),
        ...(extraPercentiles ? [f("latency.p60", "p60 latency", "ms", "lower", r.latencyMs.p60)] : []),
        f("latency.p90", "p90 latency", "ms", "lower", r.latencyMs.p90),
        f("latency.p99", "p99 latency", "ms", "lower", r.latencyMs.p99),
        f("latency.max", "max latency", "ms", "lower", r.latencyMs.max),
        f("errors", "socket errors", "count", "lower", r.socketErrors),
        f("non2xx", "non-2xx responses", "count", "lower", r.non2xx),
        ...(busyCpus !== undefined && r.requestsPerSecond > 0
            ? [f("cpuPer1kRequests", sharedKernel ? "CPU-s per 1000 requests (shared kernel: all ends)" : "node CPU-s per 1000 requests (both nodes)", "CPU-s/1k req", "lower", (busyCpus / r.requestsPerSecond) * 1000)]
            : []),
    ];
}

/** 1. The frontend through the load balancer and straight to a NodePort (the LB's share). */
export async function measureHttp(ctx: MeasureContext): Promise<Figure[]> {
    const figures: Figure[] = [];
    const paths: [string, string, string | undefined][] = [
        ["lb", "HTTP via load balancer", ctx.session.http.loadBalancer],
        ["nodeport", "HTTP via NodePort", ctx.session.http.nodePort],
    ];
    for (const [key, label, url] of paths) {
        checkAborted(ctx.signal);
        if (!wanted(ctx, `http.${key}`)) continue;
        if (!url) {
            ctx.note(`http.${key}: the target has no ${label.replace("HTTP via ", "")} URL; not measured`);
            continue;
        }
        const { result, raw, busyCpus } = await runWrk(ctx, `http-${key}`, joinUrl(url, "/"), ctx.settings.httpConnections);
        figures.push(...httpFigures(`http.${key}`, label, "http", result, raw, false, key === "lb", busyCpus, ctx.session.sharedKernel));
    }
    return figures;
}

/** 2. The paper's web stress test: guestbook reads and writes, separately. */
export async function measureGuestbook(ctx: MeasureContext): Promise<Figure[]> {
    const base = ctx.session.http.loadBalancer ?? ctx.session.http.nodePort;
    if (!base) {
        ctx.note("guestbook: the target has no frontend URL; not measured");
        return [];
    }
    if (!ctx.session.http.loadBalancer) ctx.note("guestbook: measured through the NodePort (the target has no load balancer)");
    const figures: Figure[] = [];
    for (const [key, label, path] of [
        ["read", "guestbook reads", guestbookReadPath()],
        ["write", "guestbook writes", guestbookWritePath()],
    ] as const) {
        checkAborted(ctx.signal);
        if (!wanted(ctx, `guestbook.${key}`)) continue;
        const { result, raw, busyCpus } = await runWrk(ctx, `guestbook-${key}`, joinUrl(base, path), ctx.settings.httpConnections);
        figures.push(...httpFigures(`guestbook.${key}`, label, "guestbook", result, raw, true, false, busyCpus, ctx.session.sharedKernel));
    }
    return figures;
}

// ---------------------------------------------------------------- iperf3

const connectRetries = 8;
const connectRetryDelayMs = 300;
/** iperf3 and sockperf listen within tens of milliseconds of starting. */
const firstConnectDelayMs = 150;

/** The server was not listening yet. iperf3 -J reports it in its JSON ("error") and may still
 * exit 0 under `timeout --foreground`, so the text decides, not the exit code. */
function refusedToConnect(r: CommandResult): boolean {
    return /unable to connect|connection refused|server is busy|ERROR: Failed to connect|errno=111/i.test(r.stdout + r.stderr);
}

async function sleep(ms: number): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
}

/**
 * Runs a client against a server started just before; retries while the server is not yet
 * listening (the start of a background process is not a readiness signal).
 */
async function clientAgainstServer(ctx: MeasureContext, name: string, server: Endpoint, serverCommand: string, client: Endpoint, clientCommand: string, timeoutMs: number): Promise<{ result: CommandResult; raw: string[] }> {
    const serverProc = server.shell.start(serverCommand);
    const attempts = async (): Promise<CommandResult> => {
        let result: CommandResult | undefined;
        for (let attempt = 0; attempt < connectRetries; attempt++) {
            checkAborted(ctx.signal);
            await sleep(attempt === 0 ? firstConnectDelayMs : connectRetryDelayMs);
            result = await client.shell.run(clientCommand, { timeoutMs, signal: ctx.signal });
            if (!refusedToConnect(result)) break;
        }
        return result!;
    };
    const result = await attempts().catch(async (err) => {
        await serverProc.stop();
        throw err;
    });
    const serverResult = await serverProc.stop();
    const raw = [ctx.record(`${name}-server`, server.shell, serverCommand, serverResult), ctx.record(name, client.shell, clientCommand, result)];
    if (refusedToConnect(result) && serverResult.code !== 0 && serverResult.code !== null) {
        // The client's "connection refused" hides the cause: the server never listened.
        const why = (serverResult.stderr.trim() || serverResult.stdout.trim()).split("\n").slice(-2).join(" ");
        throw new Error(`server on ${server.shell.name} (${server.ip}) did not start: ${why}`);
    }
    return { result, raw };
}

interface ThroughputCase {
    /** e.g. "pod.cross.tcp1" */
    readonly id: string;
    readonly label: string;
    readonly hostNetwork: boolean;
    readonly sameNode: boolean;
    readonly streams: number;
    readonly udp: boolean;
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
];

/** Server on node 1, client on node 2 (or both on node 1). */
async function pairFor(ctx: MeasureContext, hostNetwork: boolean, sameNode: boolean): Promise<{ server: Endpoint; client: Endpoint }> {
    const role = hostNetwork ? "baseline" : "net";
    if (sameNode) {
        const [server, client] = await ctx.session.pods({ role, node: 0, count: 2, hostNetwork });
        return { server, client };
    }
    const [server] = await ctx.session.pods({ role, node: 0, count: 1, hostNetwork });
    const [client] = await ctx.session.pods({ role, node: 1, count: 1, hostNetwork });
    return { server, client };
}

async function runIperf3(ctx: MeasureContext, name: string, server: Endpoint, client: Endpoint, port: number, streams: number, udp: boolean): Promise<{ result: ThroughputResult; raw: string[]; busyCpus?: number }> {
    const s = ctx.settings;
    const serverCommand = iperf3ServerCommand({ port, lifetimeSeconds: (s.durationSeconds + s.warmupSeconds) * 2 + 3 * toolGraceSeconds });
    const clientCommand = iperf3ClientCommand({
        host: server.ip,
        port,
        durationSeconds: s.durationSeconds,
        omitSeconds: s.warmupSeconds,
        streams,
        udpBitrate: udp ? s.udpBitrate : undefined,
    });
    const measured = await withCpu(ctx, name, s.durationSeconds + s.warmupSeconds, s.warmupSeconds, () =>
        clientAgainstServer(ctx, name, server, serverCommand, client, clientCommand, toolTimeoutMs(s)),
    );
    const { result, raw } = measured.value;
    expectSuccess("iperf3 client", client.shell, result);
    return { result: parseIperf3(result.stdout), raw: [...raw, ...measured.raw], busyCpus: measured.busyCpus };
}

/** 3 + 6. iperf3 throughput, retransmits, UDP loss/jitter, CPU-seconds per Gbit, % of host. */
export async function measureThroughput(ctx: MeasureContext): Promise<Figure[]> {
    const figures: Figure[] = [];
    const byCase = new Map<string, { gbps: number; raw: string[] }>();
    for (const c of throughputCases) {
        checkAborted(ctx.signal);
        if (!wanted(ctx, `iperf3.${c.id}`)) continue;
        const { server, client } = await pairFor(ctx, c.hostNetwork, c.sameNode);
        const name = `iperf3-${c.id.replace(/\./g, "-")}`;
        const { result, raw, busyCpus } = await runIperf3(ctx, name, server, client, ctx.settings.iperf3Port, c.streams, c.udp);
        byCase.set(c.id, { gbps: result.gbps, raw });
        const f = (what: string, key: string, unit: string, better: Better, value: number, gated = false): Figure => ({
            id: `iperf3.${c.id}.${key}`,
            measurement: "iperf3",
            label: `${c.label}: ${what}`,
            unit,
            better,
            value,
            raw,
            gated: gated || undefined,
        });
        figures.push(f("throughput", "gbps", "Gbit/s", "higher", result.gbps, c.id === "pod.cross.tcp1"));
        if (result.retransmits !== undefined) figures.push(f("retransmits", "retransmits", "count", "lower", result.retransmits));
        if (result.lostPercent !== undefined) figures.push(f("UDP loss", "loss", "%", "lower", result.lostPercent));
        if (result.jitterMs !== undefined) figures.push(f("UDP jitter", "jitter", "ms", "lower", result.jitterMs));
        if (busyCpus !== undefined && result.gbps > 0) {
            // busy CPUs / (Gbit/s) = CPU-seconds per Gbit.
            const scope = ctx.session.sharedKernel ? "CPU-s per Gbit (shared kernel: both ends)" : "node CPU-s per Gbit (both nodes)";
            figures.push(f(scope, "cpuPerGbit", "CPU-s/Gbit", "lower", busyCpus / result.gbps));
        }
    }
    for (const c of throughputCases.filter((x) => !x.hostNetwork && !x.sameNode)) {
        const pod = byCase.get(c.id);
        const host = byCase.get(c.id.replace(/^pod\./, "host."));
        if (pod && host && host.gbps > 0) {
            figures.push({
                id: `iperf3.${c.id}.pctOfHost`,
                measurement: "iperf3",
                label: `${c.label}: % of host baseline`,
                unit: "%",
                better: "higher",
                value: (pod.gbps / host.gbps) * 100,
                raw: [...pod.raw, ...host.raw],
            });
        }
    }
    return figures;
}

// ---------------------------------------------------------------- sockperf

export const latencyCases = [
    { id: "pod.cross", label: "pod↔pod across nodes", hostNetwork: false, sameNode: false },
    { id: "pod.same", label: "pod↔pod on one node", hostNetwork: false, sameNode: true },
    { id: "host.cross", label: "host↔host (hostNetwork)", hostNetwork: true, sameNode: false },
] as const;

/** 4. TCP request/response round trips (sockperf ping-pong): p50, p99. */
export async function measureLatency(ctx: MeasureContext): Promise<Figure[]> {
    const s = ctx.settings;
    const figures: Figure[] = [];
    for (const c of latencyCases) {
        checkAborted(ctx.signal);
        if (!wanted(ctx, `latency.${c.id}`)) continue;
        const { server, client } = await pairFor(ctx, c.hostNetwork, c.sameNode);
        const name = `sockperf-${c.id.replace(/\./g, "-")}`;
        const serverCommand = (seconds: number) => sockperfServerCommand({ ip: server.ip, port: s.sockperfPort, lifetimeSeconds: seconds * 2 + 3 * toolGraceSeconds });
        const raw: string[] = [];
        if (s.warmupSeconds > 0) {
            const warm = sockperfPingPongCommand({ ip: server.ip, port: s.sockperfPort, durationSeconds: s.warmupSeconds });
            const w = await clientAgainstServer(ctx, `${name}-warmup`, server, serverCommand(s.warmupSeconds), client, warm, toolTimeoutMs(s));
            raw.push(...w.raw);
            expectSuccess("sockperf (warm-up)", client.shell, w.result);
        }
        const command = sockperfPingPongCommand({ ip: server.ip, port: s.sockperfPort, durationSeconds: s.durationSeconds });
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
        figures.push(f("p50", "TCP round trip p50", r.p50Us, c.id === "pod.cross"), f("p99", "TCP round trip p99", r.p99Us));
    }
    return figures;
}

// ---------------------------------------------------------------- scaling

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
            const why = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-2).join(" ");
            throw new Error(`scaling: the iperf3 server on ${servers[i].shell.name} port ${ports[i]} ended before it listened (exit ${r.code ?? r.signal ?? "signal"}): ${why}`);
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
    const servers = await ctx.session.pods({ role: "scale", node: 0, count: pairs });
    const clients = await ctx.session.pods({ role: "scale", node: 1, count: pairs });
    const name = `scaling-${n}pods`;
    const ports = servers.map((_, i) => s.iperf3Port + 1 + i);
    const lead = scalingLeadSeconds(pairs);
    const serverCommand = (port: number) => iperf3ServerCommand({ port, lifetimeSeconds: (s.durationSeconds + s.warmupSeconds) * 2 + lead + 3 * toolGraceSeconds + scalingListenTimeoutMs / 1000 });
    const procs: BackgroundProcess[] = servers.map((server, i) => server.shell.start(serverCommand(ports[i])));
    const stopServers = () => Promise.all(procs.map((p) => p.stop()));
    let measured: Awaited<ReturnType<typeof withCpu<PromiseSettledResult<CommandResult>[]>>>;
    let clientCommands: string[];
    try {
        await waitListening(ctx, servers, ports, procs);
        const now = Number((await clients[0].shell.run(clockCommand(), { timeoutMs: 15_000, signal: ctx.signal })).stdout.trim());
        if (!Number.isFinite(now)) throw new Error(`scaling: could not read the clock on ${clients[0].shell.name}`);
        const at = now + lead;
        clientCommands = clients.map((_, i) =>
            startAtCommand(at, iperf3ClientCommand({ host: servers[i].ip, port: ports[i], durationSeconds: s.durationSeconds, omitSeconds: s.warmupSeconds, streams: 1 })),
        );
        measured = await withCpu(ctx, name, lead + s.durationSeconds + s.warmupSeconds, lead + s.warmupSeconds, () =>
            Promise.allSettled(clients.map((client, i) => client.shell.run(clientCommands[i], { timeoutMs: toolTimeoutMs(s) + lead * 1000, signal: ctx.signal }))),
        );
    } catch (err) {
        await stopServers();
        throw err;
    }
    const serverResults = await stopServers();
    const raw: string[] = [];
    const failures: string[] = [];
    const gbps: number[] = [];
    const starts: number[] = [];
    measured.value.forEach((r, i) => {
        const pair = `${name}-pair${i + 1}`;
        raw.push(ctx.record(`${pair}-server`, servers[i].shell, serverCommand(ports[i]), serverResults[i]));
        if (r.status === "rejected") return void failures.push(`pair ${i + 1}: ${(r.reason as Error).message}`);
        raw.push(ctx.record(pair, clients[i].shell, clientCommands[i], r.value));
        const stamp = new RegExp(`^${startStampMarker} (\\d+\\.\\d+)$`, "m").exec(r.value.stderr);
        if (stamp) starts.push(Number(stamp[1]));
        try {
            expectSuccess("iperf3 client", clients[i].shell, r.value);
            gbps.push(parseIperf3(r.value.stdout).gbps);
        } catch (e) {
            failures.push(`pair ${i + 1}: ${(e as Error).message}`);
        }
    });
    raw.push(...measured.raw);
    if (failures.length) throw new Error(`scaling ${n} pods: ${failures.length} of ${pairs} pair(s) failed, so no aggregate: ${failures.join("; ")}`);
    if (starts.length !== pairs) throw new Error(`scaling ${n} pods: ${pairs - starts.length} client(s) did not report their start time`);
    const skewSeconds = Math.max(...starts) - Math.min(...starts);
    const allowed = Math.max(maxStartSkewShare * s.durationSeconds, minStartSkewSeconds);
    if (skewSeconds > allowed) {
        throw new StartSkewError(`scaling ${n} pods: the clients started ${(skewSeconds * 1000).toFixed(0)} ms apart, more than ${(allowed * 1000).toFixed(0)} ms (${maxStartSkewShare * 100}% of the ${s.durationSeconds} s measured, at least ${minStartSkewSeconds * 1000} ms); the aggregate would overstate simultaneous throughput`);
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

/** Every selectable case, for `BenchOptions.cases`. */
export const caseIds: readonly string[] = [
    "http.lb",
    "http.nodeport",
    "guestbook.read",
    "guestbook.write",
    ...throughputCases.map((c) => `iperf3.${c.id}`),
    ...latencyCases.map((c) => `latency.${c.id}`),
];

export const measurementRunners: Readonly<Record<MeasurementId, (ctx: MeasureContext) => Promise<Figure[]>>> = {
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
    const count = (prefix: string, all: readonly string[]) => all.filter((c) => s.cases === undefined || s.cases.includes(`${prefix}.${c}`)).length;
    const runs: Record<MeasurementId, number> = {
        http: count("http", hasLoadBalancer ? ["lb", "nodeport"] : ["nodeport"]),
        guestbook: count("guestbook", ["read", "write"]),
        iperf3: count("iperf3", throughputCases.map((c) => c.id)),
        latency: count("latency", latencyCases.map((c) => c.id)),
        scaling: s.scalingPods.length,
    };
    return ids.reduce((a, id) => a + runs[id] * run, 0);
}
