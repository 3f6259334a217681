/**
 * 1. HTTP: wrk against the guestbook frontend, through the load balancer and straight to a node
 * (the LB's share). The wrk run and its figures serve the guestbook measurement too (guestbook.ts).
 */
import { inCgroup, joinUrl, withCpuProbes, wrkCommand } from "./commands";
import { parseCpuWindow, parseWrk, type CpuWindow, type HttpResult } from "./parse";
import { checkAborted, expectSuccess, toolTimeoutMs, wanted, type Figure, type MeasureContext } from "./context";
import type { MeasurementId } from "./ids";
import { withCpu } from "./node-cpu";
import type { Better } from "../results/stats";
import type { FrontendAttachment } from "../targets";

/** One wrk run: its result, raw outputs, and its CPU (busy CPUs on whole machines, the mode's group's window in the lab). */
export interface WrkRun {
    readonly result: HttpResult;
    readonly raw: string[];
    readonly busyCpus?: number;
    readonly window?: CpuWindow;
    /** What the measured run printed to stderr (with `around`, its lines too). */
    readonly stderr: string;
}

/** A discarded warm-up, then the measured run; `around` wraps the measured wrk command alone (e.g. commands.ts withTcpCounters). */
export async function runWrk(ctx: MeasureContext, name: string, url: string, connections: number, headers?: readonly string[], around: (command: string) => string = (c) => c): Promise<WrkRun> {
    const s = ctx.settings;
    const lg = ctx.session.loadGenerator;
    const base = { url, connections, threads: s.httpThreads, requestTimeoutSeconds: s.requestTimeoutSeconds, headers };
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
        const command = inCgroup(cgroup, withCpuProbes(cgroup, 0, around(wrkCommand({ ...base, durationSeconds: s.durationSeconds }))));
        const r = await lg.run(command, { timeoutMs: toolTimeoutMs(s), signal: ctx.signal });
        raw.push(ctx.record(name, lg, command, r));
        expectSuccess("wrk", lg, r);
        return { result: parseWrk(r.stdout), raw, window: parseCpuWindow(r.stderr), stderr: r.stderr };
    }
    const command = around(wrkCommand({ ...base, durationSeconds: s.durationSeconds }));
    const measured = await withCpu(ctx, name, s.durationSeconds, 0, () => lg.run(command, { timeoutMs: toolTimeoutMs(s), signal: ctx.signal }));
    raw.push(ctx.record(name, lg, command, measured.value));
    expectSuccess("wrk", lg, measured.value);
    return { result: parseWrk(measured.value.stdout), raw: [...raw, ...measured.raw], busyCpus: measured.busyCpus, stderr: measured.value.stderr };
}

export function httpFigures(
    prefix: string,
    label: string,
    measurement: MeasurementId,
    r: HttpResult,
    raw: string[],
    extraPercentiles: boolean,
    gated: boolean,
    busyCpus: number | undefined,
    sharedKernel: boolean,
    window?: CpuWindow,
): Figure[] {
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
            ? [
                  f(
                      "cpuPer1kRequests",
                      sharedKernel ? "CPU-s per 1000 requests (shared kernel: all ends)" : "node CPU-s per 1000 requests (both nodes)",
                      "CPU-s/1k req",
                      "lower",
                      (busyCpus / r.requestsPerSecond) * 1000,
                  ),
              ]
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
