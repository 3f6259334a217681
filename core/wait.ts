/**
 * Waiting: a sleep that an abort cuts short, a bounded wait for a promise, and the one polling
 * loop (a condition checked until it holds or a deadline passes).
 */
import { InterruptedError, TimeoutError } from "./errors";

/** Resolves after `ms`, or as soon as `signal` aborts (it never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        if (signal?.aborted) return resolve();
        const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener("abort", done, { once: true });
    });
}

/** The promise's value if it settles within `ms`, else undefined (the promise keeps running). */
export async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
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

export interface PollOptions {
    readonly timeoutMs: number;
    readonly intervalMs?: number;
    /** Aborting ends the wait with an InterruptedError. */
    readonly signal?: AbortSignal;
}

/**
 * Calls `check` until it returns true. A string return is "not yet, and this is why": it goes
 * into the TimeoutError. `check` may throw to give up at once (e.g. the daemon died).
 */
export async function pollUntil(what: string, check: () => boolean | string | Promise<boolean | string>, options: PollOptions): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    const interval = options.intervalMs ?? 200;
    let last: boolean | string = false;
    for (;;) {
        if (options.signal?.aborted) throw new InterruptedError(`${what}: interrupted while waiting`);
        last = await check();
        if (last === true) return;
        if (Date.now() >= deadline) break;
        await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), options.signal);
    }
    const seconds = options.timeoutMs / 1000;
    throw new TimeoutError(`${what}: not ready after ${seconds} s${typeof last === "string" ? ` (last: ${last})` : ""}`, what, options.timeoutMs);
}
