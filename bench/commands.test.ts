import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
    backgroundCommand,
    clockCommand,
    cpuSamplerCommand,
    environmentCommand,
    guestbookReadPath,
    guestbookWritePath,
    imdsCommand,
    iperf3ClientCommand,
    iperf3ServerCommand,
    k3sVersionCommand,
    shellQuote,
    sockperfPingPongCommand,
    sockperfServerCommand,
    startAtCommand,
    stopCommand,
    tcpSocketsCommand,
    wrkCommand,
} from "./commands";
import { benchPodManifest, benchPodName } from "./aws-k3s";
import { containerPidCommand, inNetnsOfCommand, sandboxImageCommand } from "./pod-netns";
import { splitPgid } from "./shell";

describe("command lines (the exact text sent to every shell)", () => {
    it("iperf3: one-shot server, JSON client with -O warm-up, -P streams, UDP bitrate; all bounded by timeout", () => {
        expect(iperf3ServerCommand({ port: 5201, lifetimeSeconds: 60 })).toBe("timeout --foreground -k 5 60 iperf3 -s -1 -p 5201");
        expect(iperf3ClientCommand({ host: "10.42.1.7", port: 5201, durationSeconds: 10, omitSeconds: 2, streams: 8 })).toBe(
            "timeout --foreground -k 5 27 iperf3 -c 10.42.1.7 -p 5201 -t 10 -O 2 -P 8 -J",
        );
        expect(iperf3ClientCommand({ host: "10.42.1.7", port: 5201, durationSeconds: 10, omitSeconds: 2, streams: 1, udpBitrate: "1G" })).toBe(
            "timeout --foreground -k 5 27 iperf3 -c 10.42.1.7 -p 5201 -t 10 -O 2 -P 1 -u -b 1G -J",
        );
    });

    it("sockperf: TCP ping-pong with full round-trip times", () => {
        expect(sockperfServerCommand({ ip: "10.42.0.5", port: 11111, lifetimeSeconds: 40 })).toBe("timeout --foreground -k 5 40 sockperf server --tcp -i 10.42.0.5 -p 11111");
        expect(sockperfPingPongCommand({ ip: "10.42.0.5", port: 11111, durationSeconds: 10 })).toBe(
            "timeout --foreground -k 5 25 sockperf ping-pong --tcp --full-rtt -i 10.42.0.5 -p 11111 -t 10",
        );
    });

    it("wrk: the Lua report script comes through a pipe (no file to leave behind), the URL is quoted (it contains &)", () => {
        const cmd = wrkCommand({ url: "http://lb.example/guestbook.php?cmd=get&key=guestbook", durationSeconds: 10, connections: 64, threads: 4, requestTimeoutSeconds: 10 });
        expect(cmd).toMatch(/^printf '%s' 'done = function\(summary, latency, requests\)\n/);
        expect(cmd).toContain(`| timeout --foreground -k 5 25 wrk -t 4 -c 64 -d 10s --timeout 10s --latency -s /dev/stdin 'http://lb.example/guestbook.php?cmd=get&key=guestbook'`);
        expect(cmd).not.toMatch(/mktemp|\/tmp/);
    });

    it("the guestbook API paths of the upstream sample", () => {
        expect(guestbookReadPath()).toBe("/guestbook.php?cmd=get&key=guestbook");
        expect(guestbookWritePath("a b&c")).toBe("/guestbook.php?cmd=set&key=guestbook&value=a%20b%26c");
    });

    it("shellQuote survives single quotes", () => {
        expect(execFileSync("sh", ["-c", `printf '%s' ${shellQuote("it's a 'test'")}`], { encoding: "utf8" })).toBe("it's a 'test'");
    });

    it("background commands report their process group and stop by it", () => {
        expect(splitPgid("bench-pgid 4242\nhello\n")).toEqual({ pgid: 4242, stdout: "hello\n" });
        expect(stopCommand(4242)).toBe(
            "kill -TERM -4242 2>/dev/null || exit 0; n=0; while [ $n -lt 10 ]; do kill -0 -4242 2>/dev/null || exit 0; sleep 0.2; n=$((n+1)); done; kill -KILL -4242 2>/dev/null; true",
        );
        const out = execFileSync("sh", ["-c", backgroundCommand("echo ran")], { encoding: "utf8" });
        expect(out).toMatch(/^bench-pgid \d+\nran\n$/);
    });

    it("every generated shell text passes shellcheck (POSIX sh)", () => {
        const scripts = {
            wrk: wrkCommand({ url: "http://x/?a=1&b=2", durationSeconds: 1, connections: 1, threads: 1, requestTimeoutSeconds: 1 }),
            cpu: cpuSamplerCommand(3),
            environment: environmentCommand("10.0.0.2"),
            imds: imdsCommand(),
            background: backgroundCommand("iperf3 -s -1 -p 5201"),
            stop: stopCommand(12),
            sandboxImage: sandboxImageCommand(),
            containerPid: containerPidCommand("containerd://0123456789abcdef"),
            inPodNetns: inNetnsOfCommand(4242, "iperf3 -s -1 -p 5201"),
            startAt: startAtCommand(1_800_000_000.5, "iperf3 -c 10.0.0.1 -J"),
            tcpSockets: tcpSocketsCommand(),
            clock: clockCommand(),
            k3sVersion: k3sVersionCommand(),
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
});

describe("measurement pods", () => {
    it("are pause pods pinned to a node, labelled for cleanup, bounded in life, without probes", () => {
        const pod = benchPodManifest({ name: "cni-bench-ab12cd-net-n1-0", nodeName: "vxlan-server", runId: "ab12cd", role: "net", image: "rancher/mirrored-pause:3.6" });
        expect(pod.spec!.nodeName).toBe("vxlan-server");
        expect(pod.spec!.hostNetwork).toBeUndefined(); // host-network endpoints are the node itself, no pod
        expect(pod.metadata!.labels).toEqual({ "app.kubernetes.io/managed-by": "cni-bench", "cni-bench/run": "ab12cd", "cni-bench/role": "net" });
        expect(pod.spec!.activeDeadlineSeconds).toBeGreaterThan(0);
        expect(pod.spec!.containers).toEqual([{ name: "netns", image: "rancher/mirrored-pause:3.6", imagePullPolicy: "Never" }]);
        expect(benchPodName("ab12cd", "scale", 1, 49)).toBe("cni-bench-ab12cd-scale-n2-49");
    });
});
