/**
 * The report's table for the Service-proxy axis (docs/service-proxy.md): per figure, one row per
 * target (its proxy mode), one column per Service count, each cell the median and 95% interval of
 * its repetitions (stats.ts), then the change from the first count to the last with Welch's
 * interval on the difference; last, what each proxy had installed at each count, read back from
 * the kernel (summary.json `serviceAxis`).
 */
import { parseServiceFigureId, serviceFigureId } from "../service-axis";
import { differenceInterval95, summarize } from "./stats";
import type { BenchSummaryFile } from "./summary";

/** The axis's figures, in the order the report shows them (those a run has). */
export const serviceAxisFigures: readonly { readonly id: string; readonly title: string }[] = [
    // The proxy's cost first: CPU and the handshake. The rate and the p99 also carry the SYN
    // retries that the server's TIME_WAIT from earlier runs causes (docs/service-proxy.md).
    { id: "guestbook.connect.cpuMsPerConnection", title: "CPU per new connection (the mode's processes and ksoftirqd)" },
    { id: "guestbook.connect.cpuPer1kConnections", title: "Node CPU per 1000 new connections" },
    { id: "guestbook.connect.connect.p50", title: "TCP handshake p50, one connection at a time" },
    { id: "guestbook.connect.firstByte.p50", title: "First byte p50, from the connection's start, one at a time" },
    { id: "guestbook.connect.cps", title: "New connections per second (Connection: close, via NodePort; bounded too by the SYN retries below)" },
    { id: "guestbook.connect.synRetries", title: "SYNs sent again during the connection-rate run (each holds a connection up)" },
    { id: "guestbook.connect.firstByte.p99", title: "First byte p99, from the connection's start, one at a time" },
    { id: "guestbook.connect.errors", title: "Socket errors in the new-connection runs" },
    { id: "guestbook.read.rps", title: "Keep-alive guestbook reads per second" },
    { id: "guestbook.read.cpuMsPerRequest", title: "CPU per keep-alive guestbook read" },
];

/** The report's own number format and markdown table (report.ts), so every table reads alike. */
export interface ReportFormat {
    format(value: number, unit: string): string;
    table(header: readonly string[], rows: readonly (readonly string[])[]): string;
}

/** The section, or nothing when the run had no Service-count axis. */
export function serviceAxisSection(s: BenchSummaryFile, { format, table: markdownTable }: ReportFormat): string[] {
    const axis = s.serviceAxis;
    if (!axis || axis.counts.length === 0) return [];
    const counts = axis.counts;
    const modeOf = (target: string) => axis.points.find((p) => p.target === target)?.mode ?? "?";
    const rows = s.targets.map((t) => ({ name: t.name, label: `${t.name} (${modeOf(t.name)})` }));
    const values = (target: string, id: string) => s.samples.filter((x) => x.target === target && x.id === id && Number.isFinite(x.value)).map((x) => x.value);
    const unitOf = (id: string) => s.figures.find((f) => parseServiceFigureId(f.id)?.id === id)?.unit;
    const cell = (xs: readonly number[], unit: string) => {
        if (xs.length === 0) return "–";
        const st = summarize(xs);
        return `${format(st.median, unit)}${st.ci95 ? ` [${format(st.ci95.low, unit)}–${format(st.ci95.high, unit)}]` : ""}`;
    };
    const first = counts[0];
    const last = counts[counts.length - 1];
    const out = [
        "## Service proxy: cost by number of Services",
        "",
        `Columns: how many extra Services (each with endpoints) existed while measuring (\`--services\`); rows: the target and its Service proxy. ` +
            "Each cell is the median of the repetitions with its 95% interval. " +
            (counts.length > 1 ? `"${last} vs ${first}" is the difference of the means with Welch's 95% interval; an interval that contains 0 does not show a change. ` : "") +
            "Method: docs/service-proxy.md.",
        "",
    ];
    for (const figure of serviceAxisFigures) {
        const unit = unitOf(figure.id);
        if (unit === undefined) continue;
        const head = ["target (proxy)", ...counts.map((c) => `${c} Services`), ...(counts.length > 1 ? [`${last} vs ${first}`] : [])];
        const body = rows.map((r) => {
            const cells = counts.map((c) => cell(values(r.name, serviceFigureId(figure.id, c)), unit));
            if (counts.length < 2) return [r.label, ...cells];
            const d = differenceInterval95(values(r.name, serviceFigureId(figure.id, last)), values(r.name, serviceFigureId(figure.id, first)));
            const signed = (v: number) => `${v >= 0 ? "+" : "−"}${format(Math.abs(v), unit)}`;
            return [r.label, ...cells, d ? `${signed(d.estimate)} [${signed(d.low)}, ${signed(d.high)}]` : "– (needs 2 repetitions at both counts)"];
        });
        out.push(`### ${figure.title} (${unit})`, "", markdownTable(head, body), "");
    }
    out.push(
        "### Installed, read back from node 1's kernel, and how long setting the count took",
        "",
        markdownTable(
            ["target (proxy)", ...counts.map((c) => `${c} Services`)],
            rows.map((r) => [
                r.label,
                ...counts.map((c) => {
                    const p = axis.points.find((x) => x.target === r.name && x.services === c);
                    if (!p) return "– (not set)";
                    const installed = Object.entries(p.installed)
                        .map(([k, v]) => `${k}: ${v}`)
                        .join("; ");
                    return `${installed || "(nothing)"}${p.setSeconds === undefined ? "" : `; set in ${format(p.setSeconds, "s")} s`}`;
                }),
            ]),
        ),
        "",
    );
    return out;
}
