/**
 * The parsers on REAL tool output: wrk and iperf3 run against servers on 127.0.0.1 (sockperf's
 * real output is checked in pipeline-network.test.ts)
 * through the same command builders the runner sends over SSH, via a local shell.
 */
import { execFileSync } from "node:child_process";
import * as http from "node:http";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpuSamplerCommand, environmentCommand, guestbookReadPath, guestbookWritePath, iperf3ClientCommand, iperf3ServerCommand, joinUrl, wrkCommand } from "./commands";
import { descendantProcesses } from "../../test/descendants";
import { LoopbackSession } from "../sessions/loopback";
import { freeLoopbackPort, startLoopbackGuestbook, type LoopbackGuestbook } from "../sessions/loopback-guestbook";
import { measureHttp } from "./http";
import type { MeasureSettings } from "./context";
import { busyCpuRate, busyCpuSeconds, parseCpuSamples, parseIperf3, parseKeyValues, parseMtus, parseWrk } from "./parse";
import { ProcessShell, runChecked } from "../sessions/shell";
import type { Target } from "../targets";

const shell = ProcessShell.local("test shell");
const run = (cmd: string) => runChecked(shell, cmd, { timeoutMs: 30_000 });
let guestbook: LoopbackGuestbook;

beforeAll(async () => {
    guestbook = await startLoopbackGuestbook();
});
afterAll(async () => {
    await shell.close();
    await guestbook?.stop();
    expect(descendantProcesses()).toEqual([]);
});

describe("the loopback guestbook", () => {
    it("stops with its php workers (forked into its process group), leaving no orphans", async () => {
        const gb = await startLoopbackGuestbook();
        const groups = gb.processes.map((p) => p.pid!);
        // Live members of those groups; killed workers whose parent died wait as zombies for
        // PID 1 to reap them, and are no longer running.
        const members = () =>
            execFileSync("ps", ["-eo", "pid=,pgid=,stat=,args="], { encoding: "utf8" })
                .split("\n")
                .map((l) => l.trim().split(/\s+/))
                .filter(([, pgid, stat]) => groups.includes(Number(pgid)) && !stat?.startsWith("Z"));
        await fetch(joinUrl(gb.url, guestbookReadPath())); // wakes the workers
        expect(members().length).toBeGreaterThanOrEqual(3); // redis, php master, php workers
        await gb.stop();
        await new Promise((r) => setTimeout(r, 200));
        expect(members()).toEqual([]);
    });
});

describe("wrk with the report script", () => {
    it("guestbook writes then reads: the write lands in Redis, both runs parse with ordered percentiles", async () => {
        const write = parseWrk(
            (await run(wrkCommand({ url: joinUrl(guestbook.url, guestbookWritePath("bench-test")), durationSeconds: 1, connections: 2, threads: 1, requestTimeoutSeconds: 5 }))).stdout,
        );
        const stored = await (await fetch(joinUrl(guestbook.url, guestbookReadPath()))).json();
        expect(stored).toEqual({ data: "bench-test" });
        const read = parseWrk((await run(wrkCommand({ url: joinUrl(guestbook.url, guestbookReadPath()), durationSeconds: 1, connections: 2, threads: 1, requestTimeoutSeconds: 5 }))).stdout);
        for (const r of [write, read]) {
            expect(r.requests).toBeGreaterThan(10);
            expect(r.requestsPerSecond).toBeCloseTo(r.requests / r.durationSeconds, 6);
            expect(r.durationSeconds).toBeGreaterThan(0.9);
            expect(r.non2xx).toBe(0);
            expect(r.socketErrors).toBe(0);
            const l = r.latencyMs;
            expect(l.p50).toBeGreaterThan(0);
            expect(l.p50).toBeLessThanOrEqual(l.p60);
            expect(l.p60).toBeLessThanOrEqual(l.p90);
            expect(l.p90).toBeLessThanOrEqual(l.p99);
            expect(l.p99).toBeLessThanOrEqual(l.max);
        }
    });

    it("counts non-2xx responses (a server answering 503)", async () => {
        const port = await freeLoopbackPort();
        const server = http.createServer((_req, res) => res.writeHead(503, { "Content-Length": "0" }).end());
        await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
        try {
            const r = parseWrk((await run(wrkCommand({ url: `http://127.0.0.1:${port}/`, durationSeconds: 1, connections: 2, threads: 1, requestTimeoutSeconds: 5 }))).stdout);
            expect(r.requests).toBeGreaterThan(0);
            expect(r.non2xx).toBe(r.requests);
        } finally {
            await new Promise((r) => server.close(r));
        }
    });

    it("without the report line, the parser says what is missing", () => {
        expect(() => parseWrk("Running 1s test @ http://x\nRequests/sec: 10")).toThrow(/no "BENCH-JSON" line/);
    });
});

describe("iperf3 -J", () => {
    it("TCP with 2 streams and the -O warm-up: received throughput, retransmits, streams", async () => {
        const port = await freeLoopbackPort();
        const server = shell.start(iperf3ServerCommand({ port, lifetimeSeconds: 20 }));
        await new Promise((r) => setTimeout(r, 300));
        const out = (await run(iperf3ClientCommand({ host: "127.0.0.1", port, durationSeconds: 1, omitSeconds: 1, streams: 2 }))).stdout;
        await server.stop();
        const r = parseIperf3(out);
        const json = JSON.parse(out);
        expect(json.start.test_start.omit).toBe(1);
        expect(r.protocol).toBe("TCP");
        expect(r.streams).toBe(2);
        expect(r.bitsPerSecond).toBe(json.end.sum_received.bits_per_second);
        expect(r.gbps).toBeCloseTo(r.bitsPerSecond / 1e9, 9);
        expect(r.gbps).toBeGreaterThan(0.1);
        expect(typeof r.retransmits).toBe("number");
    });

    it("UDP: loss and jitter from the receiver's side", async () => {
        const port = await freeLoopbackPort();
        const server = shell.start(iperf3ServerCommand({ port, lifetimeSeconds: 20 }));
        await new Promise((r) => setTimeout(r, 300));
        const out = (await run(iperf3ClientCommand({ host: "127.0.0.1", port, durationSeconds: 1, omitSeconds: 0, streams: 1, udpBitrate: "100M" }))).stdout;
        await server.stop();
        const r = parseIperf3(out);
        expect(r.protocol).toBe("UDP");
        expect(r.lostPercent).toBeGreaterThanOrEqual(0);
        expect(r.jitterMs).toBeGreaterThanOrEqual(0);
        // 100 Mbit/s offered on loopback arrives nearly whole.
        expect(r.gbps).toBeGreaterThan(0.05);
        expect(r.gbps).toBeLessThan(0.11);
    });

    it("a refused connection is an error naming iperf3's reason", async () => {
        const port = await freeLoopbackPort();
        const r = await shell.run(iperf3ClientCommand({ host: "127.0.0.1", port, durationSeconds: 1, omitSeconds: 0, streams: 1 }), { timeoutMs: 20_000 });
        expect(() => parseIperf3(r.stdout)).toThrow(/iperf3 failed: unable to connect/);
    });
});

describe("node facts", () => {
    it("CPU samples: one a second, busy CPU-seconds never negative", async () => {
        const samples = parseCpuSamples((await run(cpuSamplerCommand(2))).stdout);
        expect(samples).toHaveLength(2);
        expect(samples[1].time - samples[0].time).toBeGreaterThan(0.9);
        expect(busyCpuSeconds(samples, 100)).toBeGreaterThanOrEqual(0);
        // By hand: busy jiffies 1000 → 1300 at USER_HZ 100 = 3 CPU-seconds.
        expect(
            busyCpuSeconds(
                [
                    { time: 1, busy: 1000, total: 5000 },
                    { time: 2, busy: 1300, total: 5400 },
                ],
                100,
            ),
        ).toBe(3);
        expect(busyCpuSeconds(samples.slice(0, 1), 100)).toBeUndefined();
        // By hand: 1000 → 1300 busy jiffies over t = 1 → 3 s at USER_HZ 100 = 3 CPU-s / 2 s = 1.5 CPUs;
        // from t = 2 only one sample remains: no rate.
        const two = [
            { time: 1, busy: 1000, total: 5000 },
            { time: 3, busy: 1300, total: 5800 },
        ];
        expect(busyCpuRate(two, 100)).toBe(1.5);
        expect(busyCpuRate(two, 100, 2)).toBeUndefined();
    });

    it("the MTU is measured on the interface toward the peer (lo: 65536 here)", async () => {
        const kv = parseKeyValues((await run(environmentCommand("127.0.0.1"))).stdout);
        expect(kv.interface).toBe("lo");
        // Here the test's own namespace and its own /sys: the netlink figure and sysfs agree.
        expect(parseMtus(kv)).toEqual({
            iface: "lo",
            mtu: Number(fs.readFileSync("/sys/class/net/lo/mtu", "utf8")),
            linkMtu: Number(fs.readFileSync("/sys/class/net/lo/mtu", "utf8")),
            routeMtu: undefined,
        });
        expect(kv.kernel).toBe(os.release());
    });

    // Lines iproute2 6.1 printed here (network namespaces: a veth of MTU 9001, routes with and
    // without an MTU metric, and a path MTU learned through a router). ip/iproute.c prints each
    // route metric as " <name>[ lock] <value>", a learned path MTU the same way after "expires Ns".
    it("the recorded MTU is the smaller of the link's and the route's; a missing link MTU is an error, never 0", () => {
        const link = "3: va@vb: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether d2:28:16:9e:a7:1c brd ff:ff:ff:ff:ff:ff";
        const at = (route: string) => parseMtus({ interface: "va", link, route });
        expect(at("10.9.0.2 dev va src 10.9.0.1 uid 0 \\    cache ")).toEqual({ iface: "va", mtu: 9001, linkMtu: 9001, routeMtu: undefined });
        expect(at("10.8.0.5 via 10.9.0.2 dev va src 10.9.0.1 uid 0 \\    cache mtu 8951 ")).toEqual({ iface: "va", mtu: 8951, linkMtu: 9001, routeMtu: 8951 });
        expect(at("10.7.0.5 via 10.9.0.2 dev va src 10.9.0.1 uid 0 \\    cache mtu lock 1400 ").mtu).toBe(1400);
        expect(at("10.6.0.5 via 10.9.0.2 dev va src 10.9.0.1 uid 0 \\    cache mtu 8000 window 20 advmss 8000 ").routeMtu).toBe(8000);
        // A path MTU learned from an ICMP "fragmentation needed" (a router with a 1300-byte link on the way).
        expect(at("10.62.0.1 via 10.61.0.2 dev xa src 10.61.0.1 uid 0 \\    cache expires 597sec mtu 1300 ").mtu).toBe(1300);
        expect(() => parseMtus({ interface: "eth0", link: "", route: "" })).toThrow('no MTU for interface eth0: `ip -o link show dev eth0` printed ""');
    });
});

describe("a measurement with its warm-up", () => {
    it("http: the warm-up run is kept as raw output but the figure is the measured run's", async () => {
        const target: Target = { name: "t", platform: "loopback", mode: "vxlan", nodePort: 1, nodes: [], podCidr: "10.0.0.0/16", mtu: { node: 1500, pod: 1450 } };
        const session = new LoopbackSession(target, { http: { nodePort: guestbook.url } });
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-warmup-"));
        const recorded: string[] = [];
        const notes: string[] = [];
        const settings: MeasureSettings = {
            durationSeconds: 1,
            warmupSeconds: 1,
            scalingPods: [2],
            httpConnections: 2,
            httpThreads: 1,
            requestTimeoutSeconds: 5,
            udpBitrate: "1G",
            iperf3Port: 1,
            sockperfPort: 1,
        };
        try {
            const figures = await measureHttp({
                session,
                settings,
                clkTck: 100,
                note: (t) => notes.push(t),
                record: (name, sh, command, result) => {
                    const file = path.join(dir, `${name}.txt`);
                    fs.writeFileSync(file, `${command}\n${result.stdout}`);
                    recorded.push(name);
                    return file;
                },
            });
            expect(recorded).toEqual(["http-nodeport-warmup", "http-nodeport-cpu-node1", "http-nodeport"]);
            expect(notes).toEqual(["http.lb: the target has no load balancer URL; not measured"]);
            const rps = figures.find((f) => f.id === "http.nodeport.rps")!;
            const measured = parseWrk(fs.readFileSync(path.join(dir, "http-nodeport.txt"), "utf8"));
            expect(rps.value).toBe(measured.requestsPerSecond);
            expect(fs.readFileSync(path.join(dir, "http-nodeport-warmup.txt"), "utf8")).toMatch(/-d 1s/);
        } finally {
            await session.close();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
