/**
 * A benchmark of loopback "clusters": the real tools against a real guestbook (php -S +
 * redis-server) on 127.0.0.1, through runBenchmark. It proves the tools and the pipeline work
 * on this machine and produces the sample report in docs/sample-report/ — a sample of the
 * report's shape, never a network comparison (there is no network in it).
 *
 *   npm run bench -- sample [<folder>]      (default docs/sample-report)
 */
import * as path from "node:path";
import { sampleProfile } from "./profiles";
import { LoopbackSession } from "./sessions/loopback";
import { freePortBlock, loopbackGuestbookTools, startLoopbackGuestbook } from "./sessions/loopback-guestbook";
import { measurementIds, measurementTools } from "./measure/measurements";
import { debianTool, type Tool } from "../core/tools";
import { runBenchmark, type BenchOptions, type BenchSummary } from "./run";
import { projectDir } from "./stack-outputs";
import type { Target } from "./targets";

/** A target whose every node and pod is this machine. Mode names are labels only here. */
export function loopbackTarget(name: string, mode: string): Target {
    return {
        name,
        platform: "loopback",
        mode,
        nodePort: 30080,
        nodes: [{ name: "node-1" }, { name: "node-2" }],
        podCidr: "10.42.0.0/16",
        mtu: { node: 65536, pod: 65536 },
    };
}

/** Runs `runBenchmark` on loopback targets against a guestbook it starts and stops. */
export async function runLoopbackBenchmark(targets: Target[], options: Omit<BenchOptions, "openSession">): Promise<BenchSummary> {
    const guestbook = await startLoopbackGuestbook();
    try {
        // All "pods" share 127.0.0.1: iperf3 needs its port plus one per scaling pair, sockperf one more.
        const pairs = Math.max(1, ...(options.scalingPods ?? [2]).map((n) => n / 2));
        const base = await freePortBlock(pairs + 2);
        return await runBenchmark(targets, {
            iperf3Port: base,
            sockperfPort: base + pairs + 1,
            ...options,
            openSession: async (t) => new LoopbackSession(t, { http: { loadBalancer: guestbook.url, nodePort: guestbook.url } }),
        });
    } finally {
        await guestbook.stop();
    }
}

/** What the sample starts on this machine: every measurement's tool (loopback shells are local) and the guestbook. */
export function sampleTools(): Tool[] {
    return [...new Set(measurementIds.flatMap((m) => measurementTools[m]))].map(debianTool).concat(loopbackGuestbookTools);
}

export const defaultSampleDir = path.join(projectDir, "docs", "sample-report");

export async function writeSampleReport(outDir: string = defaultSampleDir, onProgress?: BenchOptions["onProgress"], signal?: AbortSignal): Promise<BenchSummary> {
    return runLoopbackBenchmark([loopbackTarget("loopback-a", "loopback"), loopbackTarget("loopback-b", "loopback")], {
        ...sampleProfile,
        outDir,
        baseline: "loopback-b",
        onProgress,
        signal,
    });
}
