/**
 * TEST-ONLY: the four CLIs run in-process through their real `main` and the exit-code mapping
 * every entry uses (core/cli.ts exitCodeOfMain), with wiring that records whether the command got
 * past its checks: bench read a stack's outputs, compare wired its engine, lab opened a run (real
 * root work is replaced by a sentinel), render evaluated a stack. A spawned `tsx` costs about a
 * second on this machine; a call costs milliseconds.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { vi } from "vitest";
import { main as benchMain, productionWiring as benchProductionWiring } from "../bench/cli";
import { main as compareMain, pulumiWiring } from "../compare/cli";
import { ConfigError } from "../components/settings";
import { exitCodeOfMain } from "../core/cli";
import { main as labMain } from "../lab/cli";
import { Lab } from "../lab/lab";
import { main as renderMain } from "../render/cli";

export type CliName = "bench" | "compare" | "lab" | "render";

export interface Outcome {
    readonly code: number;
    /** What the command printed to stderr (and render's log), joined. */
    readonly message: string;
    /** The steps past the checks that the command reached: none for refused input. */
    readonly reached: readonly string[];
}

/**
 * Runs `cli` with `argv` (and `env`, compare's only input besides argv) in this process.
 * `ledgerDir`: where lab keeps its ledgers (a test folder; never /run/cni-lab).
 */
export async function runCli(
    cli: CliName,
    argv: readonly string[],
    options: {
        readonly env?: NodeJS.ProcessEnv;
        readonly ledgerDir: string;
        /**
         * The production wiring's checks before the sentinel: compare runs compare/cli.ts
         * pulumiWiring (passphrase, the Pulumi CLI on `env`'s PATH; ledger and results in
         * `ledgerDir`); bench declares its stack reader's programs (bench/cli.ts productionWiring).
         */
        readonly productionWiringChecks?: boolean;
    },
): Promise<Outcome> {
    const printed: string[] = [];
    const reached: string[] = [];
    const capture = (m: unknown) => void printed.push(String(m));
    const spies = [vi.spyOn(console, "error").mockImplementation(capture), vi.spyOn(console, "log").mockImplementation(() => undefined), vi.spyOn(console, "warn").mockImplementation(capture)];
    // The lab's real work needs root and builds namespaces: a command that gets that far is a
    // finding here, not something to run.
    spies.push(
        vi.spyOn(Lab, "open").mockImplementation(() => {
            reached.push("lab: Lab.open");
            throw new Error("SENTINEL: the lab got past its checks");
        }),
    );
    try {
        let code: number;
        if (cli === "bench") {
            code = await exitCodeOfMain("bench", () =>
                benchMain(argv, {
                    readerTools: options.productionWiringChecks ? benchProductionWiring.readerTools : undefined,
                    readStackOutputs: async (stack) => {
                        reached.push(`bench: read outputs of ${stack}`);
                        throw new Error("SENTINEL: bench got past its checks");
                    },
                }),
            );
        } else if (cli === "compare") {
            code = await exitCodeOfMain(
                "compare",
                () =>
                    compareMain(argv, options.env ?? {}, async (env) => {
                        if (options.productionWiringChecks) await pulumiWiring(env, { ledgerDir: options.ledgerDir, resultsDir: options.ledgerDir });
                        reached.push("compare: wired the engine");
                        throw new Error("SENTINEL: compare got past its checks");
                    }),
                [ConfigError],
            );
        } else if (cli === "lab") {
            code = await exitCodeOfMain("lab", () => labMain(argv, { ledgerDir: options.ledgerDir }));
        } else {
            code = await exitCodeOfMain("render", () =>
                renderMain(argv, {
                    stacks: ["vxlan"],
                    log: capture,
                    evaluate: async () => {
                        reached.push("render: evaluated a stack");
                        throw new Error("SENTINEL: render got past its checks");
                    },
                }),
            );
        }
        return { code, message: printed.join("\n"), reached };
    } finally {
        for (const spy of spies) spy.mockRestore();
    }
}

/** What a refused command must leave as it was: the files under `dir`, whether a lab ledger
 * folder exists, the machine's network namespaces and this process's children. */
export function sideEffects(dir: string, ledgerDir: string): { tree: string[]; ledger: boolean; netns: string[]; children: number[] } {
    return { tree: treeOf(dir), ledger: fs.existsSync(ledgerDir), netns: netnsList(), children: childPids() };
}

/** Every path under `dir`, relative, sorted: what a refused command must leave unchanged. */
export function treeOf(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return (fs.readdirSync(dir, { recursive: true }) as string[]).sort().map((p) => p.split(path.sep).join("/"));
}

/** The network namespaces of this machine (`ip netns list`), or [] where iproute2 is missing. */
export function netnsList(): string[] {
    try {
        return execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n").filter(Boolean).sort();
    } catch {
        return [];
    }
}

/** The pids of this process's children (from /proc/<pid>/stat's ppid field, proc(5)). */
export function childPids(): number[] {
    const children: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            // Field 4 is the ppid; field 2 (comm) is in parentheses and may hold spaces.
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            if (ppid === process.pid) children.push(Number(entry));
        } catch {
            // The process ended while we looked.
        }
    }
    return children.sort();
}
