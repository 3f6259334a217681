/**
 * TEST-ONLY entry of `npm run compare`: runs the real command (compare/cli.ts `main`) with the
 * wiring a test asks for in COMPARE_TEST_WIRING (JSON), for tests that run the CLI as a child
 * process. Production never loads this file.
 *
 *   {"engine":"stand-in","stateDir":DIR}   the stand-in engine and benchmark, state in DIR
 *   {"engine":"pulumi","stateDir":DIR,"schedule":{…}}
 *        the real Pulumi adapter (whatever `pulumi` is on PATH: the tests put a fake there), a
 *        short stop schedule, the stand-in benchmark; ledger and results in DIR
 */
import * as path from "node:path";
import { ConfigError } from "../../components/settings";
import { main, pulumiWiring, type CompareWiring } from "../../compare/cli";
import { runCli } from "../../core/cli";
import type { StopSchedule } from "../../core/pulumi";
import type { AccountCapacity, VcpuQuota } from "../../compare/capacity";
import { StandInEngine, standInBenchmark } from "./stand-in-engine";

/** A fixed quota and no Spot prices: what the tests let the command read from the "account". */
function standInCapacity(quota: VcpuQuota): AccountCapacity {
    return { description: "stand-in account (test only)", vcpuQuota: async () => quota, spotPrice: async () => undefined };
}

export type CompareTestWiring =
    { readonly engine: "stand-in"; readonly stateDir: string; readonly quota?: VcpuQuota } | { readonly engine: "pulumi"; readonly stateDir: string; readonly schedule: StopSchedule };

const projectDir = path.resolve(__dirname, "..", "..");

async function testWiring(env: NodeJS.ProcessEnv): Promise<CompareWiring> {
    const spec = JSON.parse(env.COMPARE_TEST_WIRING ?? "null") as CompareTestWiring | null;
    if (!spec) throw new Error("COMPARE_TEST_WIRING is not set: this entry is for tests only (use compare/cli.ts)");
    const stateDir = path.resolve(spec.stateDir);
    if (spec.engine === "stand-in") {
        const engine = new StandInEngine(stateDir);
        return {
            engine,
            runBenchmark: standInBenchmark(engine),
            projectDir,
            ledgerDir: path.join(stateDir, ".compare-ledger"),
            resultsDir: path.join(stateDir, "results"),
            stopBoundMs: engine.behavior.killAfterMs + 2_000,
            notes: [`TEST ENGINE: ${engine.description}; nothing is created in any cloud`],
            // The stand-in benchmark writes no summary.json, so there is no report to re-render.
            renderReport: async () => undefined,
            capacity: spec.quota === undefined ? undefined : standInCapacity(spec.quota),
        };
    }
    // The benchmark stand-in logs to its own state folder (made on first use: the wiring itself
    // must create nothing, e.g. when there is no CLI); the stacks are the fake CLI's.
    let benchLog: StandInEngine | undefined;
    return pulumiWiring(env, {
        schedule: spec.schedule,
        runBenchmark: (targets, options) => standInBenchmark((benchLog ??= new StandInEngine(path.join(stateDir, "bench"), { benchMs: 100 })))(targets, options),
        ledgerDir: path.join(stateDir, ".compare-ledger"),
        resultsDir: path.join(stateDir, "results"),
    });
}

runCli("compare", () => main(process.argv.slice(2), process.env, testWiring), [ConfigError]);
