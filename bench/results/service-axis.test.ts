/**
 * The report's Service-axis table rendered from a summary: rows per target and proxy mode, columns
 * per Service count, each cell the median with its 95% interval (stats.ts), the change from the
 * first count to the last, and the installed counts as read back.
 */
import { describe, expect, it } from "vitest";
import { formatValue, reportMarkdown } from "./report";
import { serviceAxisSection } from "./service-axis";
import { summarize } from "./stats";
import { summarySchema, type BenchSummaryFile, type Sample } from "./summary";

const cps: Record<string, Record<number, number[]>> = {
    "lab-vxlan-iptables": { 0: [1000, 1100, 1050], 10000: [800, 820, 790] },
    "lab-vxlan-nftables": { 0: [1000, 1010, 990], 10000: [995, 1005, 1000] },
};
const samples: Sample[] = Object.entries(cps).flatMap(([target, byCount]) =>
    Object.entries(byCount).flatMap(([count, values]) => values.map((value, i) => ({ target, repetition: i + 1, id: `services${count}.guestbook.connect.cps`, value, raw: [] }))),
);
const summary: BenchSummaryFile = {
    schema: summarySchema,
    startedAt: "2026-12-04T19:00:00Z",
    finishedAt: "2026-12-04T19:09:00Z",
    settings: {
        repetitions: 3,
        measurements: ["guestbook"],
        durationSeconds: 1,
        warmupSeconds: 1,
        scalingPods: [],
        httpConnections: 16,
        httpThreads: 2,
        requestTimeoutSeconds: 10,
        udpBitrate: "1G",
        iperf3Port: 5201,
        sockperfPort: 11111,
        serviceCounts: [0, 10000],
    },
    targets: Object.keys(cps).map((name) => ({ name, mode: "vxlan", platform: "lab" })),
    order: [],
    environments: [],
    figures: [0, 10000].map((c) => ({
        id: `services${c}.guestbook.connect.cps`,
        measurement: "guestbook" as const,
        label: `new connections via NodePort: connections/s (${c} extra Services)`,
        unit: "conn/s",
        better: "higher" as const,
    })),
    samples,
    stats: [],
    notes: [],
    errors: [],
    serviceAxis: {
        counts: [0, 10000],
        points: [
            { target: "lab-vxlan-iptables", mode: "iptables", services: 0, installed: { "KUBE-SVC-* chains": 3 } },
            { target: "lab-vxlan-nftables", mode: "nftables", services: 0, installed: { "service-ips map elements": 3 } },
            { target: "lab-vxlan-iptables", mode: "iptables", services: 10000, installed: { "KUBE-SVC-* chains": 10003 } },
        ],
    },
};

const table = (h: readonly string[], rows: readonly (readonly string[])[]) => [h, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");

describe("the Service-axis table", () => {
    const text = serviceAxisSection(summary, { format: formatValue, table }).join("\n");

    it("a row per target with its proxy, a column per count: median [95% interval], then the change with Welch's interval", () => {
        const ci = summarize(cps["lab-vxlan-iptables"][0]).ci95!;
        expect(text).toContain("| target (proxy) | 0 Services | 10000 Services | 10000 vs 0 |");
        // Means 1050 → 803.3: −246.7, shown to the unit's precision.
        expect(text).toContain(`| lab-vxlan-iptables (iptables) | 1050 [${formatValue(ci.low, "conn/s")}–${formatValue(ci.high, "conn/s")}] | 800 [`);
        expect(text).toMatch(/\| lab-vxlan-iptables \(iptables\) \| .* \| −247 \[−\d+, −\d+\] \|/);
        // nftables: no change the run can show (its interval contains 0).
        expect(text).toMatch(/\| lab-vxlan-nftables \(nftables\) \| 1000 \[.*\] \| 1000 \[.*\] \| \+0\.00 \[−[\d.]+, \+[\d.]+\] \|/);
    });

    it("shows only the figures the run has, and the installed counts read back (or that a count was never set)", () => {
        expect(text).toContain("### New connections per second");
        expect(text).not.toContain("### First byte");
        expect(text).toContain("| lab-vxlan-iptables (iptables) | KUBE-SVC-* chains: 3 | KUBE-SVC-* chains: 10003 |");
        expect(text).toContain("| lab-vxlan-nftables (nftables) | service-ips map elements: 3 | – (not set) |");
    });

    it("is part of report.md, and absent from a run without the axis", () => {
        expect(reportMarkdown(summary)).toContain("## Service proxy: cost by number of Services");
        expect(reportMarkdown({ ...summary, serviceAxis: undefined })).not.toContain("## Service proxy");
    });
});
