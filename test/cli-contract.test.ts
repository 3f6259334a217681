/**
 * One command-line contract for every CLI of the project (core/cli.ts): run each real entry as a
 * child process (two per CLI: --help, and an unknown option). `--help` exits 0 and prints the
 * usage; bad usage exits 2 before anything happens and names the option; the options that mean
 * the same thing are spelled the same. Bad values run in-process (test/cli-harness.ts; every
 * option × every class: hostile-input.test.ts).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { exitCodes, sharedOptions } from "../core/cli";
import { runCli } from "./cli-harness";

const projectDir = path.resolve(__dirname, "..");

const clis = {
    bench: "bench/cli.ts",
    compare: "compare/cli.ts",
    lab: "lab/cli.ts",
    render: "render/cli.ts",
} as const;

function run(entry: string, args: readonly string[]) {
    // No tsx CLI in between (its relay is not under test here); no ambient config that could change the outcome.
    const env = { ...process.env, OPERATOR_CIDR: "", PULUMI_BACKEND_URL: "" };
    return spawnSync(process.execPath, ["--import", "tsx", entry, ...args], { cwd: projectDir, env, encoding: "utf8", timeout: 60_000 });
}

/** One --help child per CLI, shared by the tests that read it. */
const helps = new Map<string, ReturnType<typeof run>>();
function help(entry: string) {
    if (!helps.has(entry)) helps.set(entry, run(entry, ["--help"]));
    return helps.get(entry)!;
}

describe.each(Object.entries(clis))("%s", (name, entry) => {
    it("--help prints the usage with the exit codes and exits 0", () => {
        const r = help(entry);
        expect(r.status, r.stderr).toBe(exitCodes.ok);
        expect(r.stdout).toMatch(/^usage:/im);
        expect(r.stdout).toMatch(/Exit codes: 0 done, 1 [^\n]*2 bad usage/);
    });

    it("an unknown option exits 2 and names it", () => {
        const r = run(entry, ["--no-such-option"]);
        expect(r.status, r.stdout + r.stderr).toBe(exitCodes.usage);
        expect(r.stderr).toMatch(new RegExp(`^${name}: Unknown option '--no-such-option'`));
    });

    it("shared things are spelled as core/cli.ts spells them, with the same placeholder", () => {
        const usage = help(entry).stdout;
        // The drift this replaced: bench's --max-overhead was compare's --max-overhead-pct.
        expect(usage).not.toMatch(/--max-overhead(?!-pct)|--output\b|--out-dir|--outdir|--reps\b|--mode\b/);
        const shown = [...usage.matchAll(/^\s+(?:-\w, )?--([a-z-]+)(?: ([A-Z]+|<[^>]+>))?/gm)];
        expect(shown.length, "the usage lists its options").toBeGreaterThan(1);
        for (const [, option, arg] of shown) {
            const spec = (sharedOptions as Record<string, { arg?: string }>)[option];
            if (spec) expect(arg, `--${option}`).toBe(spec.arg);
        }
    });
});

describe("bad values exit 2 in every CLI, naming the option and the value", () => {
    it.each([
        ["bench", ["vxlan", "--repetitions", "two"], /--repetitions: "two" must be a whole number/],
        ["compare", ["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32", "--parallel", "0"], /--parallel: "0" must be a whole number from 1 to 20/],
        ["lab", ["--repetitions", "two"], /--repetitions: "two" must be a whole number/],
        // One option for how targets take turns, in both CLIs that measure several targets.
        ["bench", ["vxlan", "--schedule", "sometimes"], /--schedule: "sometimes" is not allowed; use one of concurrent, round-robin/],
        ["compare", ["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32", "--schedule", "sometimes"], /--schedule: "sometimes" is not allowed; use one of concurrent, round-robin/],
        ["render", ["--out", ""], /--out: "" must be a folder path/],
    ] as const)("%s %j", async (name, args, message) => {
        const r = await runCli(name, args, { ledgerDir: "/nonexistent/cli-contract-ledgers" });
        expect(r.code, r.message).toBe(exitCodes.usage);
        expect(r.message).toMatch(message);
        expect(r.reached).toEqual([]);
    });
});
