/**
 * report.md and charts/*.svg from summary.json. `renderReport(folder)` needs nothing but the
 * folder, so a saved run re-renders offline (`npm run bench -- report <folder>`).
 *
 * The first two tables have the shape of the field reports (docs/field-reports.md): report 1's
 * "mode | mean latency | container-network cost over the baseline", and the paper's iperf3,
 * guestbook stress-test and scaling figures.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isBaseline, isNetworkMode, modeFacts, type NetworkMode } from "../../components/modes";
import { billMarkdown, readBillFile } from "./bill";
import type { Environment } from "../sessions/session";
import { UsageError } from "../../core/errors";
import { costBitrateDefault, costDatagramBytes, costPacketBitrateDefault, costUdpRunSeconds, costUdpWarmupSeconds, loadedLatencyMpsDefault, nodePathLabel } from "../measure/measurements";
import { serviceAxisSection } from "./service-axis";
import { barChart, groupedBarChart, lineChart, type BarGroup } from "./svg";
import { differenceWithinNoise, median, withinNoise, type Difference } from "./stats";
import { pairedSection } from "./paired-report";
import { aggregate, readSummaryFile, summarySchema, type BenchSummaryFile, type FigureStats, type TargetInfo } from "./summary";

/** Reads and checks summary.json. */
export function readSummary(folder: string): BenchSummaryFile {
    const file = path.join(folder, "summary.json");
    if (!fs.existsSync(file)) throw new Error(`report: ${file} does not exist; pass a results folder written by a benchmark run`);
    const summary = readSummaryFile(file);
    if (summary.schema !== summarySchema) throw new Error(`report: ${file} has schema "${summary.schema}"; this runner reads "${summarySchema}"`);
    return summary;
}

/**
 * The same run compared with `baseline` (a target of the run; undefined: none): statistics, the
 * differences from the baseline and the gate recomputed from the samples by `aggregate`, the one
 * function a run uses. So `bench report <folder> --baseline lab-host` shows a run against another
 * baseline through the same code path, and older files get this runner's difference intervals.
 * The error names --baseline, the value and the targets allowed.
 */
export function withBaseline(s: BenchSummaryFile, baseline: string | undefined, where = "summary.json"): BenchSummaryFile {
    const names = s.targets.map((t) => t.name);
    if (baseline !== undefined && !names.includes(baseline)) {
        throw new UsageError(`--baseline: "${baseline}" is not a target of the run in ${where}; allowed: ${names.join(", ")}`);
    }
    const { stats, gate } = aggregate(s.figures, s.samples, names, baseline, s.gate?.maxOverheadPct);
    return { ...s, baseline, stats, gate: baseline === undefined ? undefined : gate };
}

/** Number formatting per unit: enough digits to see the differences the CIs allow. */
export function formatValue(v: number, unit: string): string {
    if (!Number.isFinite(v)) return "–";
    switch (unit) {
        case "Gbit/s":
            return v.toFixed(2);
        case "ms":
            return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
        case "µs":
        case "%":
            return v.toFixed(1);
        case "count":
        case "req/s":
            return v.toFixed(0);
        default:
            return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
    }
}

class Tables {
    private readonly stats = new Map<string, FigureStats>();
    private readonly units = new Map<string, string>();

    constructor(readonly s: BenchSummaryFile) {
        for (const st of s.stats) this.stats.set(`${st.target}\u0000${st.id}`, st);
        for (const f of s.figures) this.units.set(f.id, f.unit);
    }

    get(target: string, id: string): FigureStats | undefined {
        return this.stats.get(`${target}\u0000${id}`);
    }

    has(id: string): boolean {
        return this.s.targets.some((t) => this.get(t.name, id));
    }

    /** "median [low–high]" with ≈ when within the baseline's noise. */
    cell(target: string, id: string, withCi = true): string {
        const st = this.get(target, id);
        if (!st) return "–";
        const unit = this.units.get(id) ?? "";
        const m = formatValue(st.stats.median, unit);
        const ci = withCi && st.stats.ci95 ? ` [${formatValue(st.stats.ci95.low, unit)}–${formatValue(st.stats.ci95.high, unit)}]` : "";
        return `${m}${ci}${withCi && st.withinNoiseOfBaseline ? " ≈" : ""}`;
    }

    /** Overhead against the baseline: "+6.8 ms (+1.1%)" or "≈ (noise)". */
    cost(target: string, id: string, showDifference: boolean): string {
        const st = this.get(target, id);
        if (!st) return "–";
        if (target === this.s.baseline) return "0 (baseline)";
        if (st.overheadPct === undefined) return "–";
        const unit = this.units.get(id) ?? "";
        const o = st.overheadPct;
        const pct = o >= 0 ? `${o.toFixed(1)}% worse` : `${(-o).toFixed(1)}% better`;
        const diff = showDifference && st.differenceFromBaseline !== undefined ? `${st.differenceFromBaseline >= 0 ? "+" : ""}${formatValue(st.differenceFromBaseline, unit)} ${unit}, ` : "";
        return `${diff}${pct}${st.withinNoiseOfBaseline ? " (within noise)" : ""}`;
    }
}

/** Repetitions that produced at least one figure: fewer than planned after an interrupt. */
export function completedRepetitions(s: Pick<BenchSummaryFile, "samples">): number {
    return new Set(s.samples.map((x) => x.repetition)).size;
}

/** Of those, the ones with fewer figures than the fullest repetition (cut short by an interrupt). */
export function partialRepetitions(s: Pick<BenchSummaryFile, "samples">): number {
    const perRep = new Map<number, number>();
    for (const x of s.samples) perRep.set(x.repetition, (perRep.get(x.repetition) ?? 0) + 1);
    const full = Math.max(0, ...perRep.values());
    return [...perRep.values()].filter((n) => n < full).length;
}

/** What the report's "% of host" is, said next to it. */
export const percentOfHostDefinition =
    '"% of host" is the pod-network median divided by the host-network median of the same target, the two figures printed in its rows (100 × pod ÷ host); it has no interval of its own.';

/**
 * Other work beside a cost window above which the machine was not quiet, in CPUs. Measured on
 * the lab's 2-core machine (docs/lab.md "Other load"): with nothing else running, the lab's own
 * runner and the other modes' idle daemons came to 0.03–0.25 CPUs per window; a window beside a
 * type-check read about 1 CPU and cost its mode 1.26–1.5× the quiet windows; other agents' jobs,
 * 1.0–1.9 CPUs. The threshold sits between the two.
 */
export const quietOtherLoadCpus = 0.5;

/** How busy the rest of the machine was during the cost windows, and a warning when it was not quiet. */
function otherLoadLines(s: BenchSummaryFile): string[] {
    const values = s.samples.filter((x) => x.id.endsWith(".otherLoad")).map((x) => x.value);
    if (values.length === 0) return [];
    const busy = values.filter((v) => v > quietOtherLoadCpus).length;
    const lines = [
        `Other load on the machine during the cost windows (CPUs busy with anything but the measured mode's group and ksoftirqd, from every task's CPU time): median ${median(values).toFixed(2)}, highest ${Math.max(...values).toFixed(2)}, over ${values.length} windows ("Every figure", \`otherLoad\`).`,
    ];
    if (busy > 0 && s.settings.schedule === "interleaved") {
        lines.push(
            "",
            `${busy} of ${values.length} cost windows ran beside more than ${quietOtherLoadCpus} CPUs of other work. Other work makes the same datapath dearer by a factor that changes from second to second; the round-by-round comparisons below are built to withstand it, and say per figure whether each conclusion holds against the load seen.`,
        );
    } else if (busy > 0) {
        lines.push(
            "",
            `**Not a quiet machine: ${busy} of ${values.length} cost windows ran beside more than ${quietOtherLoadCpus} CPUs of other work.** Other work on shared cores makes the same datapath's CPU per packet dearer by a factor that changes from window to window, so these costs are inflated and their ranking is not reliable; run the lab on a machine with nothing else running.`,
        );
    }
    lines.push("");
    return lines;
}

/** 100 × pod median ÷ host median, the figures the table shows; undefined without both. */
export function percentOfHost(podMedian: number | undefined, hostMedian: number | undefined): number | undefined {
    if (podMedian === undefined || hostMedian === undefined || !(hostMedian > 0)) return undefined;
    return (podMedian / hostMedian) * 100;
}

function percentOfHostCell(t: Tables, target: string, kind: string): string {
    const pct = percentOfHost(t.get(target, `iperf3.pod.cross.${kind}.gbps`)?.stats.median, t.get(target, `iperf3.host.cross.${kind}.gbps`)?.stats.median);
    return pct === undefined ? "–" : formatValue(pct, "%");
}

/**
 * The targets ordered by a figure's median (best first), "<" between neighbours whose 95%
 * intervals do not overlap (a difference the run resolves) and "≈" where they overlap.
 */
export function ranking(s: BenchSummaryFile, id: string): string | undefined {
    const t = new Tables(s);
    const better = s.figures.find((f) => f.id === id)?.better ?? "lower";
    const rows = s.targets.map((x) => ({ name: x.name, st: t.get(x.name, id)?.stats })).filter((r) => r.st !== undefined);
    if (rows.length < 2) return undefined;
    rows.sort((a, b) => (better === "lower" ? a.st!.median - b.st!.median : b.st!.median - a.st!.median));
    return rows.map((r, i) => (i === 0 ? r.name : `${withinNoise(rows[i - 1].st!, r.st!) ? " ≈ " : " < "}${r.name}`)).join("");
}

/** Pairs of targets whose 95% intervals of a figure do not overlap, better one first ("a < b"). */
export function separatedPairs(s: BenchSummaryFile, id: string): string[] {
    const t = new Tables(s);
    const better = s.figures.find((f) => f.id === id)?.better ?? "lower";
    const rows = s.targets.map((x) => ({ name: x.name, st: t.get(x.name, id)?.stats })).filter((r) => r.st?.ci95 !== undefined);
    rows.sort((a, b) => (better === "lower" ? a.st!.median - b.st!.median : b.st!.median - a.st!.median));
    const pairs: string[] = [];
    rows.forEach((a, i) => rows.slice(i + 1).forEach((b) => (!withinNoise(a.st!, b.st!) ? pairs.push(`${a.name} < ${b.name}`) : undefined)));
    return pairs;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
    const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
    return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function environmentRows(s: BenchSummaryFile): string[][] {
    return s.environments.map(({ target, repetition, environment: e }: { target: string; repetition: number; environment: Environment }) => [
        target,
        String(repetition),
        e.mode,
        [...new Set(e.nodes.map((n) => n.kernel))].join(", "),
        [...new Set(e.nodes.map((n) => n.instanceType ?? "?"))].join(", "),
        [...new Set(e.nodes.map((n) => n.availabilityZone ?? "–"))].join(", "),
        [...new Set(e.nodes.map((n) => n.k3sVersion ?? e.versions?.k3s ?? "–"))].join(", "),
        e.versions?.cni ? `${e.versions.cni} ${e.versions.cniVersion ?? ""}`.trim() : "–",
        e.nodes.map((n) => measuredMtuCell(n.nicMtu, n.nicInterface, n.nicLinkMtu, n.nicRouteMtu)).join(", "),
        e.podMtu !== undefined ? measuredMtuCell(e.podMtu, e.podInterface, e.podLinkMtu, e.podRouteMtu) : "–",
        `${e.configuredMtu.node} / ${e.configuredMtu.pod}`,
        frontendsCell(s.targets.find((x) => x.name === target)),
    ]);
}

/**
 * What each Cilium agent reported for its datapath in each run (`cilium-dbg status`), and a warning
 * for every agent on legacy host routing: its figures measure the host stack's path, not the eBPF
 * datapath the mode table describes (cilium Documentation/operations/performance/tuning.rst,
 * "eBPF Host-Routing"). Empty when no run recorded a Cilium agent.
 */
function ciliumDatapathLines(s: BenchSummaryFile): string[] {
    const rows: string[][] = [];
    const legacy: string[] = [];
    for (const { target, repetition, environment: e } of s.environments) {
        for (const n of e.nodes) {
            if (!n.cilium) continue;
            rows.push([target, String(repetition), n.name, n.cilium.hostRouting, n.cilium.masquerading, n.cilium.network, n.cilium.routingLine, n.cilium.masqueradingLine]);
            if (n.cilium.hostRouting === "Legacy") legacy.push(`${target} repetition ${repetition} on ${n.name}`);
        }
    }
    if (!rows.length) return [];
    const out = [
        "What each node's Cilium agent reported (`cilium-dbg status`, read in its cilium-agent container at the start of the run): the values ask for eBPF host routing and BPF masquerading, but the agent falls back to legacy host routing when a requirement is missing.",
        "",
        table(["target", "rep", "node", "host routing", "masquerading", "network", "Routing line", "Masquerading line"], rows),
        "",
    ];
    if (legacy.length) {
        out.push(
            `**Legacy host routing** (${legacy.join("; ")}): those figures measure Cilium with its packets through the host's network stack (iptables, conntrack), not the eBPF datapath its mode describes.`,
        );
        out.push("");
    }
    return out;
}

/** "8951 (eth0)", or "8951 (eth0: link 9001, route 8951)" when the route carries its own MTU. */
function measuredMtuCell(mtu: number, iface: string | undefined, linkMtu: number | undefined, routeMtu: number | undefined): string {
    return routeMtu !== undefined && linkMtu !== undefined ? `${mtu} (${iface}: link ${linkMtu}, route ${routeMtu})` : `${mtu} (${iface})`;
}

/** "port 80, host-network, 2 replicas, MTU 9001" from the target's `frontends`. */
function frontendsCell(info: TargetInfo | undefined): string {
    const f = info?.frontends;
    return f ? `port ${f.port}, ${f.attachment}, ${f.replicas} replica(s), MTU ${f.mtu}` : "– (not recorded)";
}

/**
 * What the AWS runs ran on: the digest behind each guestbook tag, the instances' documented
 * network class, and the SSH host keys accepted. Empty for runs that record none (lab, loopback).
 */
function provenanceLines(s: BenchSummaryFile): string[] {
    const seen = new Set<string>();
    const images: string[][] = [];
    const bandwidth: string[][] = [];
    const hostKeys: string[][] = [];
    for (const { target, environment: e } of s.environments) {
        for (const i of e.images ?? []) {
            const key = `${target} ${i.pod} ${i.container} ${i.imageID}`;
            if (!seen.has(key)) (images.push([target, i.pod, i.container, i.image, i.imageID || "–"]), seen.add(key));
        }
        for (const n of e.nodes) {
            const b = n.networkBandwidth;
            const row = `${target} ${n.instanceType}`;
            if (n.instanceType && !seen.has(row)) {
                bandwidth.push([target, n.instanceType, b ? `${b.baselineGbps} / up to ${b.burstGbps}` : "not in the table (bench/measure/environment.ts)"]);
                seen.add(row);
            }
            const k = n.sshHostKey;
            if (k && !seen.has(`${target} ${n.name} ${k.fingerprint}`)) (hostKeys.push([target, n.name, k.fingerprint, k.verification]), seen.add(`${target} ${n.name} ${k.fingerprint}`));
        }
        const lg = e.loadGeneratorHostKey;
        if (lg && !seen.has(`${target} lg ${lg.fingerprint}`)) (hostKeys.push([target, "load generator", lg.fingerprint, lg.verification]), seen.add(`${target} lg ${lg.fingerprint}`));
    }
    const out: string[] = [];
    if (images.length) {
        out.push(
            "The guestbook images are tags that upstream re-pushes, so the same tag can mean different code on different days: the digest each pod actually ran is what makes two runs comparable.",
        );
        out.push("");
        out.push(table(["target", "pod", "container", "image (tag)", "digest it ran"], images));
        out.push("");
    }
    if (bandwidth.length) {
        out.push(
            'Instances of 16 vCPUs or fewer hold only their baseline bandwidth; they reach the "up to" figure while network I/O credits last (typically 5 to 60 minutes, AWS EC2 User Guide), so a long run can slow down for reasons that have nothing to do with the pod network.',
        );
        out.push("");
        out.push(table(["target", "instance type", "network baseline / burst (Gbit/s, AWS documentation)"], bandwidth));
        out.push("");
    }
    if (hostKeys.length) {
        out.push(table(["target", "host", "SSH host key", "verified"], hostKeys));
        out.push("");
    }
    return out;
}

/** A signed figure in its unit's format: "+6.78", "−0.41", "0.00". */
function signed(v: number, unit: string): string {
    const f = formatValue(Math.abs(v), unit);
    return v > 0 ? `+${f}` : v < 0 ? `−${f}` : f;
}

/** "+6.78 [+2.10, +11.46]" (or in %), from a Welch interval on the difference. */
export function differenceCell(d: Difference | undefined, unit: string, inPercent = false): string {
    if (!d) return "– (needs 2 repetitions on both sides)";
    if (!inPercent) return `${signed(d.estimate, unit)} [${signed(d.low, unit)}, ${signed(d.high, unit)}]`;
    return d.pct ? `${signed(d.pct.estimate, "%")} [${signed(d.pct.low, "%")}, ${signed(d.pct.high, "%")}]` : "– (baseline median 0)";
}

/** Whether the run shows the difference: said exactly when its interval excludes 0. */
export function differenceVerdict(d: Difference | undefined): string {
    if (!d) return "not shown (one repetition)";
    return differenceWithinNoise(d) ? "not shown: within noise (interval contains 0)" : "shown (interval excludes 0)";
}

/** How the HTTP requests reach a target's frontends, from its `frontends` (index.ts). */
export function frontendPath(info: TargetInfo | undefined, viaLoadBalancer: boolean): string {
    const f = info?.frontends;
    const node = nodePathLabel(f?.attachment).replace(/^HTTP via /, "");
    const lb = viaLoadBalancer ? "load balancer → " : "";
    return f ? `${lb}${node}, port ${f.port}; ${f.replicas} frontend(s), MTU ${f.mtu}` : `${lb}${node}`;
}

/** The latency the field-report table compares: through the LB, else straight to a node, else guestbook reads. */
function fieldLatencyId(t: Tables): string | undefined {
    return ["http.lb.latency.mean", "http.nodeport.latency.mean", "guestbook.read.latency.mean"].find((id) => t.has(id));
}

/**
 * Field report 1's table (docs/field-reports.md §1): each mode's mean latency and its cost over the baseline
 * in ms and %, each with the 95% interval of the difference itself (stats.ts differenceInterval95).
 */
function fieldReportTable(s: BenchSummaryFile, t: Tables, latencyId: string): string[] {
    const base = s.baseline!;
    const rpsId = latencyId.replace("latency.mean", "rps");
    const viaLb = latencyId.startsWith("http.lb");
    const what = latencyId.startsWith("guestbook")
        ? "guestbook reads (`GET /guestbook.php?cmd=get&key=guestbook`, wrk), through the load balancer where the target has one, else straight to its first node"
        : viaLb
          ? "`GET /` on the guestbook frontend (wrk) through the load balancer"
          : "`GET /` on the guestbook frontend (wrk) straight to the first node, no load balancer";
    const info = (n: string) => s.targets.find((x) => x.name === n);
    const lbFor = (n: string) => viaLb || (latencyId.startsWith("guestbook") && t.has("http.lb.rps") && t.get(n, "http.lb.rps") !== undefined);
    const out: string[] = [];
    out.push(`## Container-network cost over ${base} (the shape of field report 1)`);
    out.push("");
    out.push(
        `Mean latency of ${what}, ${s.settings.httpConnections} connections. Like the field report's "milliseconds over the VM": ` +
            `**cost = the mode's mean latency − ${base}'s**, averaged over the repetitions, with the **95% interval of that difference** ` +
            `(Welch's t interval for two means with unequal variances, Welch–Satterthwaite degrees of freedom; not two overlapping intervals), ` +
            `and the same in % of ${base}'s median latency. An interval that contains 0 means this run does **not show** a cost: "within noise". ` +
            `The latency column is the median of the repetitions with its own 95% interval.`,
    );
    out.push("");
    const rows = s.targets.map(({ name: n }) => {
        const st = t.get(n, latencyId);
        const isBase = n === base;
        return [
            isBase ? `${n} (baseline)` : n,
            frontendPath(info(n), lbFor(n)),
            st ? t.cell(n, latencyId, true).replace(/ ≈$/, "") : "–",
            isBase ? "0 (baseline)" : st ? differenceCell(st.difference, "ms") : "–",
            isBase ? "0 (baseline)" : st ? differenceCell(st.difference, "ms", true) : "–",
            isBase ? "–" : st ? differenceVerdict(st.difference) : "–",
            t.cell(n, rpsId, false),
        ];
    });
    out.push(table(["mode", "path to the frontends", "mean latency (ms) [95% CI]", `over ${base} (ms) [95% CI]`, `over ${base} (%) [95% CI]`, "cost shown?", "requests/s"], rows));
    out.push("");
    return out;
}

/**
 * A figure's label for a table that serves every target. The node path of `http.nodeport.*` is
 * a NodePort in the pod-network modes and the frontend's own port in the baselines: with both in
 * one run, the label says so instead of the first target's words.
 */
function figureLabel(s: BenchSummaryFile, f: BenchSummaryFile["figures"][number]): string {
    if (!f.id.startsWith("http.nodeport.")) return f.label;
    const attachments = new Set(s.targets.filter((x) => s.samples.some((m) => m.target === x.name && m.id === f.id)).map((x) => x.frontends?.attachment ?? "pod-network"));
    const colon = f.label.indexOf(":");
    if (colon < 0) return f.label;
    const what = f.label.slice(colon);
    return attachments.size === 1 ? `${nodePathLabel([...attachments][0])}${what}` : `HTTP straight to a node (NodePort, or the baseline's own frontend port)${what}`;
}

/** The markdown report, section by section. `rendered.recordedBaseline`: the baseline the run
 * itself recorded, when the report is rendered against another (`bench report --baseline`). */
export function reportMarkdown(s: BenchSummaryFile, rendered?: { readonly recordedBaseline: string | undefined }): string {
    const t = new Tables(s);
    return [
        ...titleLines(s),
        ...methodLines(s),
        ...baselineLines(s, rendered),
        ...fieldReportSection(s, t, "first"),
        ...costSection(s, t),
        ...fieldReportSection(s, t, "after the costs"),
        ...httpSection(s, t),
        ...throughputSection(s, t),
        ...guestbookSection(s, t),
        ...serviceAxisSection(s, { format: formatValue, table }),
        ...latencySection(s, t),
        ...scalingSection(s, t),
        ...environmentSection(s),
        ...notesSection(s),
        ...gateSection(s),
        ...errorsSection(s),
        ...everyFigureSection(s, t),
        ...rawOutputsSection(),
    ].join("\n");
}

/** The title, what kind of platform the figures come from, and whether the run was interrupted. */
function titleLines(s: BenchSummaryFile): string[] {
    const out = ["# Container network comparison", ""];
    const platforms = new Set(s.environments.map((e) => e.environment.platform));
    if (platforms.has("loopback")) {
        out.push(
            '> **Loopback sample — not a network comparison.** Every "node" and "pod" is a process on one machine talking over 127.0.0.1; the figures show what the report looks like, not how any pod network performs.',
        );
        out.push("");
    } else if (platforms.has("lab")) {
        out.push(
            "> **Local lab:** this reproduces each plugin's kernel datapath (devices, routes, BGP-learned routes, NAT), " +
                "not the plugins' control planes (no flanneld, Felix, Typha or kube-proxy), on one machine's CPU: " +
                "nodes and pods are network namespaces on one kernel. Absolute figures say nothing about cloud hardware, " +
                "only the datapaths' relative cost on this machine.",
        );
        out.push("");
    }
    if (s.aborted) out.push("> **Interrupted run:** the figures cover only what finished before the abort.\n");
    return out;
}

/** When the run ran, on what, and how each figure was reduced from its repetitions. */
function methodLines(s: BenchSummaryFile): string[] {
    const st = s.settings;
    // The platform as measured (a loopback session reports "loopback" whatever the target says).
    const platformOf = (name: string, declared: string) => s.environments.find((e) => e.target === name)?.environment.platform ?? declared;
    const finished = completedRepetitions(s);
    const partial = partialRepetitions(s);
    const budgeted = st.budgetSeconds !== undefined && !s.aborted;
    const udpCost = s.figures.some((f) => f.id.includes(".udpcost."))
        ? `; the UDP cost runs instead: ${costUdpRunSeconds(st.durationSeconds)} s, their first ${costUdpWarmupSeconds} s not counted`
        : "";
    const repetitionText = budgeted
        ? `the **median of the ${finished} rounds** the measuring budget of ${Math.round(st.budgetSeconds!)} s held${partial > 0 ? ` (${partial} of them cut short, so some figures have fewer samples)` : ""}`
        : finished < st.repetitions || partial > 0
          ? `the **median of the ${finished} repetition(s) that ran**${partial > 0 ? ` (${partial} of them cut short, so some figures have fewer samples)` : ""}; ${st.repetitions} were planned and the run was interrupted`
          : `the **median of ${st.repetitions} repetition(s)**`;
    return [
        `Run ${s.startedAt} → ${s.finishedAt}. Targets: ${s.targets.map((x) => `**${x.name}** (${x.mode}, ${platformOf(x.name, x.platform)})`).join(", ")}.`,
        "",
        `Each figure is ${repetitionText}, followed by its **95% confidence interval** in brackets ` +
            `(positive figures: Student t on the logarithms, exp(mean(ln x) ± t(0.975, n−1)·sd(ln x)/√n), which never reaches 0; ` +
            `counts with zeros: mean ± t·s/√n held at 0). Every tool run lasts ${st.durationSeconds} s after a discarded ${st.warmupSeconds} s warm-up ` +
            `(iperf3 \`-O\`; wrk and sockperf ping-pong: a separate run thrown away; sockperf under-load: its own first 400 ms${udpCost}). ` +
            scheduleSentence(s),
        "",
    ];
}

/** The baseline, and whether it was chosen when rendering; nothing without one. */
function baselineLines(s: BenchSummaryFile, rendered: { readonly recordedBaseline: string | undefined } | undefined): string[] {
    if (!s.baseline) return [];
    const recordedBaseline = rendered?.recordedBaseline;
    const chosen = rendered && recordedBaseline !== s.baseline ? ` (chosen when rendering with \`--baseline ${s.baseline}\`; the run recorded ${recordedBaseline ?? "none"})` : "";
    return [
        `Baseline: **${s.baseline}**${chosen}. "≈" / "within noise" marks a figure whose difference from the baseline has a 95% interval (Welch's t, on the difference itself) that contains 0: that difference is not shown to be real.`,
        "",
    ];
}

/**
 * Field report 1's table where it belongs: first when the baseline has no container network
 * (or a Docker-style bridge), else after the cost section. Nothing without a baseline or a
 * latency to compare.
 */
function fieldReportSection(s: BenchSummaryFile, t: Tables, place: "first" | "after the costs"): string[] {
    const latencyId = s.baseline !== undefined ? fieldLatencyId(t) : undefined;
    const baseInfo = s.targets.find((x) => x.name === s.baseline);
    const baselineFirst = baseInfo !== undefined && (baseInfo.frontends ? baseInfo.frontends.attachment !== "pod-network" : isNetworkMode(baseInfo.mode) && isBaseline(baseInfo.mode));
    if (!latencyId || baselineFirst !== (place === "first")) return [];
    return fieldReportTable(s, t, latencyId);
}

/** The lab's headline: what each datapath costs at a fixed offered load (lab/cli.ts, docs/lab.md). */
function costSection(s: BenchSummaryFile, t: Tables): string[] {
    if (!t.has("iperf3.pod.cross.udpcost.cpuUsPerPacket") && !t.has("iperf3.pod.cross.cost.cpuPerGB")) return [];
    const interleaved = s.settings.schedule === "interleaved" && s.paired !== undefined;
    const out = [
        "## Cost of each datapath at a fixed load",
        "",
        costMethod(s, t),
        "",
        costTable(s, t),
        "",
        ...(interleaved ? [] : [...costRankings(s), ""]),
        ...otherLoadLines(s),
        ...pairedSection(s),
    ];
    if (t.has("iperf3.host.cross.udpcost.cpuUsPerPacket") || t.has("iperf3.host.cross.cost.cpuPerGB")) out.push("![CPU per packet](charts/cost.svg)\n");
    return out;
}

/** The offered loads and what CPU is counted. */
function costMethod(s: BenchSummaryFile, t: Tables): string {
    const st = s.settings;
    const packetRate = st.costPacketBitrate ?? costPacketBitrateDefault;
    const tcpRate = st.costBitrate ?? costBitrateDefault;
    const mps = st.latencyMps ?? loadedLatencyMpsDefault;
    return (
        `Every mode gets the same offered load, so the CPU it spends on it is the cost of its datapath: ` +
        `${costDatagramBytes}-byte UDP datagrams at ${packetRate}bit/s (one packet each on every path; the first ${costUdpWarmupSeconds} s excluded)` +
        `${t.has("iperf3.pod.cross.cost.cpuPerGB") ? `, one TCP stream at ${tcpRate}bit/s` : ""}, ` +
        `guestbook reads straight to a node's frontend port (the NodePort, or a baseline's own port; wrk, ${st.httpConnections} keep-alive connections). CPU is counted for the mode's own processes ` +
        `(its control group: the tools, Apache, Redis, BIRD) plus ksoftirqd, from the end of the warm-up to the end of the run ` +
        `(the tools join the group before they start). Round trips are sockperf under-load at ${mps} messages/s. ` +
        `Throughput (saturating, so on shared cores partly a contest for CPU) comes second.`
    );
}

/** One row per mode, one column per cost figure the run measured. */
function costTable(s: BenchSummaryFile, t: Tables): string {
    const columns: [string, (n: string) => string][] = (
        [
            ["CPU-µs per packet, pod↔pod", "iperf3.pod.cross.udpcost.cpuUsPerPacket"],
            ["CPU-µs per packet, host↔host", "iperf3.host.cross.udpcost.cpuUsPerPacket"],
            [`CPU-s per GB, pod↔pod (${costDatagramBytes}-byte packets)`, "iperf3.pod.cross.udpcost.cpuPerGB"],
            ["CPU-s per GB, pod↔pod (TCP)", "iperf3.pod.cross.cost.cpuPerGB"],
            ["CPU-s per GB, host↔host (TCP)", "iperf3.host.cross.cost.cpuPerGB"],
            ["CPU-ms per guestbook read", "guestbook.read.cpuMsPerRequest"],
            ["guestbook socket errors", "guestbook.read.errors"],
            ["round trip p50 at a fixed rate (µs)", "latency.pod.cross.load.p50"],
            ["round trip p99 at a fixed rate (µs)", "latency.pod.cross.load.p99"],
            ["throughput pod↔pod, saturating (Gbit/s)", "iperf3.pod.cross.tcp1.gbps"],
        ] as const
    )
        .filter(([, id]) => t.has(id))
        .map(([head, id]) => [head, (n: string) => t.cell(n, id)] as [string, (n: string) => string]);
    if (t.has("iperf3.pod.cross.tcp1.gbps") && t.has("iperf3.host.cross.tcp1.gbps")) columns.push(["% of host", (n) => percentOfHostCell(t, n, "tcp1")]);
    const names = s.targets.map((x) => x.name);
    return table(
        ["mode", ...columns.map(([h]) => h)],
        names.map((n) => [n === s.baseline ? `${n} (baseline)` : n, ...columns.map(([, cell]) => cell(n))]),
    );
}

/** Each cost figure's ranking and the pairs the run separates. */
function costRankings(s: BenchSummaryFile): string[] {
    const out = [
        `Modes ordered by median, best (cheapest) first; "<" between neighbours whose 95% intervals do not overlap, "≈" where the run cannot tell them apart; then every pair whose intervals do not overlap:`,
        "",
    ];
    for (const [id, what] of [
        ["iperf3.pod.cross.udpcost.cpuUsPerPacket", "CPU per packet, pod↔pod"],
        ["iperf3.host.cross.udpcost.cpuUsPerPacket", "CPU per packet, host↔host (the same path in every mode)"],
        ["iperf3.pod.cross.cost.cpuPerGB", "CPU per GB, pod↔pod (TCP)"],
        ["guestbook.read.cpuMsPerRequest", "CPU per guestbook read"],
        ["latency.pod.cross.load.p50", "round trip p50 at a fixed rate"],
    ] as const) {
        const r = ranking(s, id);
        if (!r) continue;
        const pairs = separatedPairs(s, id);
        out.push(`- ${what}: ${r}; pairs the run separates: ${pairs.length ? pairs.join(", ") : "none"}`);
    }
    return out;
}

/** Table 1: HTTP percentiles, requests/s and CPU per mode (the cost over the baseline is above). */
function httpSection(s: BenchSummaryFile, t: Tables): string[] {
    const latencyId = t.has("http.lb.latency.mean") ? "http.lb.latency.mean" : "http.nodeport.latency.mean";
    if (!t.has(latencyId)) return [];
    const viaLb = latencyId.startsWith("http.lb");
    const via = viaLb ? "through the load balancer" : "straight to a node's frontend port (no load balancer)";
    const names = s.targets.map((x) => x.name);
    return [
        `## 1. HTTP ${via}`,
        "",
        `wrk, ${s.settings.httpConnections} connections, GET / on the guestbook frontend. Medians of the repetitions; "path" says what sits between the client and the frontends.`,
        "",
        table(
            [
                "mode",
                "path to the frontends",
                "mean latency (ms)",
                "p50 (ms)",
                "p99 (ms)",
                "requests/s",
                "node CPU-s per 1k requests",
                ...(t.has("http.nodeport.latency.mean") && viaLb ? ["mean straight to a node (ms), LB's share excluded"] : []),
            ],
            names.map((n) => [
                n,
                frontendPath(
                    s.targets.find((x) => x.name === n),
                    viaLb,
                ),
                t.cell(n, latencyId),
                t.cell(n, latencyId.replace("mean", "p50"), false),
                t.cell(n, latencyId.replace("mean", "p99"), false),
                t.cell(n, latencyId.replace("latency.mean", "rps"), false),
                t.cell(n, latencyId.replace("latency.mean", "cpuPer1kRequests"), false),
                ...(t.has("http.nodeport.latency.mean") && latencyId.startsWith("http.lb") ? [t.cell(n, "http.nodeport.latency.mean")] : []),
            ]),
        ),
        "",
        "![HTTP latency percentiles](charts/latency-percentiles.svg)",
        "",
    ];
}

/** Table 2: the paper — iperf3 across nodes vs the host network. */
function throughputSection(s: BenchSummaryFile, t: Tables): string[] {
    if (!t.has("iperf3.pod.cross.tcp1.gbps")) return [];
    const st = s.settings;
    return [
        "## 2. Throughput, iperf3 (the shape of the paper's table)",
        "",
        `\`iperf3 -J -O ${st.warmupSeconds} -t ${st.durationSeconds}\`, server on node 1, client on node 2 ("same node": both on node 1). "host" rows are hostNetwork pods on the same two nodes. ${t.has("iperf3.pod.cross.udp.gbps") ? `UDP offered at ${st.udpBitrate}bit/s. ` : ""}${percentOfHostDefinition}`,
        "",
        table(
            ["network", "TCP 1 stream (Gbit/s)", "% of host", "TCP 8 streams (Gbit/s)", "same node, 1 stream", "retransmits", "UDP loss % / jitter ms", "CPU-s per Gbit", "vs baseline"],
            throughputRows(s, t),
        ),
        "",
        "![Throughput per mode](charts/throughput.svg)",
        "",
    ];
}

/** Per target a pod-network row, and a host-network row when the run measured the host path. */
function throughputRows(s: BenchSummaryFile, t: Tables): string[][] {
    const rows: string[][] = [];
    for (const n of s.targets.map((x) => x.name)) {
        rows.push([
            `${n} (pod network)`,
            t.cell(n, "iperf3.pod.cross.tcp1.gbps"),
            percentOfHostCell(t, n, "tcp1"),
            t.cell(n, "iperf3.pod.cross.tcp8.gbps"),
            t.cell(n, "iperf3.pod.same.tcp1.gbps", false),
            t.cell(n, "iperf3.pod.cross.tcp1.retransmits", false),
            `${t.cell(n, "iperf3.pod.cross.udp.loss", false)} / ${t.cell(n, "iperf3.pod.cross.udp.jitter", false)}`,
            t.cell(n, "iperf3.pod.cross.tcp1.cpuPerGbit", false),
            s.baseline ? t.cost(n, "iperf3.pod.cross.tcp1.gbps", false) : "–",
        ]);
        if (t.has("iperf3.host.cross.tcp1.gbps"))
            rows.push([
                `${n} (host network)`,
                t.cell(n, "iperf3.host.cross.tcp1.gbps"),
                t.has("iperf3.host.cross.tcp1.gbps") ? "100" : "–",
                t.cell(n, "iperf3.host.cross.tcp8.gbps"),
                "–",
                t.cell(n, "iperf3.host.cross.tcp1.retransmits", false),
                `${t.cell(n, "iperf3.host.cross.udp.loss", false)} / ${t.cell(n, "iperf3.host.cross.udp.jitter", false)}`,
                t.cell(n, "iperf3.host.cross.tcp1.cpuPerGbit", false),
                "–",
            ]);
    }
    return rows;
}

/** Table 3: the paper's web test, reads and writes apart. */
function guestbookSection(s: BenchSummaryFile, t: Tables): string[] {
    if (!t.has("guestbook.read.rps") && !t.has("guestbook.write.rps")) return [];
    // The columns of the kinds this run measured (the lab measures reads only).
    const kinds = (["read", "write"] as const).filter((k) => t.has(`guestbook.${k}.rps`));
    const head = kinds.flatMap((k) => [`${k}s/s`, `${k} p50 (ms)`, `${k} p60 (ms)`, `${k} max (ms)`, `${k} socket errors / non-2xx`]);
    return [
        "## 3. Guestbook stress test (the paper's web test)",
        "",
        "`GET /guestbook.php?cmd=get&key=guestbook` (reads, served by the Redis followers) and `cmd=set` (writes, the leader), separately.",
        "",
        table(
            ["mode", ...head, "reads/s vs baseline"],
            s.targets.map(({ name: n }) => [
                n,
                ...kinds.flatMap((k) => [
                    t.cell(n, `guestbook.${k}.rps`),
                    t.cell(n, `guestbook.${k}.latency.p50`, false),
                    t.cell(n, `guestbook.${k}.latency.p60`, false),
                    t.cell(n, `guestbook.${k}.latency.max`, false),
                    `${t.cell(n, `guestbook.${k}.errors`, false)} / ${t.cell(n, `guestbook.${k}.non2xx`, false)}`,
                ]),
                s.baseline && t.has("guestbook.read.rps") ? t.cost(n, "guestbook.read.rps", false) : "–",
            ]),
        ),
        "",
    ];
}

/** Table 4: sockperf round trips, pod and host, across and within a node. */
function latencySection(s: BenchSummaryFile, t: Tables): string[] {
    if (!t.has("latency.pod.cross.p50")) return [];
    return [
        "## 4. Request/response latency (sockperf TCP ping-pong, round trip)",
        "",
        table(
            ["mode", "pod↔pod p50 (µs)", "pod↔pod p99 (µs)", "same node p50", "same node p99", "host↔host p50", "host↔host p99", "pod p50 vs baseline"],
            s.targets.map(({ name: n }) => [
                n,
                t.cell(n, "latency.pod.cross.p50"),
                t.cell(n, "latency.pod.cross.p99"),
                t.cell(n, "latency.pod.same.p50", false),
                t.cell(n, "latency.pod.same.p99", false),
                t.cell(n, "latency.host.cross.p50", false),
                t.cell(n, "latency.host.cross.p99", false),
                s.baseline ? t.cost(n, "latency.pod.cross.p50", true) : "–",
            ]),
        ),
        "",
    ];
}

/** Table 5: the paper's scaling figure, one row per pod count measured. */
function scalingSection(s: BenchSummaryFile, t: Tables): string[] {
    const counts = s.settings.scalingPods.filter((c) => t.has(`scaling.${c}.throughput`));
    if (!counts.length) return [];
    const names = s.targets.map((x) => x.name);
    return [
        "## 5. Scaling (the paper's figure): aggregate TCP throughput, pods in cross-node pairs",
        "",
        table(
            ["pods", ...names.map((n) => `${n} (Gbit/s)`)],
            counts.map((c) => [String(c), ...names.map((n) => t.cell(n, `scaling.${c}.throughput`))]),
        ),
        "",
        "![Scaling curve](charts/scaling.svg)",
        "",
    ];
}

/** What each run ran on: kernels, versions, MTUs, frontends, Cilium's datapath, AWS provenance. */
function environmentSection(s: BenchSummaryFile): string[] {
    return [
        "## Environment and MTU per mode, per run",
        "",
        "MTUs are measured on the path to the other node, over netlink (the smaller of the interface's MTU and its route's, when the route carries one), next to what the stack says it configured, and where its guestbook frontends answer (the stack's `frontends` output).",
        "",
        table(
            [
                "target",
                "rep",
                "mode",
                "kernel",
                "instance type",
                "AZ",
                "k3s",
                "CNI",
                "node NIC MTU (measured)",
                "pod MTU (measured)",
                "configured node / pod",
                "frontends: port, attachment, replicas, MTU",
            ],
            environmentRows(s),
        ),
        "",
        ...ciliumDatapathLines(s),
        ...provenanceLines(s),
    ];
}

/** Notes that apply to the modes measured, then the targets' descriptions and the run's notes. */
function notesSection(s: BenchSummaryFile): string[] {
    const out = ["## Notes", ""];
    // Only where it applies: a run that measured an IP-in-IP mode.
    const ipipMeasured = s.targets.some((x) => isNetworkMode(x.mode) && modeFacts[x.mode].tunnel?.kind === "ipip" && s.samples.some((m) => m.target === x.name));
    if (ipipMeasured)
        out.push(
            `- **This run includes an IP-in-IP mode.** AWS caps a single flow at 5 Gbit/s (10 inside a cluster placement group). IP-in-IP packets carry no ports, so all pod traffic between two nodes in calico-ipip is ONE flow for that cap, however many streams iperf3 opens: its 8-stream and scaling figures can hit the cap where the UDP-encapsulated modes (VXLAN, whose outer source port varies per flow) and the native modes do not.`,
        );
    const measured = (x: BenchSummaryFile["targets"][number]) => isNetworkMode(x.mode) && s.samples.some((m) => m.target === x.name);
    const kubeProxyFree = s.targets.filter((x) => measured(x) && modeFacts[x.mode as NetworkMode].serviceProxies.includes("ebpf")).map((x) => x.name);
    if (kubeProxyFree.length > 0)
        out.push(
            `- **Kube-proxy replaced (${kubeProxyFree.join(", ")}):** Cilium's eBPF programs implement Services there, so the HTTP figures through the NodePort and the load balancer (and the SNAT when a request is forwarded to the other node) measure Cilium's Service path as well as its pod network; the other modes' go through kube-proxy's iptables rules. The host routing and masquerading each Cilium agent reported are under "Environment".`,
        );
    const baselines = s.targets.filter((x) => measured(x) && isBaseline(x.mode as NetworkMode)).map((x) => x.name);
    if (baselines.length > 0)
        out.push(
            `- **Baselines (${baselines.join(", ")}):** one frontend per node on the node's port (no Service, no kube-proxy), Redis at node addresses (leader on node 1, one follower on node 2) instead of 10 frontends and 5 followers behind Services; compare them with the pod-network modes at a load both topologies serve without queueing (docs/baselines.md).`,
        );
    for (const x of s.targets) if (x.description) out.push(`- ${x.name}: ${x.description}.`);
    for (const n of s.notes) out.push(`- ${n}`);
    out.push("");
    return out;
}

/** The gate's verdict, when the run had one. */
function gateSection(s: BenchSummaryFile): string[] {
    if (!s.gate) return [];
    return [
        "## Gate",
        "",
        s.gate.passed
            ? `Passed: no mode is more than ${s.gate.maxOverheadPct}% worse than ${s.baseline} on the gated figures (${s.figures
                  .filter((f) => f.gated)
                  .map((f) => f.id)
                  .join(", ")}).`
            : `**Failed** (limit ${s.gate.maxOverheadPct}% over ${s.baseline}):\n\n` + s.gate.violations.map((v) => `- ${v.target}: ${v.id} is ${v.overheadPct.toFixed(1)}% worse`).join("\n"),
        "",
    ];
}

/** Each failed measurement, first line of its message. */
function errorsSection(s: BenchSummaryFile): string[] {
    if (!s.errors.length) return [];
    return ["## Errors", "", ...s.errors.map((e) => `- ${e.target}, repetition ${e.repetition}, ${e.measurement}: ${e.message.split("\n")[0]}`), ""];
}

/** Every figure of the run for every target, with its overhead over the baseline. */
function everyFigureSection(s: BenchSummaryFile, t: Tables): string[] {
    const names = s.targets.map((x) => x.name);
    return [
        "## Every figure",
        "",
        table(
            ["figure", "unit", ...names],
            s.figures.map((f) => [
                figureLabel(s, f),
                f.unit,
                ...names.map((n) => {
                    const c = t.cell(n, f.id);
                    const over = s.baseline && n !== s.baseline ? t.get(n, f.id)?.overheadPct : undefined;
                    return over === undefined ? c : `${c} (${over >= 0 ? "+" : ""}${over.toFixed(1)}%)`;
                }),
            ]),
        ),
        "",
        "Overheads in parentheses: percent worse than the baseline (negative: better).",
        "",
    ];
}

/** Where the tool outputs behind every figure are kept. */
function rawOutputsSection(): string[] {
    return [
        "## Raw outputs",
        "",
        "Every tool output is kept under `raw/<target>/rep<N>/<measurement>/`; each file starts with the shell it ran on and the exact command line. `summary.json` holds every sample with the raw files it came from.",
        "",
    ];
}

/** The charts the run has figures for: cost per packet, throughput, HTTP latency percentiles, scaling curve. */
export function reportCharts(s: BenchSummaryFile): Record<string, string> {
    const t = new Tables(s);
    const charts: Record<string, string> = {};
    const add = (name: string, svg: string | undefined) => {
        if (svg !== undefined) charts[name] = svg;
    };
    add("cost.svg", costChart(s, t));
    add("throughput.svg", throughputChart(s, t));
    add("latency-percentiles.svg", latencyChart(s, t));
    add("scaling.svg", scalingChart(s, t));
    // Without iperf3, the throughput chart is HTTP requests/s.
    if (!charts["throughput.svg"]) add("throughput.svg", httpRpsChart(s, t));
    return charts;
}

/** A bar for a figure's median with its 95% interval; undefined when the target lacks it. */
function barOf(t: Tables, target: string, id: string, label: string) {
    const st = t.get(target, id);
    return st ? { label, value: st.stats.median, low: st.stats.ci95?.low, high: st.stats.ci95?.high, clippedAtZero: st.stats.ciMethod === "t-clipped-at-0" && st.stats.ci95?.low === 0 } : undefined;
}

function costChart(s: BenchSummaryFile, t: Tables): string | undefined {
    const series: [string, string][] = [
        ["iperf3.pod.cross.udpcost.cpuUsPerPacket", "pod↔pod"],
        ["iperf3.host.cross.udpcost.cpuUsPerPacket", "host↔host"],
    ];
    if (!t.has(series[0][0])) return undefined;
    const groups: BarGroup[] = s.targets.map(({ name: n }) => ({ label: n, baseline: n === s.baseline, bars: series.map(([id, label]) => barOf(t, n, id, label)).filter((b) => b !== undefined) }));
    return groupedBarChart(
        `CPU per ${costDatagramBytes}-byte packet at a fixed rate (median, 95% CI)`,
        "CPU-µs per packet",
        groups,
        series.map(([, l]) => l),
    );
}

function throughputChart(s: BenchSummaryFile, t: Tables): string | undefined {
    const series: [string, string][] = [
        ["iperf3.pod.cross.tcp1.gbps", "pod↔pod, 1 stream"],
        ["iperf3.pod.cross.tcp8.gbps", "pod↔pod, 8 streams"],
        ["iperf3.host.cross.tcp1.gbps", "host↔host, 1 stream"],
    ];
    if (!t.has("iperf3.pod.cross.tcp1.gbps")) return undefined;
    // Only the series this run measured: no legend entry, no empty slot for a figure it did not take.
    const measured = series.filter(([id]) => t.has(id));
    const groups: BarGroup[] = s.targets.map(({ name: n }) => ({ label: n, baseline: n === s.baseline, bars: measured.map(([id, label]) => barOf(t, n, id, label)).filter((b) => b !== undefined) }));
    const what = measured.length === 1 ? `: ${measured[0][1]}` : "";
    return groupedBarChart(
        `iperf3 throughput across nodes${what} (median, 95% CI)`,
        "Gbit/s",
        groups,
        measured.map(([, l]) => l),
    );
}

function latencyChart(s: BenchSummaryFile, t: Tables): string | undefined {
    const httpPrefix = t.has("http.lb.latency.p50") ? "http.lb" : t.has("http.nodeport.latency.p50") ? "http.nodeport" : undefined;
    if (!httpPrefix) return undefined;
    const names = s.targets.map((x) => x.name);
    // Series are the modes here: the baseline is named in the legend.
    const seriesName = (n: string) => (n === s.baseline ? `${n} (baseline)` : n);
    const groups: BarGroup[] = ["p50", "p90", "p99"].map((p) => ({ label: p, bars: names.map((n) => barOf(t, n, `${httpPrefix}.latency.${p}`, seriesName(n))).filter((b) => b !== undefined) }));
    return groupedBarChart(`HTTP latency percentiles (${httpPrefix === "http.lb" ? "via load balancer" : "straight to a node's frontend port"})`, "ms", groups, names.map(seriesName));
}

function scalingChart(s: BenchSummaryFile, t: Tables): string | undefined {
    const counts = s.settings.scalingPods.filter((c) => t.has(`scaling.${c}.throughput`));
    if (!counts.length) return undefined;
    return lineChart(
        "Aggregate throughput vs pods (cross-node pairs)",
        "pods",
        "Gbit/s",
        s.targets.map(({ name: n }) => ({
            name: n,
            points: counts.flatMap((c) => {
                const st = t.get(n, `scaling.${c}.throughput`);
                return st ? [{ x: c, y: st.stats.median, low: st.stats.ci95?.low, high: st.stats.ci95?.high }] : [];
            }),
        })),
    );
}

function httpRpsChart(s: BenchSummaryFile, t: Tables): string | undefined {
    if (!t.has("http.lb.rps")) return undefined;
    return barChart(
        "HTTP requests/s via load balancer (median, 95% CI)",
        "req/s",
        s.targets.map(({ name: n }) => barOf(t, n, "http.lb.rps", n)).filter((b) => b !== undefined),
    );
}

export interface RenderOptions {
    /** Compare against this target instead of the baseline the run recorded (`--baseline`). */
    readonly baseline?: string;
}

/** Writes report.md and charts/ into `folder` from its summary.json (which it never rewrites). */
export async function renderReport(folder: string, options: RenderOptions = {}): Promise<void> {
    const recorded = readSummary(folder);
    // Checked before anything is written: a wrong --baseline leaves the folder as it was.
    const summary = withBaseline(recorded, options.baseline ?? recorded.baseline, path.join(folder, "summary.json"));
    const charts = reportCharts(summary);
    fs.mkdirSync(path.join(folder, "charts"), { recursive: true });
    for (const [name, svg] of Object.entries(charts)) fs.writeFileSync(path.join(folder, "charts", name), svg);
    // A comparison adds what its stacks cost on AWS (estimate and measured) once its stacks are torn down.
    const bill = readBillFile(folder);
    fs.writeFileSync(path.join(folder, "report.md"), reportMarkdown(summary, { recordedBaseline: recorded.baseline }) + (bill ? `\n${billMarkdown(bill)}` : ""));
}

/**
 * How the targets took turns, as the run recorded it (summary.json settings.schedule, written by
 * bench/run.ts). Files without it predate concurrent measuring: those runs were round-robin.
 */
export function scheduleSentence(s: Pick<BenchSummaryFile, "settings" | "order">): string {
    if (s.settings.schedule === "concurrent") {
        return "Targets were measured concurrently: separate clusters, all at the same time, each running its repetitions one after another.";
    }
    if (s.settings.schedule === "interleaved") {
        const budget = s.settings.budgetSeconds !== undefined ? `, as many as a measuring budget of ${Math.round(s.settings.budgetSeconds)} s held (a rule on the clock, never on the figures)` : "";
        return `Targets were measured interleaved: ${s.order.length} rounds${budget}; in each round every case ran on every target, one at a time, in a fresh random order per case (seed ${s.settings.seed}; every order is in summary.json \`blocks\`).`;
    }
    return `Targets were measured round-robin, one at a time, the order rotated each repetition: ${s.order.map((o, i) => `${i + 1}: ${o.join(" → ")}`).join("; ")}.`;
}
