/**
 * The scaling point on loopback with real iperf3: a server slower than the old connect-retry
 * budget does not fail the count, the clients start together (their measured spread is a
 * figure), a failing pair fails the count only after every pair ended and every server stopped,
 * and the scaling pods are released after the run, also when it fails.
 */
import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { clockCommand, k3sVersionCommand, startAtCommand, tcpSocketsCommand } from "./commands";
import { containerPidCommand, inNetnsOfCommand, sandboxImageCommand } from "./pod-netns";
import { descendantProcesses } from "./descendants";
import { freeLoopbackPort } from "./loopback-guestbook";
import { LoopbackSession } from "./loopback-session";
import { listeningPorts, measureScaling, type MeasureContext, type MeasureSettings } from "./measurements";
import type { Endpoint, PodRequest } from "./session";
import { ProcessShell, type Shell } from "./shell";
import type { Target } from "./targets";

const target: Target = { name: "loop", platform: "lab", mode: "vxlan", nodePort: 1, nodes: [], podCidr: "10.0.0.0/16", mtu: { node: 1500, pod: 1450 } };

/** A loopback session whose pods can be made slow or broken, and which counts releases. */
class ScriptedSession extends LoopbackSession {
    released: string[] = [];
    constructor(private readonly wrap: (e: Endpoint, index: number) => Shell = (e) => e.shell) {
        super(target, { http: {} });
    }
    async pods(request: PodRequest): Promise<Endpoint[]> {
        return (await super.pods(request)).map((e, i) => ({ ...e, name: `${e.name}-${request.node}`, shell: this.wrap({ ...e, node: request.node }, i) }));
    }
    async releasePods(role: string): Promise<void> {
        this.released.push(role);
    }
}

const sessions: LoopbackSession[] = [];
afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    expect(descendantProcesses().filter((p) => /iperf3/.test(p.args))).toEqual([]);
});

async function context(session: LoopbackSession): Promise<{ ctx: MeasureContext; raws: Map<string, string> }> {
    sessions.push(session);
    // Consecutive free ports: the first is for the single-pair cases, the scaling pairs use the next ones.
    const base = (await freeLoopbackPort()) - 1;
    const settings: MeasureSettings = { durationSeconds: 2, warmupSeconds: 1, scalingPods: [4], httpConnections: 1, httpThreads: 1, requestTimeoutSeconds: 5, udpBitrate: "1G", iperf3Port: base, sockperfPort: 1 };
    const raws = new Map<string, string>();
    const ctx: MeasureContext = {
        session,
        settings,
        clkTck: 100,
        note: () => undefined,
        record: (name, _shell, command, result) => {
            raws.set(name, `${command}\n${result.stdout}\n${result.stderr}`);
            return name;
        },
    };
    return { ctx, raws };
}

/** A shell that starts its background commands `delay` seconds late (a slow server pod). */
function lateStarting(inner: Shell, delaySeconds: number): Shell {
    return { name: inner.name, run: (c, o) => inner.run(c, o), start: (c) => inner.start(`sleep ${delaySeconds}; ${c}`), close: () => inner.close() };
}

describe("scaling", () => {
    it("a server that listens only after 3 s (longer than the old 8 × 300 ms retries) delays the point instead of failing it", async () => {
        const session = new ScriptedSession((e, i) => (e.node === 0 && i === 1 ? lateStarting(e.shell, 3) : e.shell));
        const { ctx } = await context(session);
        const figures = await measureScaling(ctx);
        const total = figures.find((f) => f.id === "scaling.4.throughput")!;
        expect(total.value).toBeGreaterThan(0);
        expect(total.raw.filter((r) => /pair\d$/.test(r))).toHaveLength(2);
        expect(session.released).toEqual(["scale"]);
    });

    it("the clients start together: their start times, as each printed it, lie within 2% of the measured seconds", async () => {
        const session = new ScriptedSession();
        const { ctx, raws } = await context(session);
        const figures = await measureScaling(ctx);
        const skew = figures.find((f) => f.id === "scaling.4.startSkew")!;
        const stamps = [1, 2].map((i) => Number(/bench-start (\d+\.\d+)/.exec(raws.get(`scaling-4pods-pair${i}`)!)![1]));
        expect(skew.value).toBeCloseTo(Math.abs(stamps[0] - stamps[1]) * 1000, 6);
        expect(skew.value).toBeLessThan(0.02 * ctx.settings.durationSeconds * 1000);
    });

    it("one failing pair fails the count, naming it, after every pair ended; the servers are stopped and the pods released", async () => {
        const failing = (inner: Shell): Shell => ({ ...lateStarting(inner, 0), run: (c, o) => (/iperf3 -c/.test(c) ? inner.run("echo 'iperf3: error - unable to send' >&2; exit 1", o) : inner.run(c, o)) });
        const session = new ScriptedSession((e, i) => (e.node === 1 && i === 1 ? failing(e.shell) : e.shell));
        const { ctx, raws } = await context(session);
        await expect(measureScaling(ctx)).rejects.toThrow(/^scaling 4 pods: 1 of 2 pair\(s\) failed, so no aggregate: pair 2: iperf3 client on .* exited with 1: iperf3: error - unable to send/);
        expect(raws.has("scaling-4pods-pair1")).toBe(true); // the healthy pair ran to its end and was recorded
        expect(session.released).toEqual(["scale"]);
    });
});

describe("scaling helpers", () => {
    it("the new command texts pass shellcheck (POSIX sh)", () => {
        const scripts = {
            startAt: startAtCommand(1_800_000_000.5, "iperf3 -c 10.0.0.1 -J"),
            tcpSockets: tcpSocketsCommand(),
            clock: clockCommand(),
            k3sVersion: k3sVersionCommand(),
            sandboxImage: sandboxImageCommand(),
            containerPid: containerPidCommand("containerd://0123456789abcdef"),
            inNetns: inNetnsOfCommand(4242, "echo 'a b'"),
        };
        for (const [name, text] of Object.entries(scripts)) {
            let output = "";
            try {
                execFileSync("shellcheck", ["-s", "sh", "-"], { input: `#!/bin/sh\n${text}\n`, encoding: "utf8" });
            } catch (err) {
                output = String((err as { stdout?: string }).stdout ?? err);
            }
            expect(output, `${name} fails shellcheck`).toBe("");
        }
    });

    it("listeningPorts reads LISTEN sockets (state 0A) from /proc/net/tcp, and sees a port this process listens on", async () => {
        const sample = [
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
            "   0: 0100007F:1451 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0",
            "   1: 0100007F:1452 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1",
        ].join("\n");
        expect([...listeningPorts(sample)]).toEqual([5201]);
        const shell = ProcessShell.local("here");
        const net = await import("node:net");
        const server = net.createServer().listen(0, "127.0.0.1");
        await new Promise((r) => server.once("listening", r));
        try {
            const port = (server.address() as { port: number }).port;
            expect(listeningPorts((await shell.run(tcpSocketsCommand(), { timeoutMs: 5000 })).stdout).has(port)).toBe(true);
        } finally {
            server.close();
            await shell.close();
        }
    });

    it("startAtCommand starts the command at the given time, not before", async () => {
        const shell = ProcessShell.local("here");
        try {
            const at = Date.now() / 1000 + 1;
            const r = await shell.run(startAtCommand(at, "date +%s.%N"), { timeoutMs: 5000 });
            const started = Number(/bench-start (\d+\.\d+)/.exec(r.stderr)![1]);
            expect(started).toBeGreaterThanOrEqual(at - 0.001);
            expect(started - at).toBeLessThan(0.2);
            expect(Number(r.stdout)).toBeGreaterThanOrEqual(started);
        } finally {
            await shell.close();
        }
    });
});
