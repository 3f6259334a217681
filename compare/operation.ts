/**
 * Runs one long stack operation (up, destroy, the benchmark) under a time limit and the
 * operator's interruption, and makes sure it has really ended before the caller goes on: never
 * destroy while an update may still run. On a timeout or interrupt it aborts (one SIGINT, then
 * core/pulumi.ts escalates) and waits for the CLI to exit; it never calls `stack.cancel()`, which
 * on a file backend only deletes the lock. Not ended within `stopBoundMs`: StillRunningError, and
 * the caller leaves the stack alone. Sources: docs/facts.md, "Pulumi CLI, Automation API and the
 * file backend".
 */
import { InterruptedError, StillRunningError, TimeoutError } from "../core/errors";
import { OperationKilledError } from "../core/pulumi";
import { settleWithin } from "../core/wait";

export interface OperationLimits {
    /** e.g. "up of stack vxlan". */
    readonly what: string;
    readonly timeoutMs: number;
    /** e.g. "--up-timeout": named in the timeout error. */
    readonly flag: string;
    /** Aborts the operation when the operator interrupts (undefined: Ctrl-C does not stop it, e.g. destroy). */
    readonly interrupt?: AbortSignal;
    /** After aborting, how long the operation may take to settle (the engine's whole stop schedule). */
    readonly stopBoundMs: number;
}

function durationText(ms: number): string {
    const minutes = ms / 60_000;
    return Number.isInteger(minutes) ? `${minutes} min` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Resolves with `run`'s value, or rejects with: its own error (it failed, or was stopped and says
 * how: OperationCancelledError/OperationKilledError), a TimeoutError or InterruptedError (it was
 * stopped and ended), or a StillRunningError (it was stopped and has NOT ended within the bound).
 */
export async function runOperation<T>(limits: OperationLimits, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let stopReason: Error | undefined;
    let stopped: () => void = () => {};
    const whenStopped = new Promise<void>((resolve) => (stopped = resolve));
    const stop = (reason: Error) => {
        if (stopReason) return;
        stopReason = reason;
        controller.abort(reason);
        stopped();
    };
    const onInterrupt = () => stop(new InterruptedError(`${limits.what} was interrupted`));
    if (limits.interrupt?.aborted) onInterrupt();
    limits.interrupt?.addEventListener("abort", onInterrupt, { once: true });
    const timer = setTimeout(() => stop(new TimeoutError(`${limits.what} timed out after ${durationText(limits.timeoutMs)} (${limits.flag})`, limits.what, limits.timeoutMs)), limits.timeoutMs);
    const settled = run(controller.signal).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
    );
    try {
        const first = await Promise.race([settled, whenStopped.then(() => undefined)]);
        const outcome = first ?? (await settleWithin(settled, limits.stopBoundMs));
        if (outcome === undefined) {
            throw new StillRunningError(`${stopReason!.message}; it was asked to stop and had not ended ${durationText(limits.stopBoundMs)} later: it may still be running`, { cause: stopReason });
        }
        if (outcome.ok) {
            if (stopReason) throw stopReason;
            return outcome.value;
        }
        // Stopped by us and ended. Killed (not stopped by the one SIGINT): say both, keep the class
        // the caller acts on; otherwise our reason names the step and the flag.
        if (stopReason && outcome.error instanceof OperationKilledError) {
            throw new OperationKilledError(`${stopReason.message}; ${outcome.error.message}`, outcome.error.signalsSent);
        }
        if (stopReason) throw stopReason;
        throw outcome.error;
    } finally {
        clearTimeout(timer);
        limits.interrupt?.removeEventListener("abort", onInterrupt);
    }
}
