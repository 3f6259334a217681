import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ciliumStatusCommand } from "./cilium-status";
import {
    backgroundCommand,
    clockCommand,
    cpuSamplerCommand,
    environmentCommand,
    guestbookReadPath,
    guestbookWritePath,
    imdsCommand,
    inCgroup,
    iperf3ClientCommand,
    iperf3ServerCommand,
    k3sVersionCommand,
    onCpu,
    shellQuote,
    sockperfPingPongCommand,
    sockperfServerCommand,
    sockperfUnderLoadCommand,
    startAtCommand,
    stopCommand,
    tcpSocketsCommand,
    wrkCommand,
    withCpuProbes,
} from "./commands";
import { benchPodManifest, benchPodName } from "../sessions/aws-k3s";
import { containerPidCommand, inNetnsOfCommand, sandboxImageCommand } from "../sessions/pod-netns";
import { splitPgid } from "../sessions/shell";

describe("command lines (the exact text sent to every shell)", () => {
    it("iperf3: one-shot server, JSON client with -O warm-up, -P streams, UDP bitrate; all bounded by timeout", () => {
        expect(iperf3ServerCommand({ port: 5201, lifetimeSeconds: 60 })).toBe("timeout --foreground -k 5 60 iperf3 -s -1 -p 5201");
        expect(iperf3ClientCommand({ host: "10.42.1.7", port: 5201, durationSeconds: 10, omitSeconds: 2, streams: 8 })).toBe(
            "timeout --foreground -k 5 27 iperf3 -c '10.42.1.7' -p 5201 -t 10 -O 2 -P 8 -J",
        );
        expect(iperf3ClientCommand({ host: "10.42.1.7", port: 5201, durationSeconds: 10, omitSeconds: 2, streams: 1, udpBitrate: "1G" })).toBe(
            "timeout --foreground -k 5 27 iperf3 -c '10.42.1.7' -p 5201 -t 10 -O 2 -P 1 -u -b '1G' -J",
        );
    });

    it("sockperf: TCP ping-pong with full round-trip times", () => {
        expect(sockperfServerCommand({ ip: "10.42.0.5", port: 11111, lifetimeSeconds: 40 })).toBe("timeout --foreground -k 5 40 sockperf server --tcp -i '10.42.0.5' -p 11111");
        expect(sockperfPingPongCommand({ ip: "10.42.0.5", port: 11111, durationSeconds: 10 })).toBe("timeout --foreground -k 5 25 sockperf ping-pong --tcp --full-rtt -i '10.42.0.5' -p 11111 -t 10");
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
            ciliumStatus: ciliumStatusCommand(),
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

/**
 * Values from a targets file, a stack or the Kubernetes API reach root shells on nodes and in
 * namespaces. Each builder is given hostile text (and hostile text where a number belongs, as a
 * JSON file could deliver) and the command it builds is run by sh with the tools stubbed: the
 * canary file must never appear. POSIX Shell Command Language 2.2.2: nothing inside single
 * quotes is expanded, which is what shellQuote relies on.
 */
describe("hostile values never run (every builder quotes its strings and checks its numbers)", () => {
    const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), "bench-hostile-"));
    const canary = path.join(sandbox, "canary");
    const stubs = path.join(sandbox, "bin");
    fs.mkdirSync(stubs);
    for (const tool of ["timeout", "iperf3", "sockperf", "wrk", "ip", "taskset"]) fs.writeFileSync(path.join(stubs, tool), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const payloads = [
        `$(touch ${canary})`,
        `\`touch ${canary}\``,
        `x; touch ${canary}`,
        `x' ; touch ${canary}; '`,
        `x\ntouch ${canary}`,
        `x && touch ${canary}`,
        `x | touch ${canary}`,
        `$(touch\${IFS}${canary})`,
    ];
    const cgroup = (dir: string) => ({ dir, version: 2 as const });
    const strings: Record<string, (v: string) => string> = {
        "iperf3 host": (v) => iperf3ClientCommand({ host: v, port: 5201, durationSeconds: 1, omitSeconds: 0, streams: 1 }),
        "iperf3 udp bitrate": (v) => iperf3ClientCommand({ host: "10.0.0.1", port: 5201, durationSeconds: 1, omitSeconds: 0, streams: 1, udpBitrate: v }),
        "iperf3 tcp bitrate": (v) => iperf3ClientCommand({ host: "10.0.0.1", port: 5201, durationSeconds: 1, omitSeconds: 0, streams: 1, tcpBitrate: v }),
        "sockperf server ip": (v) => sockperfServerCommand({ ip: v, port: 11111, lifetimeSeconds: 1 }),
        "sockperf ping-pong ip": (v) => sockperfPingPongCommand({ ip: v, port: 11111, durationSeconds: 1 }),
        "sockperf under-load ip": (v) => sockperfUnderLoadCommand({ ip: v, port: 11111, durationSeconds: 1, messagesPerSecond: 10 }),
        "wrk url": (v) => wrkCommand({ url: `http://10.0.0.1/${v}`, durationSeconds: 1, connections: 1, threads: 1, requestTimeoutSeconds: 1 }),
        "environment peer": (v) => environmentCommand(v),
        "cgroup folder": (v) => inCgroup(cgroup(`${sandbox}/${v}`), "true"),
        "cpu probes' cgroup folder": (v) => withCpuProbes(cgroup(`${sandbox}/${v}`), 0, "true"),
    };
    const numbers: Record<string, (v: number) => string> = {
        "iperf3 port": (v) => iperf3ClientCommand({ host: "10.0.0.1", port: v, durationSeconds: 1, omitSeconds: 0, streams: 1 }),
        "iperf3 streams": (v) => iperf3ClientCommand({ host: "10.0.0.1", port: 5201, durationSeconds: 1, omitSeconds: 0, streams: v }),
        "iperf3 length": (v) => iperf3ClientCommand({ host: "10.0.0.1", port: 5201, durationSeconds: 1, omitSeconds: 0, streams: 1, length: v }),
        "iperf3 server port": (v) => iperf3ServerCommand({ port: v, lifetimeSeconds: 1 }),
        "sockperf port": (v) => sockperfServerCommand({ ip: "10.0.0.1", port: v, lifetimeSeconds: 1 }),
        "sockperf rate": (v) => sockperfUnderLoadCommand({ ip: "10.0.0.1", port: 11111, durationSeconds: 1, messagesPerSecond: v }),
        "wrk connections": (v) => wrkCommand({ url: "http://10.0.0.1/", durationSeconds: 1, connections: v, threads: 1, requestTimeoutSeconds: 1 }),
        "cpu": (v) => onCpu(v, "true"),
        "sampler count": (v) => cpuSamplerCommand(v),
        "probe delay": (v) => withCpuProbes(cgroup(`${sandbox}/g`), v, "true"),
        "stop pgid": (v) => stopCommand(v),
    };
    afterAll(() => fs.rmSync(sandbox, { recursive: true, force: true }));
    const runs = (text: string) => {
        fs.rmSync(canary, { force: true });
        spawnSync("sh", ["-c", text], { cwd: sandbox, env: { ...process.env, PATH: `${stubs}:${process.env.PATH}`, TMPDIR: sandbox }, timeout: 10_000 });
        return fs.existsSync(canary);
    };

    it.each(Object.keys(strings))("%s: quoted, so the shell runs none of it", (name) => {
        for (const payload of payloads) {
            expect(runs(strings[name](payload)), `${name} = ${JSON.stringify(payload)} ran`).toBe(false);
        }
    });

    it.each(Object.keys(numbers))("%s: text where a number belongs is refused before any shell sees it", (name) => {
        for (const payload of payloads) {
            expect(() => numbers[name](payload as unknown as number), `${name} = ${JSON.stringify(payload)}`).toThrow(/^\w+: ".*" is not a finite number/);
        }
        // The control: a real number is accepted.
        expect(numbers[name](2)).toMatch(/2/);
    });

    it("the stubs and the canary work: an unquoted substitution does create the file (negative control)", () => {
        expect(runs(`iperf3 -c ${payloads[0]}`)).toBe(true);
    });
});
