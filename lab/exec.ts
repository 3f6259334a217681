/**
 * Running the lab's command lines: one-shot commands with a time limit, and long-running daemons
 * inside a namespace that are written to the ledger the moment they exist.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { describeExit, runProcess, type CommandResult } from "../core/process";
import { pollUntil } from "../core/wait";
import { processStartTime, type Ledger } from "./ledger";

export type { CommandResult };

/** One command line of a datapath or rule set, as the lab runs it. */
export interface Step {
    readonly argv: readonly string[];
    /** Accept a failure whose stderr matches (e.g. the kernel already made `tunl0`). */
    readonly tolerate?: RegExp;
}

/**
 * Runs argv (no shell) in its own process group with a time limit; never throws for a non-zero
 * exit. A timed-out command is stopped (SIGTERM, then SIGKILL) and says so in stderr.
 */
export async function runCommand(argv: readonly string[], timeoutMs = 15_000, env?: NodeJS.ProcessEnv): Promise<CommandResult> {
    const r = await runProcess(argv, { timeoutMs, env });
    return r.timedOut ? { ...r, stderr: `${r.stderr}${r.stderr ? "\n" : ""}timed out after ${timeoutMs / 1000} s (${describeExit(r)})` } : r;
}

/** Runs a datapath step; throws with the exact command line and its error when it fails. */
export async function runStep(step: Step, timeoutMs = 15_000): Promise<void> {
    const r = await runCommand(step.argv, timeoutMs);
    if (r.code !== 0 && !(step.tolerate && step.tolerate.test(r.stderr))) {
        throw new Error(`command failed (${describeExit(r)}): ${step.argv.join(" ")}\n  ${r.stderr.trim()}`);
    }
}

/** argv that runs `argv` inside a namespace. */
export function inNamespace(netns: string, argv: readonly string[]): string[] {
    return ["ip", "netns", "exec", netns, ...argv];
}

export interface Daemon {
    readonly pid: number;
    readonly what: string;
    readonly netns: string;
    readonly logFile: string;
    /** Resolves with the exit code when the process ends. */
    readonly exited: Promise<number | null>;
}

/**
 * Starts a long-running process inside `netns` in its own process group (Ctrl-C in the terminal
 * reaches only the lab, which then stops it deliberately), output appended to `logFile`.
 * `ip netns exec` execs the program, so the recorded pid is the daemon's own.
 */
export function startDaemon(ledger: Ledger, netns: string, argv: readonly string[], what: string, logFile: string, env: Record<string, string> = {}): Daemon {
    return { ...startProcess(ledger, inNamespace(netns, argv), what, logFile, env), netns };
}

/** The same for a process on the machine itself (in no namespace of the lab's). */
export function startProcess(ledger: Ledger, argv: readonly string[], what: string, logFile: string, env: Record<string, string> = {}): Daemon {
    const fd = openSync(logFile, "a");
    try {
        const [program, ...args] = argv;
        const child = spawn(program, args, {
            detached: true,
            stdio: ["ignore", fd, fd],
            env: { ...process.env, ...env },
        });
        if (child.pid === undefined) throw new Error(`${what}: could not start ${argv.join(" ")}`);
        ledger.addProcess({ pid: child.pid, startTime: processStartTime(child.pid) ?? "", what });
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        child.unref();
        return { pid: child.pid, what, netns: "", logFile, exited };
    } finally {
        closeSync(fd);
    }
}

/** The last lines of a daemon's log, for error messages (its run directory is removed on cleanup). */
export function logTail(file: string, lines = 5): string {
    try {
        const tail = readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines);
        return tail.length > 0 && tail[0] !== "" ? `; its log ends:\n    ${tail.join("\n    ")}` : "";
    } catch {
        return "";
    }
}

/**
 * Polls `check` until it returns true, at most `timeoutMs` (core/wait.ts pollUntil). Fails with
 * `what` and the last observation when it never does, or as soon as one of `daemons` exits.
 */
export async function waitFor(what: string, check: () => Promise<boolean | string>, timeoutMs: number, daemons: readonly Daemon[] = [], intervalMs = 200): Promise<void> {
    const dead: { d?: Daemon; code?: number | null } = {};
    for (const d of daemons) void d.exited.then((code) => Object.assign(dead, { d, code }));
    await pollUntil(
        what,
        async () => {
            const last = await check();
            if (last !== true && dead.d) throw new Error(`${what}: ${dead.d.what} (pid ${dead.d.pid}) exited with code ${dead.code}${logTail(dead.d.logFile)}`);
            return last;
        },
        { timeoutMs, intervalMs },
    );
}
