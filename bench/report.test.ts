/**
 * The report's rules that a short loopback run does not reach: the gate's verdict, errors,
 * interrupted runs, the IPIP note only when it applies, charts' axes.
 * (pipeline-*.test.ts check the report produced from real tool outputs.)
 */
import { describe, expect, it } from "vitest";
import { formatValue, reportCharts, reportMarkdown } from "./report";
import { barChart, niceMax } from "./svg";
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
        settings: { repetitions: 3, measurements: ["http", "iperf3"], durationSeconds: 10, warmupSeconds: 2, scalingPods: [2], httpConnections: 64, httpThreads: 4, requestTimeoutSeconds: 10, udpBitrate: "1G", iperf3Port: 5201, sockperfPort: 11111 },
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

    it("field report 1's table: cost over the baseline in ms and percent", () => {
        const md = reportMarkdown(summaryOf(samples));
        expect(md).toContain("| vxlan | 645 [643–647] | – | – | – | +3.30 ms, 0.5% worse | – |");
        expect(md).toContain("| host-gw | 642 [640–643] | – | – | – | 0 (baseline) | – |");
    });

    it("the gate lists the mode and figure that exceed the limit", () => {
        const md = reportMarkdown(summaryOf(samples));
        expect(md).toContain("**Failed** (limit 5% over host-gw)");
        expect(md).toContain("- vxlan: iperf3.pod.cross.tcp1.gbps is 15.6% worse");
        expect(md).not.toContain("http.lb.latency.mean is"); // 0.5% is under the limit
    });

    it("errors and interruptions are stated; the IPIP note is emphasised only with an IPIP mode", () => {
        const md = reportMarkdown(summaryOf(samples, { aborted: true, errors: [{ target: "vxlan", repetition: 2, measurement: "latency", message: "sockperf exited with 1\nmore" }] }));
        expect(md).toContain("**Interrupted run:**");
        expect(md).toContain("- vxlan, repetition 2, latency: sockperf exited with 1");
        expect(md).not.toContain("This run includes an IP-in-IP mode");
        expect(md).toContain("ONE flow");
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
});
