/**
 * The lab's cost figures: CPU probes around a tool run, read back into CPU-seconds.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cpuProbeCommand, inCgroup, iperf3ClientCommand, onCpu, sockperfUnderLoadCommand, withCpuProbes } from "./commands";
import { costUdpRunSeconds, costUdpWarmupSeconds } from "./measurements";
import { iperf3PacketsSentFrom, parseCpuWindow, parseIperf3 } from "./parse";

const v1 = { dir: "/sys/fs/cgroup/cpuacct", version: 1 as const };

describe("CPU probes", () => {
    it("read back: the group's nanoseconds plus ksoftirqd's, and the whole machine's jiffies, between start and end", () => {
        // group 1.5e9 → 2.0e9 ns = 0.5 s; ksoftirqd 3.0e8 → 3.5e8 ns = 0.05 s; machine busy
        // (user+nice+system+irq+softirq+steal) 1000+0+500+0+100+0 = 1600 → 1800+0+600+0+150+0 = 2550:
        // 950 jiffies / 100 = 9.5 s.
        const stderr = [
            "noise",
            "cpu-probe start 100.0 1500000000 300000000/2 cpu 1000 0 500 7000 10 0 100 0 0 0",
            "cpu-probe end 102.5 2000000000 350000000/2 cpu 1800 0 600 7100 10 0 150 0 0 0",
        ].join("\n");
        const w = parseCpuWindow(stderr, 100);
        expect(w.seconds).toBeCloseTo(2.5, 9);
        expect(w.cpuSeconds).toBeCloseTo(0.55, 9);
        expect(w.ksoftirqdSeconds).toBeCloseTo(0.05, 9);
        expect(w.machineCpuSeconds).toBeCloseTo(9.5, 9);
    });

    it("a window with a missing probe, a lost ksoftirqd thread or counters going backwards is an error, not a figure", () => {
        const start = "cpu-probe start 100.0 1500000000 300000000/2 cpu 1000 0 500 7000 10 0 100 0 0 0";
        expect(() => parseCpuWindow(start, 100)).toThrow(/CPU probes missing/);
        expect(() => parseCpuWindow(`${start}\ncpu-probe end 102 2000000000 100000000/1 cpu 1800 0 600 7100 10 0 150 0 0 0`, 100)).toThrow(/ksoftirqd threads 2 → 1/);
        expect(() => parseCpuWindow(`${start}\ncpu-probe end 102 1000000000 350000000/2 cpu 1800 0 600 7100 10 0 150 0 0 0`, 100)).toThrow(/do not bound the run/);
        expect(() => parseCpuWindow("cpu-probe start 1 2 0/0 cpu 1 2 3 4 5 6 7 8 0 0", 100)).toThrow(/no ksoftirqd thread/);
    });

    it("the tool runs between the probes; the group is joined first; the exit code is the tool's", () => {
        const c = withCpuProbes(v1, 1, "iperf3 -c x");
        expect(c).toMatch(/^\{ sleep 1; .*cpu-probe start.*; \} & iperf3 -c x; rc=\$\?; .*cpu-probe end.*; wait; exit \$rc$/);
        expect(inCgroup(v1, "x")).toBe("echo $$ > '/sys/fs/cgroup/cpuacct/cgroup.procs' && x");
        expect(inCgroup(undefined, "x")).toBe("x");
        // The start probe reads the group last, the end probe first: the probes' own work stays outside the window.
        const start = cpuProbeCommand(v1, "start");
        const end = cpuProbeCommand(v1, "end");
        expect(start.indexOf("u=$(cat")).toBeGreaterThan(start.indexOf("k=$("));
        expect(end.indexOf("u=$(cat")).toBeLessThan(end.indexOf("k=$("));
        expect(onCpu(1, "x")).toBe("taskset -c 1 x");
    });

    it.skipIf(!existsSync(`${v1.dir}/cpuacct.usage`))("on this machine: a busy loop between the probes shows up as CPU time", () => {
        const out = execFileSync("sh", ["-c", withCpuProbes(v1, 0, "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        expect(out).toBe("");
        const r = execFileSync("sh", ["-c", `( ${withCpuProbes(v1, 0, "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done")} ) 2>&1`], { encoding: "utf8" });
        const w = parseCpuWindow(r, 100);
        expect(w.cpuSeconds).toBeGreaterThan(0.01);
        expect(w.seconds).toBeGreaterThan(0);
    });
});

describe("fixed-rate tools", () => {
    it("iperf3 paces TCP with -b and sends UDP datagrams of -l bytes; sockperf under-load answers every message", () => {
        expect(iperf3ClientCommand({ host: "10.42.1.2", port: 5201, durationSeconds: 2, omitSeconds: 1, streams: 1, tcpBitrate: "1G" })).toBe(
            "timeout --foreground -k 5 18 iperf3 -c 10.42.1.2 -p 5201 -t 2 -O 1 -P 1 -b 1G -J",
        );
        expect(iperf3ClientCommand({ host: "10.42.1.2", port: 5201, durationSeconds: 2, omitSeconds: 1, streams: 1, udpBitrate: "200M", length: 1400 })).toBe(
            "timeout --foreground -k 5 18 iperf3 -c 10.42.1.2 -p 5201 -t 2 -O 1 -P 1 -u -b 200M -l 1400 -J",
        );
        expect(sockperfUnderLoadCommand({ ip: "10.42.1.2", port: 11111, durationSeconds: 2, messagesPerSecond: 5000 })).toBe(
            "timeout --foreground -k 5 17 sockperf under-load --tcp --full-rtt --reply-every 1 --mps 5000 -i 10.42.1.2 -p 11111 -t 2",
        );
    });

    it("the UDP cost window: whole-second runs long enough for the duration after the fractional warm-up", () => {
        expect(costUdpWarmupSeconds).toBe(0.5);
        expect([1, 2, 3].map(costUdpRunSeconds)).toEqual([2, 3, 4]);
        // Interval reports of 0.25 s: packets from 0.5 s on are 223 + 224 = 447 over 0.5 s.
        const intervals = [0, 0.25, 0.5, 0.75].map((start, i) => ({ sum: { start, end: start + 0.25, packets: 223 + (i === 3 ? 1 : 0) } }));
        expect(iperf3PacketsSentFrom(JSON.stringify({ intervals }), 0.5)).toEqual({ packets: 447, seconds: 0.5 });
        expect(() => iperf3PacketsSentFrom(JSON.stringify({ intervals: [] }), 0.5)).toThrow(/no UDP interval reports/);
    });

    it("UDP results carry the sender's packet count (cost is per packet sent) and the bytes received", () => {
        const json = JSON.stringify({
            start: { test_start: { protocol: "UDP", num_streams: 1 } },
            end: {
                sum: { bytes: 7000, packets: 5, bits_per_second: 28000, seconds: 2, lost_percent: 0 },
                sum_received: { bytes: 5600, packets: 5, lost_packets: 1, bits_per_second: 22400, seconds: 2, lost_percent: 20, jitter_ms: 0.1 },
            },
        });
        const r = parseIperf3(json);
        expect(r.packetsSent).toBe(5);
        expect(r.bytes).toBe(5600);
        expect(r.lostPercent).toBe(20);
    });
});
