/**
 * The real `compare` CLI as a child process, with the real Pulumi adapter and Automation API,
 * against a fake `pulumi` executable on PATH (test/compare/fake-pulumi.ts) that logs every
 * signal it receives and takes its time to exit. The child runs in its own process group and a
 * Ctrl-C is simulated as a terminal sends it: SIGINT to every process of that group (termios(3):
 * the INTR character "generates a SIGINT signal which is sent to all processes in the foreground
 * process group").
 *
 * What it protects (issue #15): the Pulumi CLI runs in its OWN process group, so it hears
 * exactly one SIGINT (ours), never the terminal's too — the CLI treats a second signal as
 * "terminating" (pulumi/pulumi cancellationScopeSource.NewScope); `destroy` starts only after
 * `up` has exited; a Ctrl-C during `destroy` does not reach or stop it; an `up` that ignores
 * SIGINT is escalated (SIGTERM) on our schedule and its stack ends in the ledger, not destroyed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Ledger } from "./ledger";
import { pollUntil } from "../core/wait";
import { readFakePulumiLog, writeFakePulumi, type FakePulumiBehavior, type FakePulumiEvent } from "../test/compare/fake-pulumi";
import { fakeOutputs } from "../test/compare/stand-in-engine";

const projectDir = path.resolve(__dirname, "..");
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(-child.pid, "SIGKILL");
    // A fake CLI that ignored everything is in its own group: end it too before removing its folder.
    for (const dir of dirs)
        for (const e of readFakePulumiLog(dir))
            if (e.event === "start")
                try {
                    process.kill(-e.pid, "SIGKILL");
                } catch {
                    /* gone */
                }
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const schedule = { afterInterruptMs: 1_500, afterTerminateMs: 1_500, afterKillMs: 3_000 };

function setUp(behavior: Partial<FakePulumiBehavior>): { dir: string; bin: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compare-fake-pulumi-"));
    dirs.push(dir);
    const bin = writeFakePulumi(dir, {
        upMs: 60_000,
        destroyMs: 1_000,
        upOnSigint: "stop",
        upOnSigterm: "stop",
        exitAfterSignalMs: 1_000,
        outputs: { ...fakeOutputs("vxlan", 1) },
        ...behavior,
    });
    return { dir, bin };
}

interface Running {
    readonly child: ChildProcess;
    readonly output: () => string;
    readonly exit: Promise<number | null>;
}

function startCompare(dir: string, bin: string): Running {
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: `${bin}${path.delimiter}${process.env.PATH}`,
        PULUMI_BACKEND_URL: `file://${path.join(dir, "backend")}`,
        PULUMI_CONFIG_PASSPHRASE: "test-only",
        COMPARE_TEST_WIRING: JSON.stringify({ engine: "pulumi", stateDir: path.join(dir, "run"), schedule }),
    };
    delete env.OPERATOR_CIDR;
    const child = spawn(process.execPath, ["--import", "tsx", "test/compare/compare-entry.ts", "--modes", "vxlan", "--operator-cidr", "203.0.113.7/32", "--yes"], {
        cwd: projectDir,
        env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let text = "";
    child.stdout!.on("data", (d: Buffer) => (text += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (text += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, output: () => text, exit };
}

/** Starts compare against a fake CLI with `behavior`, presses Ctrl-C once `up` runs, waits for the exit. */
async function ctrlCDuringUp(behavior: Partial<FakePulumiBehavior>): Promise<{ dir: string; run: Running; log: FakePulumiEvent[]; up: number }> {
    const { dir, bin } = setUp(behavior);
    const run = startCompare(dir, bin);
    await waitFor("pulumi up to start", dir, run, (log) => processesOf(log, "up").length === 1);
    ctrlC(run.child);
    expect(await run.exit, run.output()).toBe(130);
    const log = readFakePulumiLog(dir);
    return { dir, run, log, up: processesOf(log, "up")[0] };
}

/** A Ctrl-C as the terminal delivers it: SIGINT to every process in the child's group. */
function ctrlC(child: ChildProcess): void {
    process.kill(-child.pid!, "SIGINT");
}

const processesOf = (log: readonly FakePulumiEvent[], command: string) => [...new Set(log.filter((e) => e.command === command && e.event === "start").map((e) => e.pid))];
const eventsOf = (log: readonly FakePulumiEvent[], pid: number) => log.filter((e) => e.pid === pid);

async function waitFor(what: string, dir: string, run: Running, check: (log: FakePulumiEvent[]) => boolean): Promise<void> {
    await pollUntil(what, () => check(readFakePulumiLog(dir)) || (run.child.exitCode !== null ? `compare exited early:\n${run.output()}` : false), { timeoutMs: 30_000, intervalMs: 50 });
}

describe("compare with a fake pulumi CLI on PATH: signals and teardown order", () => {
    it("one Ctrl-C: the CLI's up gets exactly one SIGINT, and destroy starts only after up has exited", async () => {
        const { dir, run, log, up } = await ctrlCDuringUp({});
        const upSignals = eventsOf(log, up)
            .filter((e) => e.event === "signal")
            .map((e) => e.signal);
        expect(upSignals, "the terminal's SIGINT must not reach the CLI; ours is sent once").toEqual(["SIGINT"]);
        const upExit = eventsOf(log, up).find((e) => e.event === "exit")!;
        const destroys = processesOf(log, "destroy");
        expect(destroys, run.output()).toHaveLength(1);
        const destroyStart = eventsOf(log, destroys[0]).find((e) => e.event === "start")!;
        expect(destroyStart.at, "destroy must start after up has exited").toBeGreaterThanOrEqual(upExit.at);
        expect(processesOf(log, "cancel"), "no `pulumi cancel` while the update's process lives").toEqual([]);
        expect(new Ledger(path.join(dir, "run", ".compare-ledger")).entries()).toEqual([]);
    });

    it("a Ctrl-C during destroy does not interrupt it (nor a second one)", async () => {
        const { dir, bin } = setUp({ upMs: 300, destroyMs: 4_000 });
        const run = startCompare(dir, bin);
        await waitFor("pulumi destroy to start", dir, run, (log) => processesOf(log, "destroy").length === 1);
        ctrlC(run.child);
        await new Promise((r) => setTimeout(r, 1_500));
        ctrlC(run.child);
        expect(await run.exit, run.output()).toBe(130);

        const log = readFakePulumiLog(dir);
        const [destroy] = processesOf(log, "destroy");
        expect(
            eventsOf(log, destroy).filter((e) => e.event === "signal"),
            "no signal reaches the destroy",
        ).toEqual([]);
        expect(eventsOf(log, destroy).find((e) => e.event === "exit")?.code).toBe(0);
        expect(run.output()).toMatch(/teardown is running and is not interrupted/);
        expect(processesOf(log, "stack rm")).toHaveLength(1);
        expect(new Ledger(path.join(dir, "run", ".compare-ledger")).entries()).toEqual([]);
    });

    it("only a confirmed request abandons teardown: the destroy then gets one SIGINT and the stack stays in the ledger", async () => {
        const { dir, bin } = setUp({ upMs: 300, destroyMs: 20_000 });
        const run = startCompare(dir, bin);
        await waitFor("pulumi destroy to start", dir, run, (log) => processesOf(log, "destroy").length === 1);
        ctrlC(run.child); // interrupt: teardown goes on
        await new Promise((r) => setTimeout(r, 1_300));
        ctrlC(run.child); // asks for confirmation
        await new Promise((r) => setTimeout(r, 1_300));
        ctrlC(run.child); // confirms
        expect(await run.exit, run.output()).toBe(130);

        const log = readFakePulumiLog(dir);
        const [destroy] = processesOf(log, "destroy");
        expect(
            eventsOf(log, destroy)
                .filter((e) => e.event === "signal")
                .map((e) => e.signal),
        ).toEqual(["SIGINT"]);
        expect(run.output()).toMatch(/press Ctrl-C again within 10 s[\s\S]*abandoning teardown/);
        expect(new Ledger(path.join(dir, "run", ".compare-ledger")).entries().map((e) => e.stack)).toEqual(["vxlan"]);
        expect(processesOf(log, "stack rm")).toEqual([]);
    });

    it("an up that ignores SIGINT is escalated (SIGTERM) and its stack stays in the ledger, never destroyed concurrently", async () => {
        const { dir, run, log, up } = await ctrlCDuringUp({ upOnSigint: "ignore", upOnSigterm: "stop", exitAfterSignalMs: 300 });
        const signals = eventsOf(log, up).filter((e) => e.event === "signal");
        expect(signals.map((e) => e.signal)).toEqual(["SIGINT", "SIGTERM"]);
        // Our schedule, not the terminal's: SIGTERM only after the SIGINT grace period.
        expect(signals[1].at - signals[0].at).toBeGreaterThanOrEqual(schedule.afterInterruptMs - 100);
        expect(processesOf(log, "destroy"), "a killed update's stack is not destroyed by the run").toEqual([]);
        expect(processesOf(log, "cancel")).toEqual([]);
        const ledger = new Ledger(path.join(dir, "run", ".compare-ledger")).entries();
        expect(ledger.map((e) => e.stack)).toEqual(["vxlan"]);
        expect(ledger[0].note).toMatch(/had to be killed/);
        expect(ledger[0].cliPid).toBe(up);
        expect(run.output()).toMatch(/LEFTOVER: stack vxlan was not destroyed: its update had to be killed/);
    });
});

describe("compare without a Pulumi CLI", () => {
    it("a run and --cleanup stop with the install hint (exit 1) and create nothing: no backend folder, no ledger", async () => {
        for (const args of [
            ["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32", "--yes"],
            ["--cleanup", "--yes"],
        ]) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compare-no-pulumi-"));
            dirs.push(dir);
            // A PATH with node's folder only (no pulumi there), and a HOME of our own: the default
            // backend (PULUMI_BACKEND_URL unset) is ~/.pulumi-cni-compare (core/pulumi.ts).
            const env: NodeJS.ProcessEnv = {
                ...process.env,
                PATH: path.dirname(process.execPath),
                HOME: path.join(dir, "home"),
                PULUMI_CONFIG_PASSPHRASE: "test-only",
                COMPARE_TEST_WIRING: JSON.stringify({ engine: "pulumi", stateDir: path.join(dir, "run"), schedule }),
            };
            delete env.PULUMI_BACKEND_URL;
            delete env.OPERATOR_CIDR;
            expect(fs.existsSync(path.join(path.dirname(process.execPath), "pulumi")), "this test needs a PATH without pulumi").toBe(false);
            fs.mkdirSync(env.HOME!);
            const child = spawn(process.execPath, ["--import", "tsx", "test/compare/compare-entry.ts", ...args], { cwd: projectDir, env, stdio: ["ignore", "pipe", "pipe"] });
            let text = "";
            child.stdout!.on("data", (d: Buffer) => (text += d.toString()));
            child.stderr!.on("data", (d: Buffer) => (text += d.toString()));
            const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
            expect(code, `${args.join(" ")}: ${text}`).toBe(1);
            expect(text).toContain('"pulumi" is not on PATH');
            expect(text).toContain("https://www.pulumi.com/docs/iac/download-install/");
            expect(fs.readdirSync(env.HOME!), `${args.join(" ")}: created in HOME`).toEqual([]);
            expect(fs.existsSync(path.join(dir, "run")), `${args.join(" ")}: created the ledger folder`).toBe(false);
        }
    });
});
