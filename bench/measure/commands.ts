/**
 * Command lines the runner sends to a shell: pure functions, args in, text out. The same text
 * goes over SSH to an EC2 node, over SSH and `nsenter` into a pod's network namespace
 * (pod-netns.ts), into `ip netns exec` in the lab, or to a local `sh -c` in the tests: only the
 * Shell differs.
 *
 * Every long-running tool is wrapped in `timeout` so that it dies on its own even when the
 * runner is killed with SIGKILL and no cleanup code runs.
 */
import * as path from "node:path";
import { shellQuote } from "../../components/nodeScripts";

// The same quoting as the node scripts get; re-exported for the runner's own callers.
export { shellQuote };

/**
 * A number as a shell word. Strings are always quoted (shellQuote); numbers go in bare, so each
 * is checked to be a finite number at run time too: a value that bypassed the types (a JSON
 * string where a port was meant) must not reach a root shell as text.
 */
export function shellNumber(value: number, name: string): string {
    if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`${name}: ${JSON.stringify(value)} is not a finite number (a command line takes it bare)`);
    return String(value);
}

/** Seconds a tool may outlive its planned duration before `timeout` kills it. */
export const toolGraceSeconds = 15;

/**
 * `timeout` with a hard kill 5 s after the TERM. `--foreground` keeps the tool in the caller's
 * process group: without it coreutils' timeout moves itself into a new group, and stopping the
 * caller's group (a server at the end of a test) would leave the tool running until it expires.
 */
export function bounded(seconds: number, command: string): string {
    return `timeout --foreground -k 5 ${shellNumber(Math.ceil(seconds), "seconds")} ${command}`;
}

/** Marker before the JSON line wrk's `done()` hook prints (wrk prints its own text too). */
export const wrkJsonMarker = "BENCH-JSON ";

/**
 * wrk Lua script: wrk itself prints only mean/stdev/max and a latency distribution without p60
 * and without the non-2xx count in machine-readable form; `done()` gets the full histogram
 * (wrk's SCRIPTING doc: summary.errors.status counts responses with status > 399).
 * Latencies are in microseconds.
 */
export function wrkReportScript(): string {
    return [
        "done = function(summary, latency, requests)",
        "  local p = function(q) return latency:percentile(q) end",
        "  local e = summary.errors",
        `  io.write(string.format('${wrkJsonMarker}{"requests":%d,"duration_us":%d,"bytes":%d,` +
            `"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},` +
            `"latency_us":{"mean":%f,"stdev":%f,"max":%d,"p50":%d,"p60":%d,"p90":%d,"p99":%d}}\\n',`,
        "    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,",
        "    latency.mean, latency.stdev, latency.max, p(50), p(60), p(90), p(99)))",
        "end",
        "",
    ].join("\n");
}

export interface WrkArgs {
    /** Full URL, e.g. http://10.0.1.5:30080/guestbook.php?cmd=get&key=guestbook */
    readonly url: string;
    readonly durationSeconds: number;
    /** Open connections (wrk -c). */
    readonly connections: number;
    /** Threads (wrk -t); at most `connections`. */
    readonly threads: number;
    /** Per-request timeout in seconds (wrk --timeout); slower responses count as timeouts. */
    readonly requestTimeoutSeconds: number;
    /** Request headers (wrk -H), e.g. "Connection: close" for a new connection per request. */
    readonly headers?: readonly string[];
}

/**
 * One wrk run whose last line is the JSON summary (`wrkJsonMarker`).
 *
 * The report script reaches wrk through a pipe on its stdin (`-s /dev/stdin`), not a file: a
 * temp file is left behind whenever the shell is killed before its `rm` (Ctrl-C or SIGTERM to
 * the process group, the runner's SIGKILL), and nothing can trap SIGKILL. wrk loads the script
 * once for its main Lua state and again for each thread (wg/wrk src/wrk.c, main():
 * `script_create(cfg.script, …)` before the thread loop, `t->L = script_create(…)` inside it);
 * through the pipe only that first load sees the text, the threads' loads read an empty chunk
 * and keep wrk's defaults. That is why the script may define only `done()`, which wrk calls on
 * the main state (`script_done(L, …)`): the test in bench/measure/wrk-interrupt.test.ts runs two threads.
 */
export function wrkCommand(args: WrkArgs): string {
    const connections = shellNumber(args.connections, "connections");
    const threads = Math.min(Number(shellNumber(args.threads, "threads")), args.connections);
    const headers = (args.headers ?? []).map((h) => ` -H ${shellQuote(h)}`).join("");
    return (
        `printf '%s' ${shellQuote(wrkReportScript())} | ` +
        bounded(
            args.durationSeconds + toolGraceSeconds,
            `wrk -t ${threads} -c ${connections} -d ${shellNumber(args.durationSeconds, "durationSeconds")}s` +
                ` --timeout ${shellNumber(args.requestTimeoutSeconds, "requestTimeoutSeconds")}s --latency${headers} -s /dev/stdin ${shellQuote(args.url)}`,
        )
    );
}

/** The guestbook API paths (upstream guestbook.php; docs/facts.md, "Guestbook (PHP + Redis)"). */
export const guestbookKey = "guestbook";
export function guestbookReadPath(): string {
    return `/guestbook.php?cmd=get&key=${guestbookKey}`;
}
/** A write of a constant value: the upstream UI appends to the list, which would grow without
 * bound over a benchmark and change the response size between runs. */
export function guestbookWritePath(value = "cni-bench"): string {
    return `/guestbook.php?cmd=set&key=${guestbookKey}&value=${encodeURIComponent(value)}`;
}

/**
 * The request header that makes every request a new connection. Apache answers a request that
 * carries it with `Connection: close` and closes; wrk 4.1.0 then reconnects for the next request
 * (wg/wrk src/wrk.c, response_complete(): `if (!http_should_keep_alive(parser)) reconnect_socket(…)`),
 * and curl opens a new connection for the next transfer (checked per transfer: %{num_connects}).
 */
export const connectionClose = "Connection: close";

/** Marker of each line `firstByteCommand` prints, one per connection. */
export const firstByteMarker = "first-byte";

export interface FirstByteArgs {
    /** Base URL; the query `?connection=1…N` is added so curl's URL globbing makes N transfers. */
    readonly url: string;
    /** Connections made one after the other. */
    readonly connections: number;
    /** Seconds each transfer may take (curl --max-time). */
    readonly requestTimeoutSeconds: number;
}

/**
 * `connections` requests, one at a time, each on a new connection (`Connection: close`), each
 * timed by curl from its start: `time_connect` (TCP handshake done) and `time_starttransfer`
 * (first response byte), in seconds with microsecond digits; `num_connects` (new connections the
 * transfer made) and `http_code` let the parser refuse a reused connection or a failed request
 * (curl(1), "--write-out" variables; curl 7.88). wrk cannot give this figure: its latency clock
 * starts when the request is written, after the handshake (wg/wrk 4.1.0 src/wrk.c,
 * socket_writeable(): `c->start = time_us()` once connected), and the Service proxy's per-connection
 * work (the nat chain walk on the SYN) happens inside the handshake.
 */
export function firstByteCommand(args: FirstByteArgs): string {
    const n = Number(shellNumber(args.connections, "connections"));
    const perTransfer = Number(shellNumber(args.requestTimeoutSeconds, "requestTimeoutSeconds"));
    const url = `${args.url.replace(/\/+$/, "")}/?connection=[1-${n}]`;
    return bounded(
        toolGraceSeconds + Math.min(n * perTransfer, 120),
        `curl -sS --max-time ${perTransfer} -o /dev/null -H ${shellQuote(connectionClose)} ` +
            `-w ${shellQuote(`${firstByteMarker} %{num_connects} %{http_code} %{time_connect} %{time_starttransfer}\n`)} ${shellQuote(url)}`,
    );
}

/** Joins a base URL (maybe with a path) and an absolute path. */
export function joinUrl(base: string, path: string): string {
    return base.replace(/\/+$/, "") + path;
}

export interface Iperf3ServerArgs {
    readonly port: number;
    /** Seconds after which the server is killed even if no client came. */
    readonly lifetimeSeconds: number;
}

/** A one-shot iperf3 server (`-1`: exits after one test, so nothing lingers). */
export function iperf3ServerCommand(args: Iperf3ServerArgs): string {
    return bounded(args.lifetimeSeconds, `iperf3 -s -1 -p ${shellNumber(args.port, "port")}`);
}

export interface Iperf3ClientArgs {
    readonly host: string;
    readonly port: number;
    readonly durationSeconds: number;
    /** Warm-up seconds iperf3 omits from its results (-O), as knb does. */
    readonly omitSeconds: number;
    /** Parallel streams (-P). */
    readonly streams: number;
    /** UDP at this target bitrate (iperf3 -b syntax, e.g. "1G"); TCP when undefined. */
    readonly udpBitrate?: string;
    /** TCP paced at this fixed rate (iperf3 -b applies to TCP too: iperf3(1) "--bitrate"); unlimited when undefined. */
    readonly tcpBitrate?: string;
    /** Bytes per write (iperf3 -l): the UDP datagram's payload. */
    readonly length?: number;
    /** Seconds between interval reports (iperf3 -i), for figures over part of the run. */
    readonly intervalSeconds?: number;
}

export function iperf3ClientCommand(args: Iperf3ClientArgs): string {
    const rate = args.udpBitrate !== undefined ? ` -u -b ${shellQuote(args.udpBitrate)}` : args.tcpBitrate !== undefined ? ` -b ${shellQuote(args.tcpBitrate)}` : "";
    const length = args.length !== undefined ? ` -l ${shellNumber(args.length, "length")}` : "";
    const interval = args.intervalSeconds !== undefined ? ` -i ${shellNumber(args.intervalSeconds, "intervalSeconds")}` : "";
    return bounded(
        args.durationSeconds + args.omitSeconds + toolGraceSeconds,
        `iperf3 -c ${shellQuote(args.host)} -p ${shellNumber(args.port, "port")} -t ${shellNumber(args.durationSeconds, "durationSeconds")} -O ${shellNumber(args.omitSeconds, "omitSeconds")} -P ${shellNumber(args.streams, "streams")}${rate}${length}${interval} -J`,
    );
}

export interface SockperfServerArgs {
    readonly ip: string;
    readonly port: number;
    readonly lifetimeSeconds: number;
}

/** sockperf server over TCP (the TCP_RR of k8s-netperf). */
export function sockperfServerCommand(args: SockperfServerArgs): string {
    return bounded(args.lifetimeSeconds, `sockperf server --tcp -i ${shellQuote(args.ip)} -p ${shellNumber(args.port, "port")}`);
}

export interface SockperfPingPongArgs {
    readonly ip: string;
    readonly port: number;
    readonly durationSeconds: number;
}

/** Ping-pong with round-trip times (--full-rtt): request/response latency, not half of it. */
export function sockperfPingPongCommand(args: SockperfPingPongArgs): string {
    return bounded(
        args.durationSeconds + toolGraceSeconds,
        `sockperf ping-pong --tcp --full-rtt -i ${shellQuote(args.ip)} -p ${shellNumber(args.port, "port")} -t ${shellNumber(args.durationSeconds, "durationSeconds")}`,
    );
}

export interface SockperfUnderLoadArgs extends SockperfPingPongArgs {
    /** Messages per second offered, whatever the path can do (sockperf --mps). */
    readonly messagesPerSecond: number;
}

/**
 * Latency at a fixed offered rate: `sockperf under-load --mps N`, every message answered
 * (`--reply-every 1`; its default answers one in 100) and timed round trip (--full-rtt). Unlike
 * ping-pong, which sends the next message the moment the reply arrives and so measures the
 * round trip of a saturated CPU, the offered load is the same on every path. sockperf discards
 * its own first 400 ms (its "Warm up time", printed as the "[Valid Duration]" line).
 */
export function sockperfUnderLoadCommand(args: SockperfUnderLoadArgs): string {
    return bounded(
        args.durationSeconds + toolGraceSeconds,
        `sockperf under-load --tcp --full-rtt --reply-every 1 --mps ${shellNumber(args.messagesPerSecond, "messagesPerSecond")} -i ${shellQuote(args.ip)} -p ${shellNumber(args.port, "port")} -t ${shellNumber(args.durationSeconds, "durationSeconds")}`,
    );
}

/**
 * Where the CPU time of everything a lab mode runs is counted: a control group of its own
 * (cgroup v1 `cpuacct.usage`, nanoseconds, or cgroup v2 `cpu.stat` `usage_usec`; kernel
 * Documentation/admin-guide/cgroup-v1/cpuacct.rst and cgroup-v2.rst "cpu.stat").
 */
export interface CpuCgroup {
    /** The group's directory, e.g. /sys/fs/cgroup/cpuacct/cnilab-1a2b3c-vxlan. */
    readonly dir: string;
    readonly version: 1 | 2;
}

/**
 * Moves the shell that runs `command` (and so all it starts) into `cgroup` first. The braces
 * matter: in `join && { probe; } & tool` the shell grammar makes `join && { probe; }` one
 * background list (POSIX Shell Command Language 2.9.3, "&" ends an AND-OR list), so the join
 * raced the tool's fork and the tool mostly stayed outside the group (measured: every iperf3
 * client of the lab's cost runs was in the root group).
 */
export function inCgroup(cgroup: CpuCgroup | undefined, command: string): string {
    return cgroup ? `echo $$ > ${shellQuote(`${cgroup.dir}/cgroup.procs`)} && { ${command}; }` : command;
}

/** Marker of each CPU probe line. */
export const cpuProbeMarker = "cpu-probe";

/**
 * The CPU time of `cgroup`'s parent group in nanoseconds. The lab makes its groups at the root
 * of the hierarchy (lab/cpuGroup.ts), whose usage counts every task on the machine: cgroup v1
 * `cpuacct.usage` (Documentation/admin-guide/cgroup-v1/cpuacct.rst), cgroup v2 `usage_usec` of
 * `cpu.stat` (Documentation/admin-guide/cgroup-v2.rst, "cpu.stat ... reported for the root too").
 */
function usageNsCommand(variable: string, cgroup: CpuCgroup, dir: string): string {
    return cgroup.version === 1 ? `${variable}=$(cat ${shellQuote(`${dir}/cpuacct.usage`)})` : `${variable}=$(( $(sed -n 's/^usage_usec //p' ${shellQuote(`${dir}/cpu.stat`)}) * 1000 ))`;
}

/**
 * One line on stderr: `cpu-probe <label> <unix time> <cgroup usage ns> <ksoftirqd ns>/<threads>
 * <every task's usage ns>`. ksoftirqd's CPU time is added because softirq work the kernel defers to ksoftirqd is charged to those
 * threads, not to the group; softirq run on the way out of a system call is charged to the task
 * it interrupted (tick accounting, kernel/sched/cputime.c), which is in the group. Every task's
 * usage (the parent group, in nanoseconds like the others) tells how busy the rest of the
 * machine was: /proc/stat is no use for that here, its tick-sampled jiffies alias with the
 * tools' timer-driven bursts (measured: 0.8 s of "softirq" in a 1.5-s window in which every
 * task together ran 0.1 s; docs/lab.md "Other load").
 */
export function cpuProbeCommand(cgroup: CpuCgroup, label: "start" | "end"): string {
    const usage = usageNsCommand("u", cgroup, cgroup.dir);
    // schedstat's first field is the thread's time on a CPU in nanoseconds (Documentation/scheduler/sched-stats.rst),
    // exact where /proc/<pid>/stat's utime+stime are 10 ms clock ticks.
    // pgrep, not a glob over /proc: a process that exits mid-scan must not end the scan (mawk stops at a file it cannot open).
    const ksoftirqd = `k=$(for p in $(pgrep '^ksoftirqd/'); do cut -d' ' -f1 /proc/$p/schedstat; done | awk '{t += $1; n++} END {printf "%.0f/%d", t, n}')`;
    const others = `${ksoftirqd}; t=$(date +%s.%N); ${usageNsCommand("m", cgroup, path.posix.dirname(cgroup.dir))}`;
    const reads = label === "start" ? `${others}; ${usage}` : `${usage}; ${others}`;
    return `${reads}; echo "${cpuProbeMarker} ${label} $t $u $k $m" >&2`;
}

/**
 * A tool run between two CPU probes: the first `startAfterSeconds` after the tool starts (the
 * warm-up the tool itself discards, iperf3 -O), the second when it has exited.
 */
export function withCpuProbes(cgroup: CpuCgroup, startAfterSeconds: number, command: string): string {
    const start = Number(shellNumber(startAfterSeconds, "startAfterSeconds")) > 0 ? `{ sleep ${startAfterSeconds}; ${cpuProbeCommand(cgroup, "start")}; } & ` : `${cpuProbeCommand(cgroup, "start")}; `;
    return `${start}${command}; rc=$?; ${cpuProbeCommand(cgroup, "end")}; wait; exit $rc`;
}

/** Marker of the lines `withTcpCounters` prints. */
export const tcpCountersMarker = "tcp-counters";

/**
 * `command` between two snapshots of the kernel's TcpExt counters, printed to stderr (the names
 * line and the values line of /proc/net/netstat, each after the marker and "before" or "after");
 * its exit status kept. /proc/net is the reading process's network namespace (proc(5)), so in the
 * lab's load generator the counters are its own.
 */
export function withTcpCounters(command: string): string {
    const snapshot = (when: "before" | "after") => `sed -n 's/^TcpExt:/${tcpCountersMarker} ${when} TcpExt:/p' /proc/net/netstat >&2`;
    return `${snapshot("before")}; ${command}; rc=$?; ${snapshot("after")}; (exit $rc)`;
}

/** Runs `command` on one CPU (taskset(1)), for the pinned-CPU variant of the lab. */
export function onCpu(cpu: number | undefined, command: string): string {
    return cpu === undefined ? command : `taskset -c ${shellNumber(cpu, "cpu")} ${command}`;
}

/** Marker of each CPU sample line. */
export const cpuSampleMarker = "cpu-sample";

/**
 * Prints the aggregate `cpu` line of /proc/stat once a second, `count` times, each prefixed with
 * the wall-clock time: CPU use is the difference between two samples (proc(5)). Bounded by its
 * count (one second per sample), so it needs no `timeout`.
 */
export function cpuSamplerCommand(count: number): string {
    return (
        `i=0; while [ $i -lt ${shellNumber(count, "count")} ]; do echo "${cpuSampleMarker} $(date +%s.%N) $(head -n 1 /proc/stat)"; ` +
        `i=$((i+1)); if [ $i -lt ${shellNumber(count, "count")} ]; then sleep 1; fi; done`
    );
}

/**
 * Key=value facts about the machine or pod the shell runs in. MTU is measured on the path to
 * `peerIp` (pods: eth0; nodes: the NIC), not taken from configuration: `route=` is the kernel's
 * route to the peer and `link=` the interface it leaves by, both from netlink (`ip -o`), which
 * answers for the network namespace the shell is in. sysfs would not: `nsenter --net` enters
 * the network namespace only, /sys stays the node's (iproute2's `ip netns exec` remounts it,
 * lib/namespace.c netns_switch), so /sys/class/net/eth0 in a pod is the node's eth0.
 * parseMtus (parse.ts) reads the figures. printf, not echo: dash's echo would expand the
 * backslashes `ip -o` puts where its lines break.
 */
export function environmentCommand(peerIp: string): string {
    return [
        `echo "kernel=$(uname -r)"`,
        `echo "cpus=$(getconf _NPROCESSORS_ONLN)"`,
        `echo "clkTck=$(getconf CLK_TCK)"`,
        `route=$(ip -o route get ${shellQuote(peerIp)} 2>/dev/null)`,
        `dev=$(printf '%s\\n' "$route" | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')`,
        `[ -n "$dev" ] || dev=eth0`,
        `printf 'interface=%s\\n' "$dev"`,
        `printf 'route=%s\\n' "$route"`,
        `printf 'link=%s\\n' "$(ip -o link show dev "$dev" 2>/dev/null)"`,
    ].join("; ");
}

/**
 * k3s's version line on a node (`k3s version v1.31.4+k3s1 (…)`), or "k3s version unknown". The
 * test is on the captured text: a pipeline's status is its last command's (`head`, which
 * succeeds), so `k3s --version | head || echo …` never reaches the fallback (POSIX sh, Pipelines).
 */
export function k3sVersionCommand(): string {
    return `v=$(k3s --version 2>/dev/null | head -n 1); if [ -n "$v" ]; then echo "$v"; else echo 'k3s version unknown'; fi`;
}

/** Instance type and AZ from IMDSv2 (the stacks require tokens: docs/facts.md, "AWS", Hardening). Only
 * ever sent to EC2 nodes: 169.254.169.254 is the instance's own metadata service. */
export function imdsCommand(): string {
    const base = "http://169.254.169.254/latest";
    return (
        `t=$(curl -sf -m 2 -X PUT ${base}/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60'); ` +
        `echo "instanceType=$(curl -sf -m 2 -H "X-aws-ec2-metadata-token: $t" ${base}/meta-data/instance-type)"; ` +
        `echo "availabilityZone=$(curl -sf -m 2 -H "X-aws-ec2-metadata-token: $t" ${base}/meta-data/placement/availability-zone)"`
    );
}

/** Wraps a background command for remote shells (SSH, and nsenter over SSH): the first stdout line
 * names the process group, so `stopCommand` can end it and everything it started. */
export function backgroundCommand(command: string): string {
    return `setsid -w sh -c ${shellQuote(`echo "bench-pgid $$"; exec sh -c ${shellQuote(command)}`)}`;
}

export const backgroundPgidPattern = /^bench-pgid (\d+)$/m;

/**
 * Ends a process group started by `backgroundCommand` (TERM, then KILL if still there after 2 s).
 * No `--` before the group: dash's builtin kill (Debian/Ubuntu /bin/sh) rejects it.
 */
export function stopCommand(pgid: number): string {
    shellNumber(pgid, "pgid");
    return (
        `kill -TERM -${pgid} 2>/dev/null || exit 0; ` + `n=0; while [ $n -lt 10 ]; do kill -0 -${pgid} 2>/dev/null || exit 0; sleep 0.2; n=$((n+1)); done; ` + `kill -KILL -${pgid} 2>/dev/null; true`
    );
}

/** Marker of the line `startAtCommand` prints (to stderr) when its command really starts. */
export const startStampMarker = "bench-start";

/** The shell's wall clock, seconds since the epoch with nanoseconds (for `startAtCommand`). */
export function clockCommand(): string {
    return "date +%s.%N";
}

/**
 * Sleeps until the wall-clock time `epochSeconds`, prints `bench-start <time>` to stderr (stdout
 * stays the tool's: iperf3 -J prints JSON there), then execs `command`. Commands started through
 * separate execs on one node then begin together, to the node clock's resolution, and each says
 * when it did.
 */
export function startAtCommand(epochSeconds: number, command: string): string {
    return (
        `d=$(awk -v t=${Number(shellNumber(epochSeconds, "epochSeconds")).toFixed(3)} -v n="$(date +%s.%N)" 'BEGIN { d = t - n; if (d > 0) printf "%.3f", d; else printf "0" }'); ` +
        `sleep "$d"; echo "${startStampMarker} $(date +%s.%N)" >&2; exec ${command}`
    );
}

/** The kernel's TCP socket tables of the shell's network namespace (proc(5): /proc/net/tcp, tcp6). */
export function tcpSocketsCommand(): string {
    return "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null";
}
