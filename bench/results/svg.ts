/**
 * Small SVG charts written as text (no browser, no canvas): bars with 95% CI whiskers, grouped
 * bars for latency percentiles, and lines for the scaling curve. Pure functions: data in, SVG out.
 */

export interface Bar {
    readonly label: string;
    readonly value: number;
    /** 95% interval; drawn as a whisker when present. */
    readonly low?: number;
    readonly high?: number;
    /** The interval's lower end was held at 0 (a count's t-interval): marked with a triangle. */
    readonly clippedAtZero?: boolean;
}

export interface BarGroup {
    readonly label: string;
    readonly bars: readonly Bar[];
    /** The baseline every other group is compared with: labelled, and its values drawn as dashed lines. */
    readonly baseline?: boolean;
}

export interface Series {
    readonly name: string;
    readonly points: readonly { readonly x: number; readonly y: number; readonly low?: number; readonly high?: number }[];
}

const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
const width = 720;
const height = 400;
const margin = { left: 70, right: 20, top: 40, bottom: 80 };

export function escapeXml(s: string): string {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A "nice" axis maximum (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) at or above `v`. */
export function niceMax(v: number): number {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v * (1 - 1e-12)) return m * p;
    return 10 * p;
}

/**
 * Axis ticks from 0 to at least `v`: 4 to 6 steps of 1, 2, 2.5 or 5 × 10^k, every label with the
 * same number of decimals (the step's), so an axis never reads "0, 5, 10.0" or "62.5, 125, 188".
 */
export function niceTicks(v: number): { max: number; ticks: number[]; labels: string[] } {
    const top = v > 0 ? v : 1;
    const raw = top / 5;
    const p = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((st) => st >= raw * (1 - 1e-12)) ?? 10 * p;
    const count = Math.max(1, Math.ceil(top / step - 1e-9));
    // Decimals the step needs: 0.25 → 2, 2.5 → 1, 50 → 0.
    let decimals = 0;
    while (decimals < 10 && Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-9 * 10 ** decimals) decimals++;
    const ticks = Array.from({ length: count + 1 }, (_, i) => Number((i * step).toFixed(decimals)));
    return { max: ticks[count], ticks, labels: ticks.map((t) => t.toFixed(decimals)) };
}

function fmt(v: number): string {
    if (v === 0) return "0";
    return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : String(Number(v.toPrecision(3)));
}

function frame(title: string, yLabel: string, axis: { max: number; ticks: number[]; labels: string[] }, body: string[], legend: string[] = []): string {
    const plotH = height - margin.top - margin.bottom;
    const ticks = axis.ticks.map((v, i) => {
        const y = margin.top + plotH * (1 - v / axis.max);
        return (
            `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#ddd"/>` +
            `<text x="${margin.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11">${axis.labels[i]}</text>`
        );
    });
    return [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
        `<rect width="${width}" height="${height}" fill="white"/>`,
        `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
        `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(yLabel)}</text>`,
        ...ticks,
        ...body,
        ...legend,
        `<line x1="${margin.left}" x2="${width - margin.right}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#333"/>`,
        "</svg>",
        "",
    ].join("\n");
}

function legendItems(names: readonly string[]): string[] {
    return names.map((n, i) => {
        const x = margin.left + (i % 4) * 160;
        const y = height - 30 + Math.floor(i / 4) * 14;
        return `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${palette[i % palette.length]}"/><text x="${x + 14}" y="${y}" font-size="11">${escapeXml(n)}</text>`;
    });
}

/**
 * Grouped bars; each group is one mode (or one percentile), each bar one series, whiskers for
 * CIs. A group without bars says "not measured"; the baseline group is labelled as such and its
 * values are drawn across the plot as dashed lines; a whisker held at 0 ends in a triangle.
 */
export function groupedBarChart(title: string, yLabel: string, groups: readonly BarGroup[], seriesNames: readonly string[]): string {
    const plotW = width - margin.left - margin.right;
    const plotH = height - margin.top - margin.bottom;
    const axis = niceTicks(Math.max(0, ...groups.flatMap((g) => g.bars.map((b) => Math.max(b.value, b.high ?? 0)))));
    const y = (v: number) => margin.top + plotH * (1 - Math.max(0, v) / axis.max);
    const groupW = plotW / Math.max(1, groups.length);
    const barW = (groupW * 0.8) / Math.max(1, seriesNames.length);
    const body: string[] = [];
    let clipped = false;
    for (const g of groups.filter((x) => x.baseline)) {
        for (const b of g.bars) {
            const si = Math.max(0, seriesNames.indexOf(b.label));
            body.push(
                `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(b.value).toFixed(1)}" y2="${y(b.value).toFixed(1)}" stroke="${palette[si % palette.length]}" stroke-dasharray="5 4" stroke-width="1"/>`,
            );
        }
    }
    groups.forEach((g, gi) => {
        const gx = margin.left + gi * groupW + groupW * 0.1;
        g.bars.forEach((b) => {
            const si = Math.max(0, seriesNames.indexOf(b.label));
            const x = gx + si * barW;
            body.push(
                `<rect x="${x.toFixed(1)}" y="${y(b.value).toFixed(1)}" width="${(barW * 0.9).toFixed(1)}" height="${(y(0) - y(b.value)).toFixed(1)}" fill="${palette[si % palette.length]}"><title>${escapeXml(`${g.label} ${b.label}: ${fmt(b.value)}`)}</title></rect>`,
            );
            if (b.low !== undefined && b.high !== undefined) {
                const cx = x + barW * 0.45;
                body.push(
                    `<path d="M${cx.toFixed(1)} ${y(b.low).toFixed(1)}V${y(b.high).toFixed(1)}M${(cx - 4).toFixed(1)} ${y(b.low).toFixed(1)}h8M${(cx - 4).toFixed(1)} ${y(b.high).toFixed(1)}h8" stroke="#000" fill="none"/>`,
                );
                if (b.clippedAtZero) {
                    clipped = true;
                    body.push(`<path d="M${(cx - 5).toFixed(1)} ${(y(0) - 8).toFixed(1)}h10l-5 8z" fill="#000"><title>interval held at 0</title></path>`);
                }
            }
        });
        if (g.bars.length === 0) {
            body.push(`<text x="${(gx + groupW * 0.4).toFixed(1)}" y="${(margin.top + plotH - 8).toFixed(1)}" text-anchor="middle" font-size="11" fill="#888">not measured</text>`);
        }
        // "(baseline)" on a second line, so that long mode names do not run into each other.
        const cx = (gx + groupW * 0.4).toFixed(1);
        body.push(
            `<text x="${cx}" y="${margin.top + plotH + 16}" text-anchor="middle" font-size="11"${g.baseline ? ' font-weight="bold"' : ""}>${escapeXml(g.label)}` +
                (g.baseline ? `<tspan x="${cx}" dy="13">(baseline)</tspan>` : "") +
                `</text>`,
        );
    });
    const notes: string[] = [];
    if (groups.some((g) => g.baseline)) notes.push("dashed: the baseline's value");
    if (clipped) notes.push("▼ interval held at 0");
    if (notes.length) body.push(`<text x="${width - margin.right}" y="${margin.top - 8}" text-anchor="end" font-size="10" fill="#555">${escapeXml(notes.join("; "))}</text>`);
    return frame(title, yLabel, axis, body, seriesNames.length > 1 ? legendItems(seriesNames) : []);
}

/** One bar per mode with CI whiskers. */
export function barChart(title: string, yLabel: string, bars: readonly (Bar & { readonly baseline?: boolean })[]): string {
    return groupedBarChart(
        title,
        yLabel,
        bars.map((b) => ({ label: b.label, baseline: b.baseline, bars: Number.isFinite(b.value) ? [{ ...b, label: "value" }] : [] })),
        ["value"],
    );
}

/** Lines over a numeric x axis (the scaling curve), with CI whiskers at each point. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: readonly Series[]): string {
    const plotW = width - margin.left - margin.right;
    const plotH = height - margin.top - margin.bottom;
    const xs = series.flatMap((s) => s.points.map((p) => p.x));
    const xMin = Math.min(0, ...xs);
    const xMax = niceMax(Math.max(1, ...xs));
    const axis = niceTicks(Math.max(0, ...series.flatMap((s) => s.points.map((p) => Math.max(p.y, p.high ?? 0)))));
    const yMax = axis.max;
    const x = (v: number) => margin.left + ((v - xMin) / (xMax - xMin)) * plotW;
    const y = (v: number) => margin.top + plotH * (1 - Math.max(0, v) / yMax);
    const body: string[] = [];
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
        const v = xMin + (xMax - xMin) * t;
        body.push(`<text x="${x(v).toFixed(1)}" y="${margin.top + plotH + 16}" text-anchor="middle" font-size="11">${fmt(v)}</text>`);
    }
    body.push(`<text x="${margin.left + plotW / 2}" y="${margin.top + plotH + 34}" text-anchor="middle" font-size="12">${escapeXml(xLabel)}</text>`);
    series.forEach((s, i) => {
        const color = palette[i % palette.length];
        const pts = [...s.points].sort((a, b) => a.x - b.x);
        if (pts.length) body.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ")}"/>`);
        for (const p of pts) {
            body.push(`<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(`${s.name}, ${p.x}: ${fmt(p.y)}`)}</title></circle>`);
            if (p.low !== undefined && p.high !== undefined) {
                body.push(`<path d="M${x(p.x).toFixed(1)} ${y(p.low).toFixed(1)}V${y(p.high).toFixed(1)}" stroke="${color}"/>`);
            }
        }
    });
    return frame(title, yLabel, axis, body, legendItems(series.map((s) => s.name)));
}
