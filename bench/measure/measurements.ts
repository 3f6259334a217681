/**
 * The measurements, each a function of one cluster session and one repetition. They build
 * command lines (commands.ts), run them on the session's shells, keep every raw output
 * (through `record`) and return figures. Every run has a discarded warm-up first.
 */
import { InterruptedError } from "../../core/errors";
import {
    clockCommand,
    cpuSamplerCommand,
    guestbookReadPath,
    inCgroup,
    onCpu,
    sockperfUnderLoadCommand,
    withCpuProbes,
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
import { busyCpuRate, iperf3PacketsSentFrom, parseCpuSamples, parseCpuWindow, parseIperf3, parseSockperf, parseWrk, type CpuWindow, type HttpResult, type ThroughputResult } from "./parse";
import type { ClusterSession, Endpoint } from "../sessions/session";
import { lastWords, type BackgroundProcess, type CommandResult, type Shell } from "../sessions/shell";
import type { Better } from "../results/stats";
import type { FrontendAttachment } from "../targets";

/** Every measurement the runner knows, in the order it runs them. */
export const measurementIds = ["http", "guestbook", "iperf3", "latency", "scaling"] as const;
export type MeasurementId = (typeof measurementIds)[number];

/**
 * The program each measurement starts where its servers and clients run (the command builders
 * of commands.ts): wrk for HTTP, iperf3 for throughput and the scaling curve, sockperf for latency.
 * Run on this machine for lab targets, so checked before a run (bench/sessions/lab.ts labSessionTools).
 */
export const measurementTools: Readonly<Record<MeasurementId, readonly string[]>> = {
    http: ["wrk"],
    guestbook: ["wrk"],
    iperf3: ["iperf3"],
    latency: ["sockperf"],
    scaling: ["iperf3"],
};

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

/** The CPU-cost runs' offered TCP rate: below what every lab path reaches on a busy 2-core machine
 * (the slowest measured 2.1 Gbit/s saturated; docs/lab.md), so every path moves the same bytes. */
export const costBitrateDefault = "1G";
/** The fixed-rate latency runs' offered messages per second (docs/lab.md). */
export const loadedLatencyMpsDefault = 5000;

/** Cases that run only when asked for by name (`cases`): the lab's cost and fixed-rate figures. */
export const optInCases: readonly string[] = [
    "iperf3.pod.cross.cost",
    "iperf3.host.cross.cost",
    "iperf3.pod.cross.udpcost",
    "iperf3.host.cross.udpcost",
    "latency.pod.cross.load",
    "latency.host.cross.load",
];

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
    if (ctx.settings.cases === undefined) return !optInCases.includes(caseId);
    return ctx.settings.cases.includes(caseId);
}

/** Server on CPU 0, client on CPU 1, when pinning is asked for. */
function pinned(ctx: MeasureContext, role: "server" | "client", command: string): string {
    return onCpu(ctx.settings.pinCpus ? (role === "server" ? 0 : 1) : undefined, command);
}

/** An abort is an InterruptedError, recognised by its class (core/errors.ts), never by its name. */
function checkAborted(signal?: AbortSignal): void {
    if (signal?.aborted) throw new InterruptedError("benchmark aborted");
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

async function runWrk(ctx: MeasureContext, name: string, url: string, connections: number): Promise<{ result: HttpResult; raw: string[]; busyCpus?: number; window?: CpuWindow }> {
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
    const cgroup = ctx.session.cpuCgroup;
    if (cgroup) {
        // The mode's own CPU time (its group: frontends, Redis, wrk) over the measured run.
        const command = inCgroup(cgroup, withCpuProbes(cgroup, 0, wrkCommand({ ...base, durationSeconds: s.durationSeconds })));
        const r = await lg.run(command, { timeoutMs: toolTimeoutMs(s), signal: ctx.signal });
        raw.push(ctx.record(name, lg, command, r));
        expectSuccess("wrk", lg, r);
        return { result: parseWrk(r.stdout), raw, window: parseCpuWindow(r.stderr) };
    }
    const command = wrkCommand({ ...base, durationSeconds: s.durationSeconds });
    const measured = await withCpu(ctx, name, s.durationSeconds, 0, () => lg.run(command, { timeoutMs: toolTimeoutMs(s), signal: ctx.signal }));
    raw.push(ctx.record(name, lg, command, measured.value));
    expectSuccess("wrk", lg, measured.value);
    return { result: parseWrk(measured.value.stdout), raw: [...raw, ...measured.raw], busyCpus: measured.busyCpus };
}

function httpFigures(prefix: string, label: string, measurement: MeasurementId, r: HttpResult, raw: string[], extraPercentiles: boolean, gated: boolean, busyCpus: number | undefined, sharedKernel: boolean, window?: CpuWindow): Figure[] {
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
        ...(window !== undefined && r.requests > 0
            ? [
                  f("cpuMsPerRequest", "CPU-ms per request (the mode's processes and ksoftirqd)", "CPU-ms/req", "lower", (window.cpuSeconds * 1000) / r.requests),
                  f("otherLoad", "other load on the machine during the run (CPUs busy outside the mode's group and ksoftirqd)", "CPUs", "lower", window.otherLoadCpus),
              ]
            : []),
        ...(busyCpus !== undefined && r.requestsPerSecond > 0
            ? [f("cpuPer1kRequests", sharedKernel ? "CPU-s per 1000 requests (shared kernel: all ends)" : "node CPU-s per 1000 requests (both nodes)", "CPU-s/1k req", "lower", (busyCpus / r.requestsPerSecond) * 1000)]
            : []),
    ];
}

/**
 * What the "nodeport" URL reaches, by how the target's frontends are attached (`frontends` in
 * its outputs): a NodePort Service (kube-proxy) in the pod-network modes; in the baselines the
 * frontend's own port on the node, with no Service and no kube-proxy in the path (index.ts
 * exports nodePort = that port). Targets without `frontends` are pod-network ones.
 */
export function nodePathLabel(attachment: FrontendAttachment | undefined): string {
    switch (attachment) {
        case "host-network":
            return "HTTP via the frontend port on the node (host network: no Service, no NAT)";
        case "published-ports":
            return "HTTP via the published frontend port on the node (DNAT to the container, no Service)";
        default:
            return "HTTP via NodePort";
    }
}

/** 1. The frontend through the load balancer and straight to a node (the LB's share). */
export async function measureHttp(ctx: MeasureContext): Promise<Figure[]> {
    const figures: Figure[] = [];
    const paths: [string, string, string | undefined][] = [
        ["lb", "HTTP via load balancer", ctx.session.http.loadBalancer],
        ["nodeport", nodePathLabel(ctx.session.target.frontends?.attachment), ctx.session.http.nodePort],
    ];
    for (const [key, label, url] of paths) {
        checkAborted(ctx.signal);
        if (!wanted(ctx, `http.${key}`)) continue;
        if (!url) {
            ctx.note(`http.${key}: the target has no ${label.replace("HTTP via ", "")} URL; not measured`);
            continue;
        }
        const { result, raw, busyCpus, window } = await runWrk(ctx, `http-${key}`, joinUrl(url, "/"), ctx.settings.httpConnections);
        figures.push(...httpFigures(`http.${key}`, label, "http", result, raw, false, key === "lb", busyCpus, ctx.session.sharedKernel, window));
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
    if (!ctx.session.http.loadBalancer) {
        const via = nodePathLabel(ctx.session.target.frontends?.attachment).replace(/^HTTP via /, "");
        ctx.note(`guestbook: measured via ${via} (the target has no load balancer)`);
    }
    const figures: Figure[] = [];
    for (const [key, label, path] of [
        ["read", "guestbook reads", guestbookReadPath()],
        ["write", "guestbook writes", guestbookWritePath()],
    ] as const) {
        checkAborted(ctx.signal);
        if (!wanted(ctx, `guestbook.${key}`)) continue;
        const { result, raw, busyCpus, window } = await runWrk(ctx, `guestbook-${key}`, joinUrl(base, path), ctx.settings.httpConnections);
        figures.push(...httpFigures(`guestbook.${key}`, label, "guestbook", result, raw, true, false, busyCpus, ctx.session.sharedKernel, window));
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
        throw new Error(`server on ${server.shell.name} (${server.ip}) did not start: ${lastWords(serverResult)}`);
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
    /** A CPU-cost run at a fixed rate, CPU counted in the target's group (opt-in): TCP at
     * `costBitrate`, or UDP datagrams of `costDatagramBytes` at `costPacketRate`. */
    readonly cost?: boolean;
}

/** UDP cost runs: datagram size (bytes of payload, iperf3 -l) and the offered rate. 1400 bytes
 * fit every lab mode's pod MTU, so each datagram is one packet on every path (no GSO, no
 * fragments): the figure is the CPU the datapath spends per packet. */
export const costDatagramBytes = 1400;
/** 1 Gbit/s (about 89 000 packets/s): on the lab's 2-core machine the spread of the same mode's
 * CPU per packet across 5 repetitions was 1–4 % at 1 Gbit/s and 5–15 % at 200 Mbit/s, where a
 * window holds a fifth of the packets and the tools' per-wake-up work weighs more (docs/lab.md
 * "The offered rate"); loss stays at 0.3–2 %, and the figure is per packet sent. */
export const costPacketBitrateDefault = "1G";
/** The UDP cost runs' warm-up (excluded from CPU and packets) and their report interval. */
export const costUdpWarmupSeconds = 0.5;
const costUdpIntervalSeconds = 0.1;
/** Whole seconds a UDP cost run lasts so that at least `durationSeconds` remain after its warm-up. */
export function costUdpRunSeconds(durationSeconds: number): number {
    return Math.ceil(durationSeconds + costUdpWarmupSeconds);
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
    const serverCommand = pinned(ctx, "server", iperf3ServerCommand({ port, lifetimeSeconds: (s.durationSeconds + s.warmupSeconds) * 2 + 3 * toolGraceSeconds }));
    const clientCommand = pinned(ctx, "client", iperf3ClientCommand({
        host: server.ip,
        port,
        durationSeconds: s.durationSeconds,
        omitSeconds: s.warmupSeconds,
        streams,
        udpBitrate: udp ? s.udpBitrate : undefined,
    }));
    const measured = await withCpu(ctx, name, s.durationSeconds + s.warmupSeconds, s.warmupSeconds, () =>
        clientAgainstServer(ctx, name, server, serverCommand, client, clientCommand, toolTimeoutMs(s)),
    );
    const { result, raw } = measured.value;
    expectSuccess("iperf3 client", client.shell, result);
    return { result: parseIperf3(result.stdout), raw: [...raw, ...measured.raw], busyCpus: measured.busyCpus };
}

/**
 * CPU cost of moving bytes: one TCP stream at the fixed `costBitrate`, server and client in the
 * target's CPU group; CPU-seconds of the group (+ ksoftirqd) from the end of iperf3's omitted
 * warm-up to its exit, divided by the bytes received after the warm-up. On shared cores a
 * saturating run measures who wins the CPU; at a fixed rate every path moves the same bytes and
 * the CPU it needs for them is its cost.
 */
async function runCost(ctx: MeasureContext, name: string, server: Endpoint, client: Endpoint, port: number, udp: boolean): Promise<{ result: ThroughputResult; window: CpuWindow; packetsSent?: number; raw: string[] }> {
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
        ...(udp ? { udpBitrate: s.costPacketBitrate ?? costPacketBitrateDefault, length: costDatagramBytes, intervalSeconds: costUdpIntervalSeconds } : { tcpBitrate: s.costBitrate ?? costBitrateDefault }),
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

/** 3 + 6. iperf3 throughput, retransmits, UDP loss/jitter, CPU-seconds per Gbit; CPU per GB at a fixed rate. */
export async function measureThroughput(ctx: MeasureContext): Promise<Figure[]> {
    const figures: Figure[] = [];
    for (const c of throughputCases) {
        checkAborted(ctx.signal);
        if (!wanted(ctx, `iperf3.${c.id}`)) continue;
        const { server, client } = await pairFor(ctx, c.hostNetwork, c.sameNode);
        const name = `iperf3-${c.id.replace(/\./g, "-")}`;
        const f = (what: string, key: string, unit: string, better: Better, value: number, raw: string[], gated = false): Figure => ({
            id: `iperf3.${c.id}.${key}`,
            measurement: "iperf3",
            label: `${c.label}: ${what}`,
            unit,
            better,
            value,
            raw,
            gated: gated || undefined,
        });
        if (c.cost) {
            const { result, window, packetsSent, raw } = await runCost(ctx, name, server, client, iperf3PortFor(ctx, server), c.udp);
            const gigabytes = result.bytes / 1e9;
            if (!(gigabytes > 0)) throw new Error(`${c.label}: iperf3 received no bytes after its warm-up`);
            if (c.udp) {
                // Per packet sent: every one crossed the whole datapath; a receiver that falls behind
                // drops some at its socket, which would otherwise make the others look dearer.
                const packets = packetsSent;
                if (!(packets && packets > 0)) throw new Error(`${c.label}: iperf3 reported no packets sent after its warm-up`);
                figures.push(
                    f("CPU-µs per packet sent (the mode's processes and ksoftirqd)", "cpuUsPerPacket", "CPU-µs/packet", "lower", (window.cpuSeconds * 1e6) / packets, raw),
                    f(`CPU-s per GB sent in ${costDatagramBytes}-byte datagrams`, "cpuPerGB", "CPU-s/GB", "lower", window.cpuSeconds / ((packets * costDatagramBytes) / 1e9), raw),
                    f("other load on the machine during the run (CPUs busy outside the mode's group and ksoftirqd)", "otherLoad", "CPUs", "lower", window.otherLoadCpus, raw),
                    f("rate achieved", "gbps", "Gbit/s", "higher", result.gbps, raw),
                    ...(result.lostPercent !== undefined ? [f("UDP loss", "loss", "%", "lower", result.lostPercent, raw)] : []),
                );
                continue;
            }
            figures.push(
                f("CPU-s per GB moved (the mode's processes and ksoftirqd)", "cpuPerGB", "CPU-s/GB", "lower", window.cpuSeconds / gigabytes, raw),
                f("other load on the machine during the run (CPUs busy outside the mode's group and ksoftirqd)", "otherLoad", "CPUs", "lower", window.otherLoadCpus, raw),
                f("rate achieved", "gbps", "Gbit/s", "higher", result.gbps, raw),
            );
            continue;
        }
        const { result, raw, busyCpus } = await runIperf3(ctx, name, server, client, iperf3PortFor(ctx, server), c.streams, c.udp);
        figures.push(f("throughput", "gbps", "Gbit/s", "higher", result.gbps, raw, c.id === "pod.cross.tcp1"));
        if (result.retransmits !== undefined) figures.push(f("retransmits", "retransmits", "count", "lower", result.retransmits, raw));
        if (result.lostPercent !== undefined) figures.push(f("UDP loss", "loss", "%", "lower", result.lostPercent, raw));
        if (result.jitterMs !== undefined) figures.push(f("UDP jitter", "jitter", "ms", "lower", result.jitterMs, raw));
        if (busyCpus !== undefined && result.gbps > 0) {
            // busy CPUs / (Gbit/s) = CPU-seconds per Gbit.
            const scope = ctx.session.sharedKernel ? "CPU-s per Gbit (shared kernel: both ends)" : "node CPU-s per Gbit (both nodes)";
            figures.push(f(scope, "cpuPerGbit", "CPU-s/Gbit", "lower", busyCpus / result.gbps, raw));
        }
    }
    return figures;
}

// ---------------------------------------------------------------- sockperf

export const latencyCases = [
    { id: "pod.cross", label: "pod↔pod across nodes", hostNetwork: false, sameNode: false, fixedRate: false },
    { id: "pod.same", label: "pod↔pod on one node", hostNetwork: false, sameNode: true, fixedRate: false },
    { id: "host.cross", label: "host↔host (hostNetwork)", hostNetwork: true, sameNode: false, fixedRate: false },
    { id: "pod.cross.load", label: "pod↔pod across nodes at a fixed rate", hostNetwork: false, sameNode: false, fixedRate: true },
    { id: "host.cross.load", label: "host↔host (hostNetwork) at a fixed rate", hostNetwork: true, sameNode: false, fixedRate: true },
] as const;

/** 4. TCP request/response round trips: sockperf ping-pong (p50, p99), or under-load at a fixed rate. */
export async function measureLatency(ctx: MeasureContext): Promise<Figure[]> {
    const s = ctx.settings;
    const figures: Figure[] = [];
    for (const c of latencyCases) {
        checkAborted(ctx.signal);
        if (!wanted(ctx, `latency.${c.id}`)) continue;
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
    const count = (prefix: string, all: readonly string[]) =>
        all.filter((c) => (s.cases === undefined ? !optInCases.includes(`${prefix}.${c}`) : s.cases.includes(`${prefix}.${c}`))).length;
    const runs: Record<MeasurementId, number> = {
        http: count("http", hasLoadBalancer ? ["lb", "nodeport"] : ["nodeport"]),
        guestbook: count("guestbook", ["read", "write"]),
        iperf3: count("iperf3", throughputCases.map((c) => c.id)),
        latency: count("latency", latencyCases.map((c) => c.id)),
        scaling: s.scalingPods.length,
    };
    return ids.reduce((a, id) => a + runs[id] * run, 0);
}
