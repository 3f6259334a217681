/**
 * Runs one long stack operation under a time limit and an interruption signal, and makes sure it
 * has really stopped (or says it may not have) before the caller goes on to destroy.
 */

/** A step ran out of time; the message names the step, the stack, the limit and the flag. */
export class StepTimeoutError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StepTimeoutError";
    }
}

/** The operator pressed Ctrl-C or sent SIGTERM. */
export class InterruptedError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "InterruptedError";
    }
}

export interface StepLimits {
    /** e.g. "up of stack vxlan". */
    readonly what: string;
    readonly timeoutMs: number;
    /** e.g. "--up-timeout": named in the timeout error. */
    readonly flag: string;
    /** Aborts the step when the operator interrupts (undefined: the step cannot be interrupted). */
    readonly interrupt?: AbortSignal;
    /** After aborting, how long the step may take to stop before `forceStop` is called, and again after it. */
    readonly graceMs: number;
    /** Called when the step ignores its abort (the Automation API's `stack.cancel()`). */
    readonly forceStop: () => Promise<void>;
    readonly onNote?: (line: string) => void;
}

function minutesText(ms: number): string {
    const minutes = ms / 60_000;
    return Number.isInteger(minutes) ? `${minutes} min` : `${(ms / 1000).toFixed(1)} s`;
}

/** Resolves with `run`'s value, or rejects with its error, a StepTimeoutError or an InterruptedError. */
export async function runStep<T>(limits: StepLimits, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let stopReason: Error | undefined;
    const stop = (reason: Error) => {
        if (stopReason) return;
        stopReason = reason;
        controller.abort(reason);
    };
    const onInterrupt = () => stop(new InterruptedError(`${limits.what} was interrupted`));
    if (limits.interrupt?.aborted) onInterrupt();
    limits.interrupt?.addEventListener("abort", onInterrupt, { once: true });
    const timer = setTimeout(
        () => stop(new StepTimeoutError(`${limits.what} timed out after ${minutesText(limits.timeoutMs)} (${limits.flag})`)),
        limits.timeoutMs,
    );

    const settled = run(controller.signal).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
    );
    let stopped: (reason: Error) => void = () => {};
    const whenStopped = new Promise<Error>((resolve) => {
        stopped = resolve;
    });
    controller.signal.addEventListener("abort", () => stopped(stopReason!), { once: true });
    if (controller.signal.aborted) stopped(stopReason!);

    try {
        const first = await Promise.race([settled, whenStopped.then(() => undefined)]);
        if (first !== undefined) {
            if (first.ok) return first.value;
            throw stopReason ?? first.error;
        }
        // Aborted: give the step time to stop by itself (Pulumi finishes in-flight resource operations).
        const reason = stopReason!;
        const afterAbort = await settleWithin(settled, limits.graceMs);
        if (afterAbort === undefined) {
            limits.onNote?.(`${limits.what} did not stop within ${minutesText(limits.graceMs)} of being asked; forcing it to stop`);
            await limits.forceStop().catch((error: unknown) => limits.onNote?.(`forcing ${limits.what} to stop failed: ${(error as Error).message}`));
            const afterForce = await settleWithin(settled, limits.graceMs);
            if (afterForce === undefined) {
                throw Object.assign(reason, { message: `${reason.message}; it still had not stopped ${minutesText(2 * limits.graceMs)} later` });
            }
        }
        throw reason;
    } finally {
        clearTimeout(timer);
        limits.interrupt?.removeEventListener("abort", onInterrupt);
    }
}

async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
    });
    try {
        return await Promise.race([promise, timeout]);
    } finally {
        clearTimeout(timer);
    }
}
