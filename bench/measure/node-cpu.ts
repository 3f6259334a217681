/** Busy CPUs on the nodes while a tool runs: the CPU figures of runs on whole machines. */
import { cpuSamplerCommand } from "./commands";
import { busyCpuRate, parseCpuSamples } from "./parse";
import type { MeasureContext } from "./context";
import type { BackgroundProcess } from "../sessions/shell";

/** What `body` returned, the busy CPUs while it ran (undefined when a node gave no samples), and the samplers' raw outputs. */
export interface WithCpu<T> {
    readonly value: T;
    readonly busyCpus?: number;
    readonly raw: string[];
}

/**
 * Busy CPUs on the nodes while `body` runs (summed over the nodes, averaged over the samples
 * after `skipSeconds`, the warm-up). Nodes that share a kernel (lab, loopback) are sampled once.
 * Cost per unit of work = this rate / the work's rate (Gbit/s, requests/s).
 */
export async function withCpu<T>(ctx: MeasureContext, name: string, seconds: number, skipSeconds: number, body: () => Promise<T>): Promise<WithCpu<T>> {
    const hosts = ctx.session.sharedKernel ? ctx.session.hosts.slice(0, 1) : ctx.session.hosts;
    const command = cpuSamplerCommand(Math.ceil(seconds) + 2);
    const samplers: BackgroundProcess[] = hosts.map((h) => h.start(command));
    const stopAll = () => Promise.all(samplers.map((s) => s.stop()));
    const value = await body().catch(async (err) => {
        await stopAll();
        throw err;
    });
    const outputs = await stopAll();
    const raw: string[] = [];
    let total = 0;
    let complete = true;
    outputs.forEach((r, i) => {
        raw.push(ctx.record(`${name}-cpu-node${i + 1}`, hosts[i], command, r));
        const samples = parseCpuSamples(r.stdout);
        const busy = samples.length ? busyCpuRate(samples, ctx.clkTck, samples[0].time + skipSeconds) : undefined;
        if (busy === undefined) complete = false;
        else total += busy;
    });
    return { value, busyCpus: complete ? total : undefined, raw };
}
