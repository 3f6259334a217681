/**
 * Where commands run. A Shell is one machine or pod: the load generator, a node, a pod. The
 * runner builds command text (commands.ts) once and hands it to whichever Shell the platform
 * has: local `sh -c`, `ip netns exec`, SSH (ssh.ts) or nsenter over SSH into a pod's network
 * namespace (pod-netns.ts).
 */
import { InterruptedError, TimeoutError } from "../../core/errors";
import { escalate, groupTarget, spawnGroup, terminateSteps, type CommandResult, type GroupProcess } from "../../core/process";
import { backgroundCommand, backgroundPgidPattern, stopCommand } from "../measure/commands";

export type { CommandResult };

export interface RunOptions {
    /** The command is killed and the promise rejects after this long. */
    readonly timeoutMs: number;
    readonly signal?: AbortSignal;
}

/** A command started in the background (a server, a CPU sampler). */
export interface BackgroundProcess {
    /** Settles when the process ends by itself or after `stop()`. */
    readonly done: Promise<CommandResult>;
    /** Ends the process and everything it started; resolves with what it printed. */
    stop(): Promise<CommandResult>;
}

export interface Shell {
    /** For messages and raw-output headers: "load generator", "node 1", "pod bench-pod-0-1". */
    readonly name: string;
    run(command: string, options: RunOptions): Promise<CommandResult>;
    start(command: string): BackgroundProcess;
    /** Stops everything still running that this shell started, and disconnects. */
    close(): Promise<void>;
}

/** The last `lines` lines a command printed: its stderr, or its stdout when stderr is empty. */
export function lastWords(result: CommandResult, lines = 2, separator = " "): string {
    return (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-lines).join(separator);
}

/** A command that did not exit 0, with the end of its stderr. */
export class CommandError extends Error {
    constructor(
        readonly shell: string,
        readonly command: string,
        readonly result: CommandResult,
    ) {
        super(`${shell}: command ${result.code !== null ? `exited with ${result.code}` : `was killed by ${result.signal ?? "a signal"}`}: ${command.slice(0, 200)}\n${lastWords(result, 5, "\n")}`);
    }
}

/** Runs and insists on exit code 0. */
export async function runChecked(shell: Shell, command: string, options: RunOptions): Promise<CommandResult> {
    const result = await shell.run(command, options);
    if (result.code !== 0) throw new CommandError(shell.name, command, result);
    return result;
}

/** The caller aborted while `command` ran (recognised by class: core/errors.ts). */
export function abortError(shell: string, command: string): InterruptedError {
    return new InterruptedError(`${shell}: aborted while running: ${command.slice(0, 200)}`);
}

/** `command` did not finish within `ms`. */
export function timeoutError(shell: string, command: string, ms: number): TimeoutError {
    return new TimeoutError(`${shell}: no answer within ${ms / 1000} s from: ${command.slice(0, 200)}`, command, ms);
}

/**
 * A shell whose commands are local processes: `sh -c` (loopback) or `ip netns exec <ns> sh -c`
 * (lab). Each command gets its own process group, so a stop or timeout ends the tool and
 * everything it forked.
 */
export class ProcessShell implements Shell {
    private readonly live = new Set<GroupProcess>();

    constructor(
        readonly name: string,
        /** The argv that runs `command` (e.g. ["sh", "-c", command]). */
        private readonly argv: (command: string) => readonly string[],
    ) {}

    /** Plain `sh -c` on this machine. */
    static local(name: string): ProcessShell {
        return new ProcessShell(name, (c) => ["sh", "-c", c]);
    }

    /** `sh -c` inside a network namespace (needs root). */
    static netns(name: string, netns: string): ProcessShell {
        return new ProcessShell(name, (c) => ["ip", "netns", "exec", netns, "sh", "-c", c]);
    }

    /** Processes started and not yet ended (the dead-target test checks this is 0). */
    get liveCount(): number {
        return this.live.size;
    }

    private spawn(command: string): GroupProcess {
        const [file, ...args] = this.argv(command);
        const proc = spawnGroup(file, args);
        this.live.add(proc);
        void proc.result.then(() => this.live.delete(proc));
        return proc;
    }

    /** SIGTERM to the group, SIGKILL 2 s later; resolves with what it printed. */
    private static async end(proc: GroupProcess): Promise<CommandResult> {
        await escalate(groupTarget(proc), terminateSteps(2_000));
        return proc.result;
    }

    async run(command: string, options: RunOptions): Promise<CommandResult> {
        if (options.signal?.aborted) throw abortError(this.name, command);
        const proc = this.spawn(command);
        let failure: Error | undefined;
        const onAbort = () => {
            failure = abortError(this.name, command);
            void ProcessShell.end(proc);
        };
        options.signal?.addEventListener("abort", onAbort, { once: true });
        const timer = setTimeout(() => {
            failure = timeoutError(this.name, command, options.timeoutMs);
            void ProcessShell.end(proc);
        }, options.timeoutMs);
        try {
            const r = await proc.result;
            if (failure) throw failure;
            return r;
        } finally {
            clearTimeout(timer);
            options.signal?.removeEventListener("abort", onAbort);
        }
    }

    start(command: string): BackgroundProcess {
        const proc = this.spawn(command);
        return { done: proc.result, stop: () => ProcessShell.end(proc) };
    }

    async close(): Promise<void> {
        await Promise.all([...this.live].map((proc) => ProcessShell.end(proc)));
    }
}

/** Splits the `bench-pgid` line that `backgroundCommand` prints off a remote process's stdout. */
export function splitPgid(stdout: string): { pgid?: number; stdout: string } {
    const m = backgroundPgidPattern.exec(stdout);
    if (!m) return { stdout };
    return { pgid: Number(m[1]), stdout: stdout.replace(/^bench-pgid \d+\n?/m, "") };
}

/**
 * A remote shell that can only run commands (SSH, nsenter over SSH). Closing an SSH channel
 * without a pty does not end the remote process, so every
 * command runs through `backgroundCommand`, which reports its process group; a timeout, an
 * abort or `stop()` then ends the group with `stopCommand` in a second command.
 */
export abstract class RemoteShell implements Shell {
    private readonly live = new Map<number, Promise<CommandResult>>();
    abstract readonly name: string;
    protected abstract disconnect(): Promise<void>;

    /** Upper bound for a background command (its tools carry their own `timeout` too). */
    protected backgroundTimeoutMs = 6 * 3600 * 1000;

    /** Runs `command` as is, with a callback on each stdout chunk. */
    protected abstract runStreaming(command: string, onStdout: (text: string) => void, timeoutMs: number, signal?: AbortSignal): Promise<CommandResult>;

    private async kill(pgid: number): Promise<void> {
        await this.runStreaming(stopCommand(pgid), () => undefined, 15_000).catch(() => undefined);
    }

    /** Runs wrapped; `onPgid` hears the process group as soon as the remote side prints it. */
    private runWrapped(command: string, timeoutMs: number, signal: AbortSignal | undefined, onPgid: (pgid: number) => void): Promise<CommandResult> {
        let head = "";
        let seen = false;
        return this.runStreaming(
            backgroundCommand(command),
            (text) => {
                if (seen) return;
                head += text;
                const m = backgroundPgidPattern.exec(head);
                if (m) {
                    seen = true;
                    onPgid(Number(m[1]));
                }
            },
            timeoutMs,
            signal,
        ).then((r) => ({ ...r, stdout: splitPgid(r.stdout).stdout }));
    }

    async run(command: string, options: RunOptions): Promise<CommandResult> {
        if (options.signal?.aborted) throw abortError(this.name, command);
        let pgid: number | undefined;
        const started = Date.now();
        try {
            return await this.runWrapped(command, options.timeoutMs, options.signal, (p) => (pgid = p));
        } catch (err) {
            if (pgid !== undefined) await this.kill(pgid);
            // Name the caller's command, not the wrapper around it.
            if (options.signal?.aborted) throw abortError(this.name, command);
            // runStreaming rejects on its own timer when timeoutMs passes (SshShell with a
            // TimeoutError; a subclass may reject with a plain Error): a rejection at the limit is it.
            if (err instanceof TimeoutError || Date.now() - started >= options.timeoutMs) throw timeoutError(this.name, command, options.timeoutMs);
            throw err;
        }
    }

    start(command: string): BackgroundProcess {
        let pgidSeen: (pgid: number | undefined) => void = () => undefined;
        const pgid = new Promise<number | undefined>((r) => (pgidSeen = r));
        const done = this.runWrapped(command, this.backgroundTimeoutMs, undefined, (p) => pgidSeen(p)).catch((err: Error): CommandResult => ({ stdout: "", stderr: err.message, code: null }));
        void done.then(() => pgidSeen(undefined));
        const tracked = done.finally(() => pgid.then((p) => p !== undefined && this.live.delete(p)));
        void pgid.then((p) => p !== undefined && this.live.set(p, tracked));
        const stop = async (): Promise<CommandResult> => {
            const p = await Promise.race([pgid, new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000))]);
            if (p !== undefined) await this.kill(p);
            return Promise.race([tracked, new Promise<CommandResult>((r) => setTimeout(() => r({ stdout: "", stderr: "stop: no exit within 10 s", code: null }), 10_000))]);
        };
        return { done: tracked, stop };
    }

    async close(): Promise<void> {
        await Promise.all([...this.live.keys()].map((p) => this.kill(p)));
        this.live.clear();
        await this.disconnect();
    }
}
