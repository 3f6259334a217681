/**
 * The lab's cost figures: CPU probes around a tool run, read back into CPU-seconds.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cpuProbeCommand, inCgroup, iperf3ClientCommand, onCpu, sockperfUnderLoadCommand, withCpuProbes } from "./commands";
import { costUdpRunSeconds, costUdpWarmupSeconds } from "./cost";
import { iperf3PacketsSentFrom, parseCpuWindow, parseIperf3 } from "./parse";

const v1 = { dir: "/sys/fs/cgroup/cpuacct", version: 1 as const };

describe("CPU probes", () => {
    it("read back: the group's nanoseconds plus ksoftirqd's, every task's, and the other load, between start and end", () => {
        // group 1.5e9 → 2.0e9 ns = 0.5 s; ksoftirqd 3.0e8 → 3.5e8 ns = 0.05 s; every task
        // 9.0e9 → 11.05e9 ns = 2.05 s, of which 2.05 − 0.55 = 1.5 s others over 2.5 s = 0.6 CPUs.
        const stderr = ["noise", "cpu-probe start 100.0 1500000000 300000000/2 9000000000", "cpu-probe end 102.5 2000000000 350000000/2 11050000000"].join("\n");
        const w = parseCpuWindow(stderr);
        expect(w.seconds).toBeCloseTo(2.5, 9);
        expect(w.cpuSeconds).toBeCloseTo(0.55, 9);
        expect(w.ksoftirqdSeconds).toBeCloseTo(0.05, 9);
        expect(w.machineCpuSeconds).toBeCloseTo(2.05, 9);
        expect(w.otherLoadCpus).toBeCloseTo(0.6, 9);
        // Counters read one after another: a machine delta a hair under the group's is no load, not a negative one.
        expect(parseCpuWindow("cpu-probe start 0 0 0/2 0\ncpu-probe end 1 500000000 0/2 499999000").otherLoadCpus).toBe(0);
    });

    it("a window with a missing probe, a lost ksoftirqd thread or counters going backwards is an error, not a figure", () => {
        const start = "cpu-probe start 100.0 1500000000 300000000/2 9000000000";
        expect(() => parseCpuWindow(start)).toThrow(/CPU probes missing/);
        expect(() => parseCpuWindow(`${start}\ncpu-probe end 102 2000000000 100000000/1 9900000000`)).toThrow(/ksoftirqd threads 2 → 1/);
        expect(() => parseCpuWindow(`${start}\ncpu-probe end 102 1000000000 350000000/2 9900000000`)).toThrow(/do not bound the run/);
        expect(() => parseCpuWindow(`${start}\ncpu-probe end 102 2000000000 350000000/2 8000000000`)).toThrow(/do not bound the run/);
        expect(() => parseCpuWindow("cpu-probe start 1 2 0/0 5")).toThrow(/no ksoftirqd thread/);
        // The old format (a /proc/stat line at the end) is refused, not misread.
        expect(() => parseCpuWindow("cpu-probe start 1 2 3/2 cpu 1 2 3 4 5 6 7 8 0 0")).toThrow(/is not "cpu-probe/);
    });

    it("the tool runs between the probes; the group is joined first; the exit code is the tool's", () => {
        const c = withCpuProbes(v1, 1, "iperf3 -c x");
        expect(c).toMatch(/^\{ sleep 1; .*cpu-probe start.*; \} & iperf3 -c x; rc=\$\?; .*cpu-probe end.*; wait; exit \$rc$/);
        expect(inCgroup(v1, "x")).toBe("echo $$ > '/sys/fs/cgroup/cpuacct/cgroup.procs' && { x; }");
        expect(inCgroup(undefined, "x")).toBe("x");
        // The start probe reads the group last, the end probe first: the probes' own work stays outside the window.
        const start = cpuProbeCommand(v1, "start");
        const end = cpuProbeCommand(v1, "end");
        expect(start.indexOf("u=$(cat")).toBeGreaterThan(start.indexOf("k=$("));
        expect(end.indexOf("u=$(cat")).toBeLessThan(end.indexOf("k=$("));
        expect(onCpu(1, "x")).toBe("taskset -c 1 x");
    });

    it.skipIf(!existsSync(`${v1.dir}/cpuacct.usage`) || process.getuid?.() !== 0)(
        "on this machine (root: it makes a group): a busy loop in the group shows up as its CPU time, and every task's time includes it",
        () => {
            // A group of its own at the root, as the lab makes them (lab/cpuGroup.ts); removed at the end.
            const group = { dir: `${v1.dir}/cnitest-${process.pid}`, version: 1 as const };
            mkdirSync(group.dir);
            try {
                const loop = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done";
                const out = execFileSync("sh", ["-c", inCgroup(group, withCpuProbes(group, 0, loop))], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
                expect(out).toBe("");
                // Not in a ( … ) subshell: `$$` there is the parent shell's pid, so the subshell would stay outside.
                const r = execFileSync("sh", ["-c", `exec 2>&1; ${inCgroup(group, withCpuProbes(group, 0, loop))}`], { encoding: "utf8" });
                const w = parseCpuWindow(r);
                expect(w.cpuSeconds).toBeGreaterThan(0.01);
                expect(w.seconds).toBeGreaterThan(0);
                expect(w.machineCpuSeconds).toBeGreaterThanOrEqual(w.cpuSeconds - w.ksoftirqdSeconds - 0.001);
                expect(w.otherLoadCpus).toBeGreaterThanOrEqual(0);
                // The tool is a child the shell forks right after starting the probe in the background:
                // it must be in the group from its first instruction (it prints its own cgroup).
                for (let i = 0; i < 5; i++) {
                    const own = execFileSync("sh", ["-c", inCgroup(group, withCpuProbes(group, 0.2, "cat /proc/self/cgroup"))], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
                    expect(own, "the tool's own cgroup").toMatch(new RegExp(`cpuacct[^:]*:/cnitest-${process.pid}$`, "m"));
                }
            } finally {
                rmdirSync(group.dir);
            }
        },
    );
});

describe("fixed-rate tools", () => {
    it("iperf3 paces TCP with -b and sends UDP datagrams of -l bytes; sockperf under-load answers every message", () => {
        expect(iperf3ClientCommand({ host: "10.42.1.2", port: 5201, durationSeconds: 2, omitSeconds: 1, streams: 1, tcpBitrate: "1G" })).toBe(
            "timeout --foreground -k 5 18 iperf3 -c '10.42.1.2' -p 5201 -t 2 -O 1 -P 1 -b '1G' -J",
        );
        expect(iperf3ClientCommand({ host: "10.42.1.2", port: 5201, durationSeconds: 2, omitSeconds: 1, streams: 1, udpBitrate: "200M", length: 1400 })).toBe(
            "timeout --foreground -k 5 18 iperf3 -c '10.42.1.2' -p 5201 -t 2 -O 1 -P 1 -u -b '200M' -l 1400 -J",
        );
        expect(sockperfUnderLoadCommand({ ip: "10.42.1.2", port: 11111, durationSeconds: 2, messagesPerSecond: 5000 })).toBe(
            "timeout --foreground -k 5 17 sockperf under-load --tcp --full-rtt --reply-every 1 --mps 5000 -i '10.42.1.2' -p 11111 -t 2",
        );
    });

    it("the UDP cost window: whole-second runs of the duration, the fractional warm-up not counted", () => {
        expect(costUdpWarmupSeconds).toBe(0.3);
        expect([1, 2, 3].map(costUdpRunSeconds)).toEqual([1, 2, 3]);
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
