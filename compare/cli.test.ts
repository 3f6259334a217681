/**
 * The real command, started as a child process through its test-only entry
 * (`node --import tsx test/compare/compare-entry.ts …`, which injects the stand-in engine that
 * keeps its state in files); the production entry compare/cli.ts where no stand-in is needed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readStandInState, seedExistingStack, type StandInBehavior } from "../test/compare/stand-in-engine";
import { pollUntil } from "../core/wait";
import { exitCodeOf } from "./cli";
import { Ledger } from "./ledger";
import type { CompareReport } from "./orchestrator";

const projectDir = path.resolve(__dirname, "..");
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function stateDir(behavior: Partial<StandInBehavior> = {}): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compare-cli-"));
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, "behavior.json"), JSON.stringify(behavior));
    return dir;
}

interface Running {
    readonly child: ChildProcess;
    readonly output: () => string;
    readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(dir: string | undefined, args: readonly string[], extraEnv: Record<string, string | undefined> = {}): Running {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
    delete env.OPERATOR_CIDR;
    if (dir && extraEnv.COMPARE_TEST_WIRING === undefined) env.COMPARE_TEST_WIRING = JSON.stringify({ engine: "stand-in", stateDir: dir });
    for (const [key, value] of Object.entries(extraEnv)) if (value === undefined) delete env[key];
    const entry = dir ? "test/compare/compare-entry.ts" : "compare/cli.ts";
    const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], { cwd: projectDir, env, stdio: ["pipe", "pipe", "pipe"] });
    children.push(child);
    let text = "";
    child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    return { child, output: () => text, exit };
}

function until(condition: () => boolean, what: string, output: () => string): Promise<void> {
    return pollUntil(what, () => condition() || `output so far:\n${output()}`, { timeoutMs: 30_000, intervalMs: 50 });
}

const compareArgs = ["--modes", "vxlan,host-gw,calico", "--operator-cidr", "203.0.113.7/32", "--parallel", "2", "--yes"];

function createdStacks(dir: string): string[] {
    return readStandInState(dir)
        .events.filter((e) => e.op === "create")
        .map((e) => e.stack);
}

describe("npm run compare (child process, stand-in engine)", () => {
    it("on SIGINT mid-up: cancels, destroys everything it created, leaves the existing stack, empties the ledger, exits non-zero", async () => {
        // Long updates so that the signal lands while they run.
        const dir = stateDir({ upMs: 60_000, resources: 60 });
        seedExistingStack(dir, "calico", 5);
        const run = start(dir, compareArgs);
        await until(() => readStandInState(dir).events.some((e) => e.op === "up-start"), "an up to be in progress", run.output);
        run.child.kill("SIGINT");
        const { code } = await run.exit;

        expect(code, run.output()).toBe(130);
        expect(run.output()).toMatch(/SIGINT: stopping what is running, then destroying every stack this run created/);
        const created = createdStacks(dir);
        expect(created.length, "the fake should have seen at least one create").toBeGreaterThan(0);
        expect(created).not.toContain("calico");
        const { stacks, events } = readStandInState(dir);
        for (const stack of created) {
            const ops = events.filter((e) => e.stack === stack).map((e) => e.op);
            expect(ops, `${stack}: ${ops.join(" ")}`).toEqual(expect.arrayContaining(["up-start", "destroy-done", "remove"]));
        }
        // Only the operator's stack is left, untouched by any destroy.
        expect(stacks.map((s) => s.name)).toEqual(["calico"]);
        expect(events.filter((e) => e.stack === "calico").map((e) => e.op)).not.toContain("destroy-start");
        expect(new Ledger(path.join(dir, ".compare-ledger")).entries()).toEqual([]);
        expect(fs.existsSync(path.join(dir, ".compare-ledger", "run.lock")), "the run lock is released").toBe(false);
    });

    it("after kill -9 mid-up: refuses a new run until --cleanup, which destroys exactly the ledger's stacks", async () => {
        const dir = stateDir({ upMs: 60_000, resources: 60 });
        seedExistingStack(dir, "calico", 5);
        const run = start(dir, compareArgs);
        await until(() => readStandInState(dir).events.filter((e) => e.op === "up-start").length >= 2, "two ups in progress", run.output);
        run.child.kill("SIGKILL");
        await run.exit;

        const ledger = new Ledger(path.join(dir, ".compare-ledger"));
        const leftovers = ledger
            .entries()
            .map((e) => e.stack)
            .sort();
        expect(leftovers).toEqual(createdStacks(dir).sort());
        expect(leftovers.length).toBeGreaterThan(0);

        const again = start(dir, compareArgs);
        expect((await again.exit).code).toBe(2);
        expect(again.output()).toMatch(/the ledger lists stacks from an earlier run .*--cleanup` first/);

        const cleanup = start(dir, ["--cleanup", "--yes"]);
        const { code } = await cleanup.exit;
        expect(code, cleanup.output()).toBe(0);
        expect(cleanup.output()).toMatch(new RegExp(`Cleanup: ${leftovers.length} destroyed, 0 never existed, 0 failed`));
        const { stacks, events } = readStandInState(dir);
        expect(stacks.map((s) => s.name)).toEqual(["calico"]);
        expect(stacks[0].resources).toBe(5);
        // The operator's stack was only read (selected to be measured as it is), never changed.
        expect(events.filter((e) => e.stack === "calico" && e.op !== "select").map((e) => e.op)).toEqual([]);
        expect(ledger.entries()).toEqual([]);
    });

    /** A leftover from an earlier run: the stack in the stand-in's backend and in the ledger. */
    function seedLeftover(dir: string, stack: string): void {
        seedExistingStack(dir, stack, 40);
        new Ledger(path.join(dir, ".compare-ledger")).record({ stack, phase: "created", runId: "20261204T000000Z", pid: 999_999, recordedAt: new Date().toISOString() });
    }

    it("--cleanup: a Ctrl-C during a destroy that then completes says so and exits 0 (nothing was interrupted, nothing is left)", async () => {
        const dir = stateDir({ destroyMs: 3_000 });
        seedLeftover(dir, "vxlan");
        const cleanup = start(dir, ["--cleanup", "--yes"]);
        await until(() => readStandInState(dir).events.some((e) => e.op === "destroy-start"), "the destroy to start", cleanup.output);
        cleanup.child.kill("SIGINT");
        const { code } = await cleanup.exit;
        expect(cleanup.output()).toMatch(/SIGINT: teardown is running and is not interrupted/);
        expect(cleanup.output()).toMatch(
            /Cleanup: 1 destroyed, 0 never existed, 0 failed\.\nSIGINT was received during the cleanup; destroys are never interrupted, and this cleanup ran to its end\./,
        );
        expect(code, cleanup.output()).toBe(0);
        expect(new Ledger(path.join(dir, ".compare-ledger")).entries()).toEqual([]);
    });

    it("--cleanup: Ctrl-C three times (teardown abandoned) exits 130 and the stack stays in the ledger", async () => {
        const dir = stateDir({ destroyMs: 20_000 });
        seedLeftover(dir, "vxlan");
        const cleanup = start(dir, ["--cleanup", "--yes"]);
        await until(() => readStandInState(dir).events.some((e) => e.op === "destroy-start"), "the destroy to start", cleanup.output);
        // Apart by more than core/cli.ts's 1 s repeat window, within the 10 s confirmation window.
        for (let i = 0; i < 3; i++) {
            cleanup.child.kill("SIGINT");
            await new Promise((r) => setTimeout(r, 1_300));
        }
        const { code } = await cleanup.exit;
        expect(cleanup.output()).toMatch(/Cleanup: 0 destroyed, 0 never existed, 1 failed\.\nTeardown abandoned \(SIGINT\)/);
        expect(code, cleanup.output()).toBe(130);
        expect(new Ledger(path.join(dir, ".compare-ledger")).entries().map((e) => e.stack)).toEqual(["vxlan"]);
    });

    it("runs a whole comparison, prints the plan and what the created stacks cost, and exits 0", async () => {
        const dir = stateDir({ upMs: 100, destroyMs: 50, benchMs: 50 });
        const run = start(dir, compareArgs);
        const { code } = await run.exit;
        expect(code, run.output()).toBe(0);
        expect(run.output()).toMatch(/Plan: compare 3 network mode\(s\)/);
        expect(run.output()).toMatch(/Instances: 9 new/);
        expect(run.output()).toMatch(/What the stacks this run created cost \(on-demand; up start → destroy complete/);
        // Every created stack's line carries its parts, the NLB's started hour included.
        expect(run.output()).toMatch(/vxlan +3 × c6i\.4xlarge: \d+\.\d\d instance-hours, \$\d+\.\d\d \(instances \$\d+\.\d\d, NLB \$0\.03 for 1 started hour\(s\)/);
        expect(readStandInState(dir).stacks).toEqual([]);
    });

    it("a quota that fits 2 stacks of 3: says the quota forces waiting, runs 2 waves, exits 0", async () => {
        const dir = stateDir({ upMs: 100, destroyMs: 50, benchMs: 50 });
        // 3 × 16 vCPUs per stack; 100 − 4 in use = 96 free → 2 stacks at once.
        const wiring = JSON.stringify({ engine: "stand-in", stateDir: dir, quota: { limit: 100, inUse: 4 } });
        const run = start(dir, compareArgs, { COMPARE_TEST_WIRING: wiring });
        const { code } = await run.exit;
        expect(code, run.output()).toBe(0);
        expect(run.output()).toMatch(
            /Capacity: vCPU quota L-1216C47A \(on-demand standard\): 100 vCPUs, 4 in use, 96 free; each stack needs 48: only 2 stack\(s\) fit at once, so the quota FORCES WAITING: 2 waves/,
        );
        expect(run.output()).toMatch(/note: wave 2 of 2 \(calico\)/);
        const events = readStandInState(dir).events;
        // calico is created only after both stacks of wave 1 are removed.
        const firstCalico = events.findIndex((e) => e.stack === "calico" && e.op === "create");
        const removedBefore = events
            .slice(0, firstCalico)
            .filter((e) => e.op === "remove")
            .map((e) => e.stack);
        expect(removedBefore.sort()).toEqual(["host-gw", "vxlan"]);
        expect(readStandInState(dir).stacks).toEqual([]);
    });

    it("exits non-zero when a stack fails, after measuring and destroying the rest", async () => {
        const dir = stateDir({ upMs: 100, destroyMs: 50, benchMs: 50, failUp: ["host-gw"] });
        const run = start(dir, compareArgs);
        const { code } = await run.exit;
        expect(code, run.output()).toBe(1);
        expect(run.output()).toMatch(/host-gw: update of host-gw failed/);
        expect(fs.readFileSync(path.join(dir, "results", fs.readdirSync(path.join(dir, "results"))[0], "fake-summary.json"), "utf8")).toMatch(/"vxlan"/);
        expect(readStandInState(dir).stacks).toEqual([]);
    });

    it("without a terminal and without --yes, refuses before creating anything", async () => {
        const dir = stateDir();
        const run = start(
            dir,
            compareArgs.filter((a) => a !== "--yes"),
        );
        run.child.stdin!.end();
        const { code } = await run.exit;
        expect(code).toBe(2);
        expect(run.output()).toMatch(/no terminal to ask for confirmation: re-run with --yes/);
        expect(createdStacks(dir)).toEqual([]);
    });

    it("--dry-run prints the plan with its arithmetic and creates, calls and writes nothing", async () => {
        const dir = stateDir();
        const five = ["--modes", "vxlan,host-gw,calico,calico-ipip,calico-vxlan", "--operator-cidr", "203.0.113.7/32", "--dry-run"];
        const run = start(dir, five);
        expect((await run.exit).code, run.output()).toBe(0);
        expect(run.output()).toMatch(/DRY RUN: nothing is created/);
        expect(run.output()).toMatch(/1 wave\(s\) → ~19\.5 min wall/);
        // 5 × $0.7853 per stack for 19.5 min (compare/plan.test.ts works it out part by part).
        expect(run.output()).toMatch(/on demand: 5 × \$0\.7853 = ~\$3\.93/);
        expect(readStandInState(dir).events).toEqual([]);
        expect(fs.existsSync(path.join(dir, ".compare-ledger")), "--dry-run must not take the lock or write a ledger").toBe(false);
    });

    it("rejects bad values of the new flags before anything happens, naming the flag and what is allowed", async () => {
        const dir = stateDir();
        const bad = start(dir, ["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32", "--schedule", "sometimes", "--yes"]);
        expect((await bad.exit).code).toBe(2);
        expect(bad.output()).toMatch(/--schedule: "sometimes" is not allowed; use one of concurrent, round-robin/);
        const cleanup = start(dir, ["--cleanup", "--spot", "--yes"]);
        expect((await cleanup.exit).code).toBe(2);
        expect(cleanup.output()).toMatch(/--cleanup takes only --yes and --destroy-timeout; remove --spot/);
        const pods = start(dir, ["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32", "--scaling-pods", "2,0", "--dry-run"]);
        expect((await pods.exit).code).toBe(2);
        expect(pods.output()).toMatch(/--scaling-pods: "0" must be a whole number from 2 to 1000/);
        expect(createdStacks(dir)).toEqual([]);
        expect(fs.existsSync(path.join(dir, ".compare-ledger"))).toBe(false);
    });

    it("rejects an operator CIDR open to the world, naming the flag", async () => {
        const dir = stateDir();
        const run = start(dir, ["--modes", "vxlan", "--operator-cidr", "0.0.0.0/0", "--yes"]);
        expect((await run.exit).code).toBe(2);
        expect(run.output()).toMatch(/--operator-cidr \(cni-compare:operatorCidr\): "0.0.0.0\/0" must have a prefix from \/8 to \/32/);
        expect(createdStacks(dir)).toEqual([]);
    });

    it("with the Pulumi engine, refuses to start without PULUMI_CONFIG_PASSPHRASE", async () => {
        const run = start(undefined, ["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32", "--yes"], {
            PULUMI_CONFIG_PASSPHRASE: undefined,
            PULUMI_CONFIG_PASSPHRASE_FILE: undefined,
            PULUMI_BACKEND_URL: "file:///tmp/compare-test-backend-never-used",
        });
        expect((await run.exit).code).toBe(2);
        expect(run.output()).toMatch(/PULUMI_CONFIG_PASSPHRASE \(or PULUMI_CONFIG_PASSPHRASE_FILE\) is not set/);
    });
});

describe("the exit code of a finished comparison", () => {
    const stack = (finalState: "destroyed" | "failed", errors: string[] = []) => ({ stack: "vxlan", created: true, finalState, errors, leftover: finalState === "failed" });
    const report = (over: Partial<CompareReport>): CompareReport => ({ stacks: [stack("destroyed")], benchmarks: [], interrupted: false, ok: false, ...over });
    it("0 when all went well, 3 when only the --max-overhead-pct gate failed, 1 for any failure, 130 when interrupted", () => {
        expect(exitCodeOf(report({ ok: true, benchmarks: [{ summary: { outDir: "o", gatePassed: true }, targets: ["vxlan"] }] }))).toBe(0);
        expect(exitCodeOf(report({ benchmarks: [{ summary: { outDir: "o", gatePassed: false }, targets: ["vxlan"] }] }))).toBe(3);
        expect(exitCodeOf(report({ stacks: [stack("failed", ["destroy failed"])], benchmarks: [{ summary: { outDir: "o", gatePassed: false }, targets: ["vxlan"] }] }))).toBe(1);
        expect(exitCodeOf(report({ benchmarks: [{ error: "benchmark failed", targets: ["vxlan"] }] }))).toBe(1);
        expect(exitCodeOf(report({ interrupted: true }))).toBe(130);
    });
});
