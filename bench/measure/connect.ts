/**
 * 2b. New connections through the NodePort (`guestbook.connect`), the Service proxy's per-connection
 * cost (docs/service-proxy.md): every request on a connection of its own, like netperf's TCP_CRR
 * (connect, request, response, close, repeat). The proxy decides a connection's destination once,
 * on its first packet (the SYN walks the nat rules; conntrack carries the rest), so keep-alive
 * reads hide that cost and new connections expose it.
 *
 * Two runs on the load generator, both to `/` (the frontend's static index.html: the request
 * itself is cheap, so the connection's cost is not diluted by PHP and Redis):
 * - wrk with `Connection: close` at full rate: connections/s, and the CPU per connection where
 *   the session counts its target's CPU (the lab's group) or the nodes' CPUs (whole machines);
 * - curl, one connection at a time: the TCP handshake and the first response byte, each from the
 *   connection's start (wrk's latency starts after the handshake; commands.ts firstByteCommand).
 */
import { connectionClose, firstByteCommand, toolGraceSeconds, withTcpCounters } from "./commands";
import { checkAborted, expectSuccess, wanted, type Figure, type MeasureContext } from "./context";
import { runWrk } from "./http";
import { parseFirstByte, tcpCounterDelta } from "./parse";
import type { Better } from "../results/stats";

/** The case id (bench/measure/measurements.ts caseIds; opt-in). */
export const newConnectionCase = "guestbook.connect";

/** Connections curl makes one after the other per repetition: the 99th percentile then rests on its 10 slowest. */
export const firstByteConnections = 1000;

/** Seconds the curl run is planned at (the plan's estimate): 1000 connections took 0.8 s on this machine's loopback
 * (`curl … '?connection=[1-1000]'` against `python3 -m http.server`); the lab's path adds namespaces and the proxy's rules. */
export const firstByteRunSeconds = 2;

export async function measureNewConnections(ctx: MeasureContext): Promise<Figure[]> {
    if (!wanted(ctx, newConnectionCase)) return [];
    const url = ctx.session.http.nodePort;
    if (!url) {
        ctx.note(`${newConnectionCase}: the target has no NodePort URL; not measured`);
        return [];
    }
    const prefix = newConnectionCase;
    const { result, raw, busyCpus, window, stderr } = await runWrk(ctx, "guestbook-connect", url.replace(/\/+$/, "") + "/", ctx.settings.httpConnections, [connectionClose], withTcpCounters);
    checkAborted(ctx.signal);
    const lg = ctx.session.loadGenerator;
    const command = firstByteCommand({ url, connections: firstByteConnections, requestTimeoutSeconds: ctx.settings.requestTimeoutSeconds });
    const r = await lg.run(command, { timeoutMs: (2 * toolGraceSeconds + 120) * 1000, signal: ctx.signal });
    const curlRaw = ctx.record("guestbook-connect-first-byte", lg, command, r);
    expectSuccess("curl (first byte)", lg, r);
    const fb = parseFirstByte(r.stdout);
    const f = (id: string, what: string, unit: string, better: Better, value: number, from: readonly string[] = raw): Figure => ({
        id: `${prefix}.${id}`,
        measurement: "guestbook",
        label: `new connections via NodePort: ${what}`,
        unit,
        better,
        value,
        raw: from,
    });
    return [
        f("cps", "connections/s (one request each, Connection: close)", "conn/s", "higher", result.requestsPerSecond),
        // A SYN sent again is a connection held up: after the client resets a stale TIME_WAIT's answer
        // by TCP_TIMEOUT_MIN (net/ipv4/tcp_input.c tcp_rcv_synsent_state_process), when unanswered by
        // 1 s (TCP_TIMEOUT_INIT). Many of them bound the rate, not the datapath (docs/service-proxy.md).
        f("synRetries", "SYNs the load generator sent again (each a connection held up)", "count", "lower", tcpCounterDelta(stderr, "TCPSynRetrans")),
        f("errors", "socket errors", "count", "lower", result.socketErrors),
        f("non2xx", "non-2xx responses", "count", "lower", result.non2xx),
        ...(window !== undefined && result.requests > 0
            ? [
                  f("cpuMsPerConnection", "CPU-ms per new connection (the mode's processes and ksoftirqd)", "CPU-ms/conn", "lower", (window.cpuSeconds * 1000) / result.requests),
                  f("otherLoad", "other load on the machine during the run (CPUs busy outside the mode's group and ksoftirqd)", "CPUs", "lower", window.otherLoadCpus),
              ]
            : []),
        ...(busyCpus !== undefined && result.requestsPerSecond > 0
            ? [
                  f(
                      "cpuPer1kConnections",
                      ctx.session.sharedKernel ? "CPU-s per 1000 new connections (shared kernel: all ends)" : "node CPU-s per 1000 new connections (both nodes)",
                      "CPU-s/1k conn",
                      "lower",
                      (busyCpus / result.requestsPerSecond) * 1000,
                  ),
              ]
            : []),
        f("connect.p50", "TCP handshake p50 (one connection at a time)", "ms", "lower", fb.connectMs.p50, [curlRaw]),
        f("connect.p99", "TCP handshake p99 (one connection at a time)", "ms", "lower", fb.connectMs.p99, [curlRaw]),
        f("firstByte.p50", "first byte p50, from the connection's start (one at a time)", "ms", "lower", fb.firstByteMs.p50, [curlRaw]),
        f("firstByte.p99", "first byte p99, from the connection's start (one at a time)", "ms", "lower", fb.firstByteMs.p99, [curlRaw]),
        f("firstByte.failed", "connections without an answer or with a status above 399 (one at a time)", "count", "lower", fb.failed, [curlRaw]),
    ];
}
