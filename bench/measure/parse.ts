/**
 * Parsers for the tools' own output. Each takes the full stdout and returns numbers in the
 * units the report uses, or throws an error quoting the part it could not read.
 */
import { cpuProbeMarker, cpuSampleMarker, firstByteMarker, tcpCountersMarker, wrkJsonMarker } from "./commands";

export interface HttpResult {
    readonly requests: number;
    readonly durationSeconds: number;
    readonly requestsPerSecond: number;
    /** Socket errors: connect, read, write, timeout. */
    readonly socketErrors: number;
    /** Responses with a status above 399 (wrk's `errors.status`). */
    readonly non2xx: number;
    /** Latency in milliseconds. */
    readonly latencyMs: { readonly mean: number; readonly p50: number; readonly p60: number; readonly p90: number; readonly p99: number; readonly max: number };
}

function excerpt(text: string): string {
    const t = text.trim();
    return t.length > 300 ? `…${t.slice(-300)}` : t || "(empty output)";
}

/** Reads the JSON line printed by `wrkReportScript`. */
export function parseWrk(stdout: string): HttpResult {
    const line = stdout.split("\n").find((l) => l.startsWith(wrkJsonMarker));
    if (!line) throw new Error(`wrk output has no "${wrkJsonMarker.trim()}" line (did the Lua script run?): ${excerpt(stdout)}`);
    const j = JSON.parse(line.slice(wrkJsonMarker.length));
    const durationSeconds = j.duration_us / 1e6;
    const e = j.errors;
    const ms = (us: number) => us / 1000;
    return {
        requests: j.requests,
        durationSeconds,
        requestsPerSecond: durationSeconds > 0 ? j.requests / durationSeconds : 0,
        socketErrors: e.connect + e.read + e.write + e.timeout,
        non2xx: e.status,
        latencyMs: {
            mean: ms(j.latency_us.mean),
            p50: ms(j.latency_us.p50),
            p60: ms(j.latency_us.p60),
            p90: ms(j.latency_us.p90),
            p99: ms(j.latency_us.p99),
            max: ms(j.latency_us.max),
        },
    };
}

/** The nearest-rank percentile (q in 0–100) of `xs`: the smallest value with at least q % of the values at or below it. */
export function nearestRank(xs: readonly number[], q: number): number {
    if (xs.length === 0) throw new Error("a percentile of no values");
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.max(0, Math.ceil((q / 100) * sorted.length) - 1)];
}

export interface FirstByteResult {
    /** Transfers curl reported (each on its own new connection). */
    readonly connections: number;
    /** Transfers without a response, or with a status above 399 (wrk's `errors.status` rule). */
    readonly failed: number;
    /** Milliseconds from the start to the end of the TCP handshake, of the answered transfers. */
    readonly connectMs: { readonly p50: number; readonly p99: number };
    /** Milliseconds from the start to the first response byte, of the answered transfers. */
    readonly firstByteMs: { readonly p50: number; readonly p99: number };
}

/**
 * Reads `firstByteCommand`'s lines. A transfer that reused a connection (num_connects 0) is an
 * error, not a sample: the figure would no longer be a new connection's.
 */
export function parseFirstByte(stdout: string): FirstByteResult {
    const lines = stdout.split("\n").filter((l) => l.startsWith(`${firstByteMarker} `));
    if (lines.length === 0) throw new Error(`curl printed no "${firstByteMarker}" line: ${excerpt(stdout)}`);
    const connect: number[] = [];
    const firstByte: number[] = [];
    let failed = 0;
    for (const line of lines) {
        const [, connects, code, tConnect, tFirst] = line.trim().split(/\s+/);
        const values = [Number(connects), Number(code), Number(tConnect), Number(tFirst)];
        if (values.some((v) => !Number.isFinite(v))) throw new Error(`curl line does not parse: ${JSON.stringify(line)}`);
        const status = values[1];
        if (status === 0 || status > 399) {
            failed++;
            continue;
        }
        if (values[0] !== 1) throw new Error(`curl reused a connection (num_connects ${connects}): every transfer must open its own; line ${JSON.stringify(line)}`);
        connect.push(values[2] * 1000);
        firstByte.push(values[3] * 1000);
    }
    if (firstByte.length === 0) throw new Error(`none of curl's ${lines.length} transfers was answered: ${excerpt(stdout)}`);
    return {
        connections: lines.length,
        failed,
        connectMs: { p50: nearestRank(connect, 50), p99: nearestRank(connect, 99) },
        firstByteMs: { p50: nearestRank(firstByte, 50), p99: nearestRank(firstByte, 99) },
    };
}

export interface ThroughputResult {
    readonly protocol: "TCP" | "UDP";
    readonly streams: number;
    /** Received bits per second (what arrived, not what was offered). */
    readonly bitsPerSecond: number;
    readonly gbps: number;
    /** TCP retransmits by the sender (undefined for UDP or when the kernel does not say). */
    readonly retransmits?: number;
    readonly jitterMs?: number;
    readonly lostPercent?: number;
    /** Seconds measured after the omitted warm-up. */
    readonly seconds: number;
    /** Bytes received in those seconds. */
    readonly bytes: number;
    /** UDP: datagrams the client sent in those seconds. */
    readonly packetsSent?: number;
}

/** Reads `iperf3 -J` output (iperf 3.7+ layout; UDP from `sum_received` when present, else `sum`). */
export function parseIperf3(stdout: string): ThroughputResult {
    const start = stdout.indexOf("{");
    if (start < 0) throw new Error(`iperf3 printed no JSON: ${excerpt(stdout)}`);
    let j: any;
    try {
        j = JSON.parse(stdout.slice(start));
    } catch (err) {
        throw new Error(`iperf3 JSON does not parse (${(err as Error).message}): ${excerpt(stdout)}`);
    }
    if (j.error) throw new Error(`iperf3 failed: ${j.error}`);
    const protocol: "TCP" | "UDP" = j.start?.test_start?.protocol === "UDP" ? "UDP" : "TCP";
    const streams = j.start?.test_start?.num_streams ?? 1;
    if (protocol === "TCP") {
        const received = j.end?.sum_received;
        if (!received) throw new Error(`iperf3 TCP JSON has no end.sum_received: ${excerpt(stdout)}`);
        return {
            protocol,
            streams,
            bitsPerSecond: received.bits_per_second,
            gbps: received.bits_per_second / 1e9,
            retransmits: j.end.sum_sent?.retransmits,
            seconds: received.seconds,
            bytes: received.bytes,
        };
    }
    const sum = j.end?.sum_received ?? j.end?.sum;
    if (!sum) throw new Error(`iperf3 UDP JSON has no end.sum: ${excerpt(stdout)}`);
    return {
        protocol,
        streams,
        bitsPerSecond: sum.bits_per_second,
        gbps: sum.bits_per_second / 1e9,
        jitterMs: sum.jitter_ms,
        lostPercent: sum.lost_percent,
        seconds: sum.seconds,
        bytes: sum.bytes,
        // The sender's count (end.sum); the receiver's sum_received counts what arrived.
        packetsSent: j.end?.sum?.packets,
    };
}

/**
 * UDP datagrams the iperf3 client sent in the interval reports that start at or after `fromSeconds`
 * (`iperf3 -J -i …`: `intervals[].sum` with start, end and packets, on the test's own clock).
 */
export function iperf3PacketsSentFrom(stdout: string, fromSeconds: number): { packets: number; seconds: number } {
    const j = JSON.parse(stdout.slice(stdout.indexOf("{")));
    const intervals: { start: number; end: number; packets?: number }[] = (j.intervals ?? []).map((i: { sum: { start: number; end: number; packets?: number } }) => i.sum);
    const window = intervals.filter((i) => i.start >= fromSeconds - 1e-6);
    if (window.length === 0 || window.some((i) => typeof i.packets !== "number")) {
        throw new Error(`iperf3 JSON has no UDP interval reports from ${fromSeconds} s on: ${excerpt(stdout)}`);
    }
    return { packets: window.reduce((a, i) => a + i.packets!, 0), seconds: window[window.length - 1].end - window[0].start };
}

export interface LatencyResult {
    readonly observations: number;
    /** Round-trip times in microseconds. */
    readonly averageUs: number;
    readonly p50Us: number;
    readonly p90Us: number;
    readonly p99Us: number;
    readonly maxUs: number;
}

/** Reads `sockperf ping-pong` text output (sockperf 3.x), ignoring its ANSI colours. */
export function parseSockperf(stdout: string): LatencyResult {
    // eslint-disable-next-line no-control-regex
    const text = stdout.replace(/\u001b\[[0-9;]*m/g, "");
    const num = (re: RegExp, what: string): number => {
        const m = re.exec(text);
        if (!m) throw new Error(`sockperf output has no ${what}: ${excerpt(text)}`);
        return Number(m[1]);
    };
    return {
        observations: num(/Total (\d+) observations/, "observation count"),
        averageUs: num(/avg-(?:latency|rtt)=([\d.]+)/, "average"),
        p50Us: num(/percentile 50\.000 =\s*([\d.]+)/, "50th percentile"),
        p90Us: num(/percentile 90\.000 =\s*([\d.]+)/, "90th percentile"),
        p99Us: num(/percentile 99\.000 =\s*([\d.]+)/, "99th percentile"),
        maxUs: num(/<MAX> observation =\s*([\d.]+)/, "maximum"),
    };
}

/** One /proc/stat `cpu` line with its wall-clock time. */
export interface CpuSample {
    readonly time: number;
    /** Jiffies spent busy (everything but idle and iowait). */
    readonly busy: number;
    readonly total: number;
}

/** Reads the lines of `cpuSamplerCommand`. */
export function parseCpuSamples(stdout: string): CpuSample[] {
    const samples: CpuSample[] = [];
    for (const line of stdout.split("\n")) {
        if (!line.startsWith(cpuSampleMarker)) continue;
        const fields = line.trim().split(/\s+/);
        // cpu-sample <time> cpu user nice system idle iowait irq softirq steal guest guest_nice
        const time = Number(fields[1]);
        const jiffies = fields.slice(3, 11).map(Number); // guest time is already inside user (proc(5))
        if (fields[2] !== "cpu" || jiffies.length < 5 || jiffies.some((n) => !Number.isFinite(n))) {
            throw new Error(`CPU sample line is not "${cpuSampleMarker} <time> cpu <jiffies…>": ${line}`);
        }
        const total = jiffies.reduce((a, b) => a + b, 0);
        const idle = jiffies[3] + (jiffies[4] ?? 0);
        samples.push({ time, busy: total - idle, total });
    }
    return samples;
}

/**
 * CPU-seconds spent busy between the first sample at or after `from` and the last sample at or
 * before `to` (unix seconds). `clkTck` is USER_HZ (getconf CLK_TCK, 100 on Linux).
 */
export function busyCpuSeconds(samples: readonly CpuSample[], clkTck: number, from = -Infinity, to = Infinity): number | undefined {
    const window = samples.filter((s) => s.time >= from && s.time <= to);
    if (window.length < 2) return undefined;
    return (window[window.length - 1].busy - window[0].busy) / clkTck;
}

/**
 * Average busy CPUs ("cores") between the first sample at or after `from` and the last one:
 * busy CPU-seconds over the wall-clock seconds between those samples. A rate, so that the
 * sampling grid (whole seconds) does not shorten the window a cost is divided by.
 */
export function busyCpuRate(samples: readonly CpuSample[], clkTck: number, from = -Infinity): number | undefined {
    const window = samples.filter((s) => s.time >= from);
    if (window.length < 2) return undefined;
    const seconds = window[window.length - 1].time - window[0].time;
    if (!(seconds > 0)) return undefined;
    return (window[window.length - 1].busy - window[0].busy) / clkTck / seconds;
}

/** key=value lines (from `environmentCommand`, `imdsCommand`). */
export function parseKeyValues(stdout: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
        const m = /^([A-Za-z][\w]*)=(.*)$/.exec(line.trim());
        if (m) out[m[1]] = m[2];
    }
    return out;
}

/** The MTU on the path to a peer, from `environmentCommand`'s `link=` and `route=` lines. */
export interface PathMtu {
    /** The interface that carries traffic to the peer. */
    readonly iface: string;
    /** What a packet to the peer may measure: it has to fit both the route and the link, so the
     * smaller of the two (the link's when the route carries no MTU). */
    readonly mtu: number;
    /** The interface's own MTU. */
    readonly linkMtu: number;
    /** The route's `mtu` metric, or a path MTU the kernel learned for the peer (`cache expires …
     * mtu N`); undefined when the route carries none. Cilium sets it on every pod route
     * (plugins/cilium-cni/cmd/cmd.go: the veth gets the device MTU, the routes RouteMTU). */
    readonly routeMtu?: number;
}

/**
 * The MTUs in `ip -o link show dev X` ("3: eth0@if7: <…> mtu 8951 qdisc …") and `ip -o route
 * get PEER` ("… dev eth0 src … uid 0 \    cache mtu 8951", or "mtu lock 1400"): iproute2
 * ip/ipaddress.c prints the link's "mtu %u" after its flags, ip/iproute.c prints each route
 * metric as " <name>[ lock] <value>". Throws when the link's MTU is not there: a run must not
 * record an MTU of 0.
 */
export function parseMtus(kv: Readonly<Record<string, string>>): PathMtu {
    const iface = kv.interface ?? "unknown";
    const link = /> mtu (\d+) /.exec(kv.link ?? "");
    if (!link) throw new Error(`no MTU for interface ${iface}: \`ip -o link show dev ${iface}\` printed ${JSON.stringify(kv.link ?? "")}`);
    const linkMtu = Number(link[1]);
    const route = / mtu (?:lock )?(\d+)\b/.exec(kv.route ?? "");
    const routeMtu = route ? Number(route[1]) : undefined;
    return { iface, mtu: routeMtu !== undefined ? Math.min(linkMtu, routeMtu) : linkMtu, linkMtu, routeMtu };
}

/** One `cpuProbeCommand` line. */
export interface CpuProbe {
    readonly label: string;
    readonly time: number;
    /** CPU time of the lab mode's control group, nanoseconds. */
    readonly groupNs: number;
    /** ksoftirqd threads' time on a CPU, nanoseconds, and how many threads were read. */
    readonly ksoftirqdNs: number;
    readonly ksoftirqdThreads: number;
    /** Every task on the machine (the root group), nanoseconds. */
    readonly machineNs: number;
}

/** CPU spent between the "start" and "end" probes of `withCpuProbes`, in seconds. */
export interface CpuWindow {
    readonly seconds: number;
    /** The mode's group plus ksoftirqd: the work the datapath and its tools did. */
    readonly cpuSeconds: number;
    /** Of which ksoftirqd. */
    readonly ksoftirqdSeconds: number;
    /** Every task on the machine, the group and ksoftirqd included. */
    readonly machineCpuSeconds: number;
    /**
     * CPUs' worth of other work running beside the measured one (every task but the group and
     * ksoftirqd, per second of the window): on shared cores it makes the same work dearer.
     */
    readonly otherLoadCpus: number;
}

/** Reads the two probe lines of `withCpuProbes` (from stderr). */
export function parseCpuWindow(stderr: string): CpuWindow {
    const probes = new Map<string, CpuProbe>();
    for (const line of stderr.split("\n")) {
        if (!line.startsWith(cpuProbeMarker + " ")) continue;
        const f = line.trim().split(/\s+/);
        // cpu-probe <label> <time> <group ns> <ksoftirqd ns>/<threads> <machine ns>
        const [ksoftirqdNs, threads] = (f[4] ?? "").split("/").map(Number);
        const numbers = [Number(f[2]), Number(f[3]), ksoftirqdNs, threads, Number(f[5])];
        if (f.length !== 6 || numbers.some((n) => !Number.isFinite(n))) {
            throw new Error(`CPU probe line is not "${cpuProbeMarker} <label> <time> <ns> <ns>/<threads> <ns>": ${line}`);
        }
        if (!(threads > 0)) throw new Error(`CPU probe found no ksoftirqd thread: ${line}`);
        probes.set(f[1], { label: f[1], time: Number(f[2]), groupNs: Number(f[3]), ksoftirqdNs, ksoftirqdThreads: threads, machineNs: Number(f[5]) });
    }
    const start = probes.get("start");
    const end = probes.get("end");
    if (!start || !end) throw new Error(`CPU probes missing (need "start" and "end"): ${excerpt(stderr)}`);
    // A window that runs backwards or lost a thread would give a cost that is not one.
    if (!(end.time > start.time) || end.groupNs < start.groupNs || end.ksoftirqdNs < start.ksoftirqdNs || end.machineNs < start.machineNs || end.ksoftirqdThreads !== start.ksoftirqdThreads) {
        throw new Error(`CPU probes do not bound the run (start ${start.time}, end ${end.time}; ksoftirqd threads ${start.ksoftirqdThreads} → ${end.ksoftirqdThreads}): ${excerpt(stderr)}`);
    }
    const seconds = end.time - start.time;
    const ksoftirqdSeconds = (end.ksoftirqdNs - start.ksoftirqdNs) / 1e9;
    const cpuSeconds = (end.groupNs - start.groupNs) / 1e9 + ksoftirqdSeconds;
    const machineCpuSeconds = (end.machineNs - start.machineNs) / 1e9;
    // The probes read the counters one after another, so the machine's share can come out a
    // hair under the group's: never a negative load.
    return { seconds, cpuSeconds, ksoftirqdSeconds, machineCpuSeconds, otherLoadCpus: Math.max(0, machineCpuSeconds - cpuSeconds) / seconds };
}

/**
 * How much the TcpExt counter `name` (e.g. TCPSynRetrans) grew between `withTcpCounters`'s two
 * snapshots. /proc/net/netstat holds each group as a line of names and a line of values.
 */
export function tcpCounterDelta(stderr: string, name: string): number {
    const value = (when: "before" | "after") => {
        const lines = stderr
            .split("\n")
            .filter((l) => l.startsWith(`${tcpCountersMarker} ${when} TcpExt:`))
            .map((l) => l.trim().split(/\s+/).slice(3));
        if (lines.length !== 2) throw new Error(`the TcpExt counters ${when} the run are missing (${lines.length} of 2 lines): ${excerpt(stderr)}`);
        const i = lines[0].indexOf(name);
        const v = Number(lines[1][i]);
        if (i < 0 || !Number.isInteger(v)) throw new Error(`the TcpExt counters ${when} the run have no ${name}: ${excerpt(stderr)}`);
        return v;
    };
    return value("after") - value("before");
}
