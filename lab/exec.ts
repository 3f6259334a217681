/**
 * Running the lab's command lines: one-shot commands with a time limit, and long-running daemons
 * inside a namespace that are written to the ledger the moment they exist.
 */
import { execFile, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import type { Step } from "./datapath";
import { processStartTime, type Ledger } from "./ledger";

export interface CommandResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs argv (no shell) with a time limit; never throws for a non-zero exit. */
export function runCommand(argv: readonly string[], timeoutMs = 15_000, env?: NodeJS.ProcessEnv): Promise<CommandResult> {
    return new Promise((resolve) => {
        execFile(argv[0], argv.slice(1), { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 << 20, env: env ?? process.env }, (err, stdout, stderr) => {
            const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 124) : 0;
            resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code === 124 ? `timed out or failed to start: ${err.message}` : "") });
        });
    });
}

/** Runs a datapath step; throws with the exact command line and its error when it fails. */
export async function runStep(step: Step, timeoutMs = 15_000): Promise<void> {
    const r = await runCommand(step.argv, timeoutMs);
    if (r.code !== 0 && !(step.tolerate && step.tolerate.test(r.stderr))) {
        throw new Error(`command failed (exit ${r.code}): ${step.argv.join(" ")}\n  ${r.stderr.trim()}`);
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
export function startDaemon(
    ledger: Ledger,
    netns: string,
    argv: readonly string[],
    what: string,
    logFile: string,
    env: Record<string, string> = {},
): Daemon {
    const fd = openSync(logFile, "a");
    try {
        const [program, ...args] = inNamespace(netns, argv);
        const child = spawn(program, args, {
            detached: true,
            stdio: ["ignore", fd, fd],
            env: { ...process.env, ...env },
        });
        if (child.pid === undefined) throw new Error(`${what}: could not start ${argv[0]} in ${netns}`);
        ledger.addProcess({ pid: child.pid, startTime: processStartTime(child.pid) ?? "", what });
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        child.unref();
        return { pid: child.pid, what, netns, logFile, exited };
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` until it returns true, at most `timeoutMs`. Fails with `what` and the last
 * observation when it never does, or as soon as `daemon` exits.
 */
export async function waitFor(
    what: string,
    check: () => Promise<boolean | string>,
    timeoutMs: number,
    daemons: readonly Daemon[] = [],
    intervalMs = 200,
): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: boolean | string = false;
    const dead: { d?: Daemon; code?: number | null } = {};
    for (const d of daemons) void d.exited.then((code) => Object.assign(dead, { d, code }));
    while (Date.now() < deadline) {
        last = await check();
        if (last === true) return;
        if (dead.d) throw new Error(`${what}: ${dead.d.what} (pid ${dead.d.pid}) exited with code ${dead.code}${logTail(dead.d.logFile)}`);
        await sleep(intervalMs);
    }
    throw new Error(`${what}: not ready after ${timeoutMs / 1000} s${typeof last === "string" ? ` (last: ${last})` : ""}`);
}
