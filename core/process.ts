/**
 * Processes and process groups, for every runtime: a child started in its own process group
 * (so a terminal's Ctrl-C reaches only us, and a stop reaches everything the child forked),
 * signalled as a group, stopped by escalating SIGINT/SIGTERM → SIGKILL after bounded waits, and
 * an exit reported as what it was: a code, or the signal that killed it (never "exit 1").
 *
 * Node: `detached: true` makes the child "the leader of a new process group and session" on
 * POSIX (https://nodejs.org/api/child_process.html#optionsdetached); `process.kill(-pid, sig)`
 * signals that group (kill(2): "If pid is less than -1, then sig is sent to every process in
 * the process group whose ID is -pid").
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { sleep } from "./wait";

/** How a process ended: exactly one of the two is set. */
export interface Exit {
    readonly code: number | null;
    readonly signal: NodeJS.Signals | null;
}

/** What a command printed and how it ended. `code` is null when a signal killed it. */
export interface CommandResult {
    readonly stdout: string;
    readonly stderr: string;
    readonly code: number | null;
    /** The signal that killed it, when one did. */
    readonly signal?: string | null;
}

/** "exit 3", or "killed by SIGKILL". */
export function describeExit(exit: { readonly code: number | null; readonly signal?: string | null }): string {
    if (exit.code !== null) return `exit ${exit.code}`;
    return exit.signal ? `killed by ${exit.signal}` : "killed by a signal";
}

export interface SpawnGroupOptions {
    readonly cwd?: string;
    /** The full environment (default: this process's). */
    readonly env?: NodeJS.ProcessEnv;
    /** Output chunks as they arrive (they are collected for the result too). */
    readonly onStdout?: (text: string) => void;
    readonly onStderr?: (text: string) => void;
}

/** A child running as the leader of its own process group. */
export interface GroupProcess {
    readonly pid: number | undefined;
    /** Settles when the child has exited and its output is read; never rejects (a spawn failure is code 127). */
    readonly result: Promise<CommandResult>;
    /** True once the leader has exited (its group may still hold forked children). */
    readonly exited: boolean;
    /** Sends `sig` to the whole group; false when there is no such group any more. */
    signalGroup(sig: NodeJS.Signals): boolean;
}

/** Starts `file args` in a new process group; stdin is closed. */
export function spawnGroup(file: string, args: readonly string[], options: SpawnGroupOptions = {}): GroupProcess {
    const child: ChildProcess = spawn(file, [...args], { cwd: options.cwd, env: options.env ?? process.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => {
        const text = d.toString();
        stdout += text;
        options.onStdout?.(text);
    });
    child.stderr!.on("data", (d: Buffer) => {
        const text = d.toString();
        stderr += text;
        options.onStderr?.(text);
    });
    let exited = false;
    const result = new Promise<CommandResult>((resolve) => {
        child.once("error", (error) => {
            exited = true;
            resolve({ stdout, stderr: `${stderr}\n${error.message}`.trimStart(), code: 127, signal: null });
        });
        child.once("exit", () => {
            exited = true;
        });
        child.once("close", (code, signal) => {
            exited = true;
            resolve({ stdout, stderr, code, signal });
        });
    });
    return {
        pid: child.pid,
        result,
        get exited() {
            return exited || child.exitCode !== null || child.signalCode !== null;
        },
        signalGroup: (sig) => signalGroup(child.pid, sig),
    };
}

/** Sends `sig` to process group `pgid`; false when it no longer exists. */
export function signalGroup(pgid: number | undefined, sig: NodeJS.Signals): boolean {
    if (pgid === undefined) return false;
    try {
        process.kill(-pgid, sig);
        return true;
    } catch {
        return false;
    }
}

/** One rung of an escalation: send `signal`, then wait up to `waitMs` for the process to end. */
export interface EscalationStep {
    readonly signal: NodeJS.Signals;
    readonly waitMs: number;
}

/** Something that can be signalled and watched until it ends (a group, or a pid checked by start time). */
export interface Stoppable {
    /** Sends the signal; false when the target is already gone. */
    send(sig: NodeJS.Signals): boolean;
    /** Resolves true once the target has ended, false if it still runs after `ms`. */
    waitForEnd(ms: number): Promise<boolean>;
}

/**
 * Walks the steps until the target ends. Returns the signals actually sent and whether it ended.
 * `onStep` hears each signal before it is sent (for notes such as "sending SIGTERM to pid 42").
 */
export async function escalate(
    target: Stoppable,
    steps: readonly EscalationStep[],
    onStep?: (step: EscalationStep, index: number) => void,
): Promise<{ readonly ended: boolean; readonly sent: readonly NodeJS.Signals[] }> {
    const sent: NodeJS.Signals[] = [];
    for (const [index, step] of steps.entries()) {
        onStep?.(step, index);
        if (!target.send(step.signal)) return { ended: true, sent };
        sent.push(step.signal);
        if (await target.waitForEnd(step.waitMs)) return { ended: true, sent };
    }
    return { ended: false, sent };
}

/** A GroupProcess as a Stoppable: signals reach the group; it has ended when the leader exited. */
export function groupTarget(proc: GroupProcess): Stoppable {
    return {
        send: (sig) => !proc.exited && proc.signalGroup(sig),
        waitForEnd: async (ms) => {
            let timer: NodeJS.Timeout | undefined;
            const ended = await Promise.race([proc.result.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
            clearTimeout(timer);
            return ended;
        },
    };
}

/** The usual stop of a tool: SIGTERM, then SIGKILL after `graceMs`. */
export function terminateSteps(graceMs: number): EscalationStep[] {
    return [
        { signal: "SIGTERM", waitMs: graceMs },
        { signal: "SIGKILL", waitMs: 2_000 },
    ];
}

export interface RunProcessOptions extends SpawnGroupOptions {
    readonly timeoutMs: number;
    readonly signal?: AbortSignal;
    /** How long SIGTERM may take before SIGKILL (default 2 s). */
    readonly graceMs?: number;
}

/**
 * Runs argv (no shell) in its own group and resolves with its result; never throws for a
 * non-zero exit. `timedOut`/`aborted` say why it was stopped, so callers raise their own error class.
 */
export async function runProcess(argv: readonly string[], options: RunProcessOptions): Promise<CommandResult & { readonly timedOut: boolean; readonly aborted: boolean }> {
    const proc = spawnGroup(argv[0], argv.slice(1), options);
    let timedOut = false;
    let aborted = false;
    const stop = () => void escalate(groupTarget(proc), terminateSteps(options.graceMs ?? 2_000));
    const timer = setTimeout(() => {
        timedOut = true;
        stop();
    }, options.timeoutMs);
    const onAbort = () => {
        aborted = true;
        stop();
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
        return { ...(await proc.result), timedOut, aborted };
    } finally {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
    }
}

/** True while a process with this pid exists (EPERM: it exists, owned by someone else). */
export function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}

/**
 * The start time of a live process (field 22 of /proc/<pid>/stat, proc(5)), or undefined when
 * there is no such process or it is a zombie (exited, waiting to be reaped: nothing to stop).
 */
export function processStartTime(pid: number): string | undefined {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return fields[0] === "Z" || fields[0] === "X" ? undefined : fields[19];
    } catch {
        return undefined;
    }
}

/** A process identified by pid AND start time, so a recycled pid is never mistaken for it. */
export interface ProcessIdentity {
    readonly pid: number;
    readonly startTime: string;
}

export function isSameProcess(p: ProcessIdentity): boolean {
    return processStartTime(p.pid) === p.startTime;
}

/** A recorded process as a Stoppable: signalled only while the pid is still that process. */
export function identityTarget(p: ProcessIdentity, pollMs = 50): Stoppable {
    return {
        send: (sig) => {
            if (!isSameProcess(p)) return false;
            try {
                process.kill(p.pid, sig);
                return true;
            } catch {
                return false;
            }
        },
        waitForEnd: async (ms) => {
            for (let waited = 0; waited < ms; waited += pollMs) {
                if (!isSameProcess(p)) return true;
                await sleep(pollMs);
            }
            return !isSameProcess(p);
        },
    };
}
