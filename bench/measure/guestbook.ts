/** 2. The paper's web stress test: guestbook reads and writes, separately, each a wrk run (http.ts);
 * then, when asked for, new connections through the NodePort (connect.ts). */
import { measureNewConnections } from "./connect";
import { guestbookReadPath, guestbookWritePath, joinUrl } from "./commands";
import { checkAborted, wanted, type Figure, type MeasureContext } from "./context";
import { httpFigures, nodePathLabel, runWrk } from "./http";

export async function measureGuestbook(ctx: MeasureContext): Promise<Figure[]> {
    const figures = await measureReadsAndWrites(ctx);
    checkAborted(ctx.signal);
    return [...figures, ...(await measureNewConnections(ctx))];
}

async function measureReadsAndWrites(ctx: MeasureContext): Promise<Figure[]> {
    if (!wanted(ctx, "guestbook.read") && !wanted(ctx, "guestbook.write")) return [];
    const base = ctx.session.http.loadBalancer ?? ctx.session.http.nodePort;
    if (!base) {
        ctx.note("guestbook: the target has no frontend URL; not measured");
        return [];
    }
    if (!ctx.session.http.loadBalancer) {
        const via = nodePathLabel(ctx.session.target.frontends?.attachment).replace(/^HTTP via /, "");
        ctx.note(`guestbook: measured via ${via} (the target has no load balancer)`);
    }
    const figures: Figure[] = [];
    for (const [key, label, path] of [
        ["read", "guestbook reads", guestbookReadPath()],
        ["write", "guestbook writes", guestbookWritePath()],
    ] as const) {
        checkAborted(ctx.signal);
        if (!wanted(ctx, `guestbook.${key}`)) continue;
        const { result, raw, busyCpus, window } = await runWrk(ctx, `guestbook-${key}`, joinUrl(base, path), ctx.settings.httpConnections);
        figures.push(...httpFigures(`guestbook.${key}`, label, "guestbook", result, raw, true, false, busyCpus, ctx.session.sharedKernel, window));
    }
    return figures;
}
