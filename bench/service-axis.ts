/**
 * The runner's side of the Service-count axis (issue 23; docs/service-proxy.md): the counts are
 * checked here, and a figure measured with N extra Services carries N in its id
 * (`services1000.guestbook.connect.cps`), so statistics, baselines and every existing table treat
 * each count as a figure of its own and summary.json stays one sample per line.
 */
import { maxServiceCount } from "../components/serviceCounts";
import type { ServiceProxyMode } from "../components/serviceProxy";
import type { ClusterSession } from "./sessions/session";

/** The cases the axis measures by default: new connections and the keep-alive reads next to them. */
export const serviceAxisCases = ["guestbook.connect", "guestbook.read"] as const;

/** The installed rule and map counts of one target at one Service count, read back after `setServices`. */
export interface ServiceAxisPoint {
    readonly target: string;
    readonly mode: ServiceProxyMode;
    /** Extra Services asked for. */
    readonly services: number;
    /** What the proxy had installed (ServiceProxyControl.installed), read back from node 1's kernel. */
    readonly installed: Readonly<Record<string, number>>;
    /** Seconds `setServices` took: until the proxy held that count (absent in summaries before it was kept). */
    readonly setSeconds?: number;
}

/** What summary.json records about the axis. */
export interface ServiceAxisRecord {
    readonly counts: readonly number[];
    readonly points: readonly ServiceAxisPoint[];
}

const idPattern = /^services(\d+)\.(.+)$/;

/** The id of figure `id` measured with `count` extra Services. */
export function serviceFigureId(id: string, count: number): string {
    return `services${count}.${id}`;
}

/** The Service count and the plain figure id of an axis figure id; undefined for any other id. */
export function parseServiceFigureId(id: string): { readonly services: number; readonly id: string } | undefined {
    const m = idPattern.exec(id);
    return m ? { services: Number(m[1]), id: m[2] } : undefined;
}

/** The label of a figure measured with `count` extra Services. */
export function serviceFigureLabel(label: string, count: number): string {
    return `${label} (${count} extra Services)`;
}

/** Checks the counts: whole numbers from 0 to `maxServiceCount`, none twice; the error names the option. */
export function validateServiceCounts(counts: readonly number[]): void {
    if (counts.length === 0) throw new Error("serviceCounts: empty; give at least one Service count, e.g. 0,1000,10000");
    for (const c of counts) {
        if (!Number.isInteger(c) || c < 0 || c > maxServiceCount) {
            throw new Error(`serviceCounts: ${c} is not allowed; use whole numbers from 0 to ${maxServiceCount}`);
        }
    }
    const dup = counts.find((c, i) => counts.indexOf(c) !== i);
    if (dup !== undefined) throw new Error(`serviceCounts: ${dup} appears twice; give each count once`);
}

/** Refuses sessions that cannot change their Service count, naming every such target. */
export function requireServiceProxies(sessions: ReadonlyMap<string, ClusterSession>): void {
    const without = [...sessions.entries()].filter(([, s]) => s.serviceProxy === undefined).map(([name]) => name);
    if (without.length > 0) {
        throw new Error(
            `serviceCounts: ${without.join(", ")} cannot change ${without.length === 1 ? "its" : "their"} number of Services (no Service proxy control in the session); ` +
                "measure only targets built with a Service proxy (lab: --service-proxy; AWS: stacks with serviceProxy in their outputs)",
        );
    }
}
