/**
 * The report's rules that a short loopback run does not reach: the gate's verdict, errors,
 * interrupted runs, the IPIP note only when it applies, charts' axes.
 * (pipeline-*.test.ts check the report produced from real tool outputs.)
 */
import { describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { UsageError } from "../../core/errors";
import {
    completedRepetitions,
    formatValue,
    scheduleSentence,
    percentOfHost,
    percentOfHostDefinition,
    ranking,
    renderReport,
    reportCharts,
    reportMarkdown,
    separatedPairs,
    withBaseline,
} from "./report";
import { barChart, groupedBarChart, niceMax, niceTicks } from "./svg";
import { aggregate, summarySchema, type BenchSummaryFile, type FigureInfo, type Sample } from "./summary";

const figures: FigureInfo[] = [
    { id: "http.lb.latency.mean", measurement: "http", label: "HTTP via load balancer: mean latency", unit: "ms", better: "lower", gated: true },
    { id: "iperf3.pod.cross.tcp1.gbps", measurement: "iperf3", label: "pod↔pod across nodes, TCP 1 stream: throughput", unit: "Gbit/s", better: "higher", gated: true },
];

function summaryOf(samples: Sample[], extra: Partial<BenchSummaryFile> = {}): BenchSummaryFile {
    const targets = ["host-gw", "vxlan"];
    const { stats, gate } = aggregate(figures, samples, targets, "host-gw", 5);
    return {
        schema: summarySchema,
        startedAt: "2026-01-01T00:00:00Z",
        finishedAt: "2026-01-01T01:00:00Z",
        settings: {
            repetitions: 3,
            measurements: ["http", "iperf3"],
            durationSeconds: 10,
            warmupSeconds: 2,
            scalingPods: [2],
            httpConnections: 64,
            httpThreads: 4,
            requestTimeoutSeconds: 10,
            udpBitrate: "1G",
            iperf3Port: 5201,
            sockperfPort: 11111,
        },
        targets: targets.map((name) => ({ name, mode: name, platform: "aws-k3s" })),
        order: [targets, [...targets].reverse(), targets],
        environments: [],
        figures,
        samples,
        stats,
        baseline: "host-gw",
        gate,
        notes: [],
        errors: [],
        ...extra,
    };
}

const reps = (target: string, id: string, values: number[]): Sample[] => values.map((value, i) => ({ target, repetition: i + 1, id, value, raw: [] }));

describe("report rules", () => {
    // host-gw latency 641, 641.5, 642 (median 641.5); vxlan 644, 644.8, 645.6 (median 644.8):
    // cost = 644.8 − 641.5 = +3.3 ms = 3.3/641.5 = 0.514% worse. Intervals: host-gw mean 641.5,
    // s = 0.5, half = 4.303·0.5/√3 = 1.242 → [640.26, 642.74]; vxlan mean 644.8, s = 0.8,
    // half = 1.987 → [642.81, 646.79]: no overlap, so no "within noise".
    const samples = [
        ...reps("host-gw", "http.lb.latency.mean", [641, 641.5, 642]),
        ...reps("vxlan", "http.lb.latency.mean", [644, 644.8, 645.6]),
        ...reps("host-gw", "iperf3.pod.cross.tcp1.gbps", [9.5, 9.6, 9.7]),
        ...reps("vxlan", "iperf3.pod.cross.tcp1.gbps", [8.0, 8.1, 8.2]), // (9.6 − 8.1)/9.6 = 15.6% worse
    ];

    it("field report 1's table: cost over the baseline in ms and percent, each with the interval of the difference", () => {
        // Welch (by hand, scipy.stats.t.ppf for the quantile): d = 644.8 − 641.5 = 3.3 ms;
        // se² = 0.8²/3 + 0.5²/3, df = 3.3556, t = 3.0151 → [1.666, 4.934] ms; ÷ 641.5 → [0.26, 0.77] %.
        const md = reportMarkdown(summaryOf(samples));
        expect(md).toContain("## Container-network cost over host-gw (the shape of field report 1)");
        expect(md).toContain("| vxlan | load balancer → NodePort | 645 [643–647] | +3.30 [+1.67, +4.93] | +0.5 [+0.3, +0.8] | shown (interval excludes 0) | – |");
        expect(md).toContain("| host-gw (baseline) | load balancer → NodePort | 642 [640–643] | 0 (baseline) | 0 (baseline) | – | – |");
        // A pod-network baseline: the lab's and the HTTP tables keep their places, the cost table comes after them.
        expect(md.indexOf("## Container-network cost")).toBeGreaterThan(md.indexOf("Baseline: **host-gw**"));
    });

    it("the gate lists the mode and figure that exceed the limit", () => {
        const md = reportMarkdown(summaryOf(samples));
        expect(md).toContain("**Failed** (limit 5% over host-gw)");
        expect(md).toContain("- vxlan: iperf3.pod.cross.tcp1.gbps is 15.6% worse");
        expect(md).not.toContain("http.lb.latency.mean is"); // 0.5% is under the limit
    });

    it("errors and interruptions are stated; the IPIP per-flow note only when an IPIP mode was measured", () => {
        const md = reportMarkdown(summaryOf(samples, { aborted: true, errors: [{ target: "vxlan", repetition: 2, measurement: "latency", message: "sockperf exited with 1\nmore" }] }));
        expect(md).toContain("**Interrupted run:**");
        expect(md).toContain("- vxlan, repetition 2, latency: sockperf exited with 1");
        expect(md).not.toContain("ONE flow");
        const ipip = summaryOf([...samples, ...reps("calico-ipip", "iperf3.pod.cross.tcp1.gbps", [7, 7.1, 7.2])], {
            targets: ["host-gw", "vxlan", "calico-ipip"].map((name) => ({ name, mode: name, platform: "aws-k3s" })),
        });
        expect(reportMarkdown(ipip)).toContain("**This run includes an IP-in-IP mode.**");
        expect(reportMarkdown(ipip)).toContain("ONE flow");
    });

    it("says where kube-proxy was replaced and what the baselines run, only when such a mode was measured", () => {
        expect(reportMarkdown(summaryOf(samples))).not.toContain("Kube-proxy replaced");
        expect(reportMarkdown(summaryOf(samples))).not.toContain("**Baselines");
        const mixed = summaryOf([...samples, ...reps("cilium", "iperf3.pod.cross.tcp1.gbps", [9, 9.1, 9.2]), ...reps("host", "iperf3.pod.cross.tcp1.gbps", [9.5, 9.6, 9.7])], {
            targets: ["host-gw", "vxlan", "cilium", "host"].map((name) => ({ name, mode: name, platform: "aws-k3s" })),
        });
        const md = reportMarkdown(mixed);
        expect(md).toContain("**Kube-proxy replaced (cilium):** Cilium's eBPF programs implement Services there");
        expect(md).toContain("**Baselines (host):** one frontend per node");
    });

    it("an interrupted run's header says how many repetitions finished, not how many were planned", () => {
        // Planned 3; samples only from repetition 1 (the run was stopped during repetition 2).
        const one = samples.filter((x) => x.repetition === 1);
        const md = reportMarkdown(summaryOf(one, { aborted: true, ...aggregate(figures, one, ["host-gw", "vxlan"], "host-gw", 5) }));
        expect(md).toContain("the **median of the 1 repetition(s) that ran**; 3 were planned and the run was interrupted");
        // Stopped during repetition 2: it has the latency figures but not the throughput ones.
        const cut = samples.filter((x) => x.repetition === 1 || (x.repetition === 2 && x.id === "http.lb.latency.mean"));
        const md2 = reportMarkdown(summaryOf(cut, { aborted: true, ...aggregate(figures, cut, ["host-gw", "vxlan"], "host-gw", 5) }));
        expect(md2).toContain("the **median of the 2 repetition(s) that ran** (1 of them cut short, so some figures have fewer samples); 3 were planned");
        expect(md).not.toContain("median of 3 repetition(s)");
        expect(reportMarkdown(summaryOf(samples))).toContain("the **median of 3 repetition(s)**");
    });

    it("without a baseline the report names no command-line flag", () => {
        const md = reportMarkdown(summaryOf(samples, { baseline: undefined, gate: undefined }));
        expect(md).not.toContain("--baseline");
        expect(md).not.toContain("Container-network cost over");
    });

    it('"% of host" is the ratio of the two medians the table prints, and says so', () => {
        // Per repetition the ratios are 9/10 = 90%, 14/20 = 70%, 12/11 = 109.1% (median 90%); the
        // medians printed are pod 12 and host 11, so the column must read 12/11 = 109.1%.
        const pod = reps("vxlan", "iperf3.pod.cross.tcp1.gbps", [9, 14, 12]);
        const host = reps("vxlan", "iperf3.host.cross.tcp1.gbps", [10, 20, 11]);
        const withHost: FigureInfo[] = [...figures, { id: "iperf3.host.cross.tcp1.gbps", measurement: "iperf3", label: "host↔host, TCP 1 stream: throughput", unit: "Gbit/s", better: "higher" }];
        const all = [...samples.filter((x) => x.target !== "vxlan" || x.id !== "iperf3.pod.cross.tcp1.gbps"), ...pod, ...host];
        const md = reportMarkdown({ ...summaryOf(all), figures: withHost, ...aggregate(withHost, all, ["host-gw", "vxlan"], "host-gw", 5) });
        expect(percentOfHost(12, 11)).toBeCloseTo(109.09, 2);
        expect(percentOfHost(12, 0)).toBeUndefined();
        expect(md).toMatch(/\| vxlan \(pod network\) \| 12\.00 \[[\d.]+–[\d.]+\]( ≈)? \| 109\.1 \|/);
        expect(md).toContain(percentOfHostDefinition);
    });

    it("the ranking separates only what the intervals separate", () => {
        // host-gw [9.5, 9.6, 9.7] and vxlan [8.0, 8.1, 8.2] do not overlap: "<"; a third target
        // spread over both overlaps each: "≈".
        const three = [...samples, ...reps("calico", "iperf3.pod.cross.tcp1.gbps", [7.5, 9, 10.5])];
        const s = summaryOf(three, { targets: ["host-gw", "vxlan", "calico"].map((name) => ({ name, mode: name, platform: "aws-k3s" })) });
        const st = aggregate(figures, three, ["host-gw", "vxlan", "calico"], "host-gw", 5);
        expect(ranking({ ...s, ...st }, "iperf3.pod.cross.tcp1.gbps")).toBe("host-gw ≈ calico ≈ vxlan");
        expect(ranking(summaryOf(samples), "iperf3.pod.cross.tcp1.gbps")).toBe("host-gw < vxlan");
        // Neighbours overlap through calico, but host-gw and vxlan themselves do not.
        expect(separatedPairs({ ...s, ...st }, "iperf3.pod.cross.tcp1.gbps")).toEqual(["host-gw < vxlan"]);
        expect(completedRepetitions(summaryOf(samples))).toBe(3);
    });

    it("the cost section says how busy the rest of the machine was, and warns when it was not quiet", () => {
        const costFigures: FigureInfo[] = [
            ...figures,
            { id: "iperf3.pod.cross.udpcost.cpuUsPerPacket", measurement: "iperf3", label: "CPU-µs per packet", unit: "CPU-µs/packet", better: "lower" },
            { id: "iperf3.pod.cross.udpcost.otherLoad", measurement: "iperf3", label: "other load", unit: "CPUs", better: "lower" },
        ];
        const withLoad = (load: number[]) => {
            const all = [
                ...samples,
                ...reps("host-gw", "iperf3.pod.cross.udpcost.cpuUsPerPacket", [2.5, 2.6, 2.7]),
                ...reps("vxlan", "iperf3.pod.cross.udpcost.cpuUsPerPacket", [2.9, 3, 3.1]),
                ...reps("host-gw", "iperf3.pod.cross.udpcost.otherLoad", load.slice(0, 3)),
                ...reps("vxlan", "iperf3.pod.cross.udpcost.otherLoad", load.slice(3)),
            ];
            return reportMarkdown({ ...summaryOf(all), figures: costFigures, ...aggregate(costFigures, all, ["host-gw", "vxlan"], "host-gw", 5) });
        };
        const quiet = withLoad([0.01, 0.02, 0.03, 0.04, 0.05, 0.5]);
        expect(quiet).toContain("median 0.04, highest 0.50, over 6 windows");
        expect(quiet).not.toContain("Not a quiet machine");
        const busy = withLoad([0.01, 0.02, 0.03, 0.04, 1.2, 0.51]);
        expect(busy).toContain("**Not a quiet machine: 2 of 6 cost windows ran beside more than 0.5 CPUs of other work.**");
    });

    it("numbers are formatted per unit; charts get nice axes", () => {
        expect(formatValue(9.6123, "Gbit/s")).toBe("9.61");
        expect(formatValue(641.5, "ms")).toBe("642");
        expect(formatValue(3.3, "ms")).toBe("3.30");
        expect(formatValue(NaN, "ms")).toBe("–");
        expect([niceMax(56.4), niceMax(9.7), niceMax(100), niceMax(0)]).toEqual([60, 10, 100, 1]);
        const svg = barChart("t", "Gbit/s", [{ label: "a<b", value: 5, low: 4, high: 6 }]);
        expect(svg).toContain("a&lt;b");
        expect(svg).toMatch(/<path d="M[\d.]+ [\d.]+V[\d.]+/); // the CI whisker
        // Percentile chart needs p50/p90/p99 figures, absent here; throughput needs the iperf3 one.
        expect(Object.keys(reportCharts(summaryOf(samples)))).toEqual(["throughput.svg"]);
    });

    it("chart axes: every tick label has the same decimals; marks for the baseline, a clipped whisker and an empty slot", () => {
        // The defects: "0, 5, 10.0" and "62.5, 125, 188".
        expect(niceTicks(9.7).labels).toEqual(["0", "2", "4", "6", "8", "10"]);
        expect(niceTicks(240).labels).toEqual(["0", "50", "100", "150", "200", "250"]);
        expect(niceTicks(1.1).labels).toEqual(["0.00", "0.25", "0.50", "0.75", "1.00", "1.25"]);
        expect(niceTicks(0.6)).toEqual({ max: 0.6, ticks: [0, 0.2, 0.4, 0.6], labels: ["0.0", "0.2", "0.4", "0.6"] });
        for (const v of [0.013, 0.6, 3.3, 9.7, 56.4, 188, 1234]) {
            const { labels, max } = niceTicks(v);
            expect(max, `axis for ${v}`).toBeGreaterThanOrEqual(v);
            expect(new Set(labels.map((l) => l.split(".")[1]?.length ?? 0)).size, `decimals of ${labels.join(", ")}`).toBe(1);
        }
        const svg = groupedBarChart(
            "t",
            "CPU-µs",
            [
                { label: "host", baseline: true, bars: [{ label: "pod", value: 3, low: 2.5, high: 3.5 }] },
                { label: "vxlan", bars: [{ label: "pod", value: 1, low: 0, high: 2, clippedAtZero: true }] },
                { label: "bridge", bars: [] },
            ],
            ["pod"],
        );
        expect(svg).toMatch(/font-weight="bold">host<tspan [^>]*>\(baseline\)<\/tspan>/);
        expect(svg).toContain('stroke-dasharray="5 4"');
        expect(svg).toContain("interval held at 0");
        expect(svg).toContain("not measured");
    });
});

describe("--baseline host: the field report's table first", () => {
    // The lab's shape: no load balancer, so latency straight to a node's frontend port.
    const nodeFigures: FigureInfo[] = [
        { id: "http.nodeport.latency.mean", measurement: "http", label: "HTTP via NodePort: mean latency", unit: "ms", better: "lower" },
        { id: "iperf3.pod.cross.udpcost.cpuUsPerPacket", measurement: "iperf3", label: "pod↔pod: CPU-µs per packet", unit: "CPU-µs", better: "lower" },
    ];
    const targets = [
        { name: "host", mode: "host", platform: "lab", frontends: { port: 80, attachment: "host-network" as const, replicas: 2, mtu: 9001 } },
        { name: "bridge", mode: "bridge", platform: "lab", frontends: { port: 8081, attachment: "published-ports" as const, replicas: 2, mtu: 8951 } },
        { name: "vxlan", mode: "vxlan", platform: "lab", frontends: { port: 30099, attachment: "pod-network" as const, replicas: 10, mtu: 8951 } },
    ];
    const samples = [
        ...reps("host", "http.nodeport.latency.mean", [2.0, 2.1, 2.2]),
        ...reps("bridge", "http.nodeport.latency.mean", [2.0, 2.6, 2.3]),
        ...reps("vxlan", "http.nodeport.latency.mean", [2.6, 2.9, 3.2]),
        ...["host", "bridge", "vxlan"].flatMap((t) => reps(t, "iperf3.pod.cross.udpcost.cpuUsPerPacket", [3, 4, 5])),
    ];
    const recorded: BenchSummaryFile = {
        ...summaryOf(samples),
        figures: nodeFigures,
        targets,
        baseline: undefined,
        gate: undefined,
        stats: aggregate(
            nodeFigures,
            samples,
            targets.map((t) => t.name),
        ).stats,
    };

    it("each mode over host in ms and %, with the difference's interval; 'within noise' exactly where it contains 0", () => {
        const md = reportMarkdown(withBaseline(recorded, "host"), { recordedBaseline: undefined });
        // First table of the report, before the lab's cost table.
        expect(md.indexOf("## Container-network cost over host")).toBeGreaterThan(0);
        expect(md.indexOf("## Container-network cost over host")).toBeLessThan(md.indexOf("## Cost of each datapath"));
        expect(md).toContain("chosen when rendering with `--baseline host`; the run recorded none");
        // Welch by hand (scipy quantile): vxlan − host = 0.8, df = 2.439 → [0.136, 1.464] ms; ÷ 2.1 → [6.5, 69.7] %.
        expect(md).toMatch(
            /\| vxlan \| NodePort, port 30099; 10 frontend\(s\), MTU 8951 \| 2\.90 \[[\d.]+–[\d.]+\] \| \+0\.80 \[\+0\.14, \+1\.46\] \| \+38\.1 \[\+6\.5, \+69\.7\] \| shown \(interval excludes 0\) \| – \|/,
        );
        // bridge − host = 0.2 → [−0.46, +0.86] ms: contains 0.
        expect(md).toContain("| +0.20 [−0.46, +0.86] | +9.5 [−22.1, +41.2] | not shown: within noise (interval contains 0) |");
        expect(md).toContain("| host (baseline) | the frontend port on the node (host network: no Service, no NAT), port 80; 2 frontend(s), MTU 9001 |");
        expect(md).toContain("the published frontend port on the node (DNAT to the container, no Service), port 8081");
        // One figure row serves every target: the node path is named for what it is in each.
        expect(md).toContain("| HTTP straight to a node (NodePort, or the baseline's own frontend port): mean latency | ms |");
    });

    it("a baseline that is not a target of the run is refused naming --baseline, the value and the targets", () => {
        expect(() => withBaseline(recorded, "lab-host", "r/summary.json")).toThrow(UsageError);
        expect(() => withBaseline(recorded, "lab-host", "r/summary.json")).toThrow('--baseline: "lab-host" is not a target of the run in r/summary.json; allowed: host, bridge, vxlan');
    });

    it("renderReport --baseline: the same statistics as a run recorded with that baseline; summary.json untouched; nothing written on a bad value", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-rebaseline-"));
        try {
            const file = path.join(dir, "summary.json");
            fs.writeFileSync(file, JSON.stringify(recorded));
            await expect(renderReport(dir, { baseline: "nope" })).rejects.toThrow(/--baseline: "nope"/);
            expect(fs.readdirSync(dir)).toEqual(["summary.json"]);
            await renderReport(dir, { baseline: "host" });
            expect(fs.readFileSync(file, "utf8")).toBe(JSON.stringify(recorded));
            const asRecorded = {
                ...recorded,
                baseline: "host",
                ...aggregate(
                    nodeFigures,
                    samples,
                    targets.map((t) => t.name),
                    "host",
                ),
            };
            expect(fs.readFileSync(path.join(dir, "report.md"), "utf8")).toBe(reportMarkdown(asRecorded, { recordedBaseline: undefined }));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("how the targets took turns", () => {
    const order = [
        ["a", "b"],
        ["b", "a"],
        ["a", "b"],
    ];
    const settings = summaryOf([]).settings;
    it("a concurrent run says so, and lists no rotation it did not do", () => {
        const text = scheduleSentence({
            settings: { ...settings, schedule: "concurrent" },
            order: [
                ["a", "b"],
                ["a", "b"],
                ["a", "b"],
            ],
        });
        expect(text).toMatch(/^Targets were measured concurrently: separate clusters, all at the same time/);
        expect(text).not.toMatch(/round-robin|rotated/);
    });
    it("a round-robin run lists each repetition's order", () => {
        expect(scheduleSentence({ settings: { ...settings, schedule: "round-robin" }, order })).toBe(
            "Targets were measured round-robin, one at a time, the order rotated each repetition: 1: a → b; 2: b → a; 3: a → b.",
        );
    });
    it("a summary.json written before the schedule was recorded was round-robin (the only schedule then)", () => {
        expect(scheduleSentence({ settings, order })).toMatch(/^Targets were measured round-robin/);
    });
    it("the rendered report carries the sentence of the run's schedule", () => {
        const md = reportMarkdown(
            summaryOf([], {
                settings: { ...settings, schedule: "concurrent" },
                order: [
                    ["host-gw", "vxlan"],
                    ["host-gw", "vxlan"],
                    ["host-gw", "vxlan"],
                ],
            }),
        );
        expect(md).toMatch(/Targets were measured concurrently/);
        expect(md).not.toMatch(/measured round-robin/);
    });
});

describe("interleaved runs: the round-by-round section", () => {
    const pod = "iperf3.pod.cross.udpcost.cpuUsPerPacket";
    const host = "iperf3.host.cross.udpcost.cpuUsPerPacket";
    const costFigures: FigureInfo[] = [
        { id: pod, measurement: "iperf3", label: "pod per packet", unit: "CPU-µs/packet", better: "lower" },
        { id: host, measurement: "iperf3", label: "host per packet", unit: "CPU-µs/packet", better: "lower" },
    ];
    // Eight rounds, each slowed by its own factor that both modes share.
    const factor = [1, 2, 1.3, 2.6, 1.1, 1.7, 2.2, 1.05];
    const cost: Record<string, [number, number]> = { host: [5, 5], vxlan: [9, 5.1] };
    const samples: Sample[] = Object.entries(cost).flatMap(([target, [p, h]]) =>
        factor.flatMap((f, i) => [
            { target, repetition: i + 1, id: pod, value: p * f * (1 + 0.01 * Math.sin(i + p)), raw: [] },
            { target, repetition: i + 1, id: host, value: h * f * (1 + 0.01 * Math.cos(i + p)), raw: [] },
        ]),
    );
    const summary = (schedule: "interleaved" | "round-robin"): BenchSummaryFile => {
        const names = Object.keys(cost);
        const agg = aggregate(costFigures, samples, names, undefined, undefined, schedule);
        return {
            ...summaryOf([]),
            settings: { ...summaryOf([]).settings, schedule, seed: 5 },
            targets: names.map((name) => ({ name, mode: name, platform: "lab" })),
            order: factor.map(() => names),
            figures: costFigures,
            samples,
            baseline: undefined,
            gate: undefined,
            ...agg,
        };
    };

    it("ranks by the paired intervals, gives every pair and the pod ÷ host ratio per mode, and says whether each conclusion holds", () => {
        const md = reportMarkdown(summary("interleaved"));
        expect(md).toContain("## Round by round: which differences the run resolves");
        expect(md).toContain("**CPU per packet, pod↔pod**: host < vxlan");
        expect(md).toMatch(/\| host ÷ vxlan \| 0\.55\d \[0\.5\d\d–0\.5\d\d\] \| 8 \| host < vxlan \|/);
        expect(md).toMatch(/\| host \| (0\.99|1\.00)\d \[0\.9\d\d–1\.0\d\d\] \| 8 \| not separated from 1 \|/);
        expect(md).toMatch(/\| vxlan \| 1\.7\d\d \[.*\] \| 8 \| \+7\d\.\d % \|/);
        expect(md).toContain("the windows of this figure do not measure the other load");
        expect(md).toContain("seed 5");
    });

    it("a budgeted run says how many rounds its budget held, not that it was interrupted", () => {
        const s = summary("interleaved");
        const md = reportMarkdown({ ...s, settings: { ...s.settings, repetitions: 100, budgetSeconds: 270 } });
        expect(md).toContain("**median of the 8 rounds** the measuring budget of 270 s held");
        expect(md).not.toContain("interrupted");
    });

    it("says the UDP cost runs' own window: whole seconds, the first 0.3 s not counted (bench/measure/cost.ts)", () => {
        const s = summary("interleaved");
        const md = reportMarkdown({ ...s, settings: { ...s.settings, durationSeconds: 1 } });
        expect(md).toContain("the UDP cost runs instead: 1 s, their first 0.3 s not counted");
        expect(reportMarkdown({ ...s, figures: s.figures.filter((f) => !f.id.includes(".udpcost.")) })).not.toContain("UDP cost runs");
    });

    it("a round-robin run has no such section (its rounds are a minute apart)", () => {
        expect(reportMarkdown(summary("round-robin"))).not.toContain("Round by round");
    });
});
