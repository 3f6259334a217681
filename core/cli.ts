/**
 * The one command-line contract of bench, lab, compare and render: one option vocabulary (the
 * same thing has the same name everywhere), one parser, one way to print usage, and one mapping
 * from outcomes to exit codes:
 *
 *   0 done · 1 failed · 2 bad usage (nothing was done) · 3 a gate failed · 130 interrupted
 *
 * 130 is 128 + SIGINT(2), the shells' convention for "ended by Ctrl-C"; SIGTERM ends a run the
 * same way and exits 130 too, so that scripts test one code for "interrupted".
 */
import { parseArgs } from "node:util";
import { InterruptedError, SchemaError, UsageError } from "./errors";

export const exitCodes = { ok: 0, failure: 1, usage: 2, gateFailed: 3, interrupted: 130 } as const;

export interface OptionSpec {
    readonly type: "string" | "boolean";
    readonly short?: string;
    /** Placeholder in the usage text, e.g. "DIR". */
    readonly arg?: string;
    readonly help: string;
}

/**
 * Options that mean the same in several CLIs. A CLI takes the ones it has from here (it may
 * reword the help to give its own default), so two CLIs never spell one thing two ways.
 */
export const sharedOptions = {
    out: { type: "string", arg: "DIR", help: "results folder" },
    repetitions: { type: "string", arg: "N", help: "repetitions of the round-robin" },
    baseline: { type: "string", arg: "NAME", help: "express every figure also against this target" },
    "max-overhead-pct": { type: "string", arg: "P", help: "with --baseline: exit 3 when a gated figure is more than P % worse than the baseline" },
    measurements: { type: "string", arg: "LIST", help: "comma-separated measurements" },
    duration: { type: "string", arg: "S", help: "measured seconds per tool run" },
    warmup: { type: "string", arg: "S", help: "discarded warm-up seconds before each run" },
    modes: { type: "string", arg: "LIST", help: 'comma-separated network modes, or "all"' },
    schedule: { type: "string", arg: "HOW", help: "concurrent (targets measured at the same time; separate clusters only) or round-robin (one target at a time, order rotating)" },
    cleanup: { type: "boolean", help: "remove what a crashed or killed run left behind (from the ledger), then exit" },
    yes: { type: "boolean", help: "do not ask for confirmation (required without a terminal)" },
    "dry-run": { type: "boolean", help: "validate the input and print the plan; do nothing" },
    help: { type: "boolean", short: "h", help: "this text" },
} as const satisfies Record<string, OptionSpec>;

/** The shared option `name` with the CLI's own help text (e.g. its default). */
export function shared<K extends keyof typeof sharedOptions>(name: K, help?: string): (typeof sharedOptions)[K] {
    return help === undefined ? sharedOptions[name] : { ...sharedOptions[name], help };
}

type Values<T extends Record<string, OptionSpec>> = { [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : string };

/** Aligned option lines for a usage text, in the order given. */
export function optionLines(options: Record<string, OptionSpec>): string {
    const heads = Object.entries(options).map(([name, spec]) => `  ${spec.short ? `-${spec.short}, ` : ""}--${name}${spec.arg ? ` ${spec.arg}` : ""}`);
    const width = Math.max(...heads.map((h) => h.length)) + 2;
    return Object.values(options)
        .map((spec, i) => `${heads[i].padEnd(width)}${spec.help}`)
        .join("\n");
}

/** Parses argv strictly; unknown options and missing values are UsageErrors naming the option. */
export function parseCommandLine<T extends Record<string, OptionSpec>>(
    argv: readonly string[],
    options: T,
    settings: { readonly positionals?: boolean } = {},
): { readonly values: Values<T>; readonly positionals: readonly string[] } {
    try {
        const parsed = parseArgs({
            args: [...argv],
            strict: true,
            allowPositionals: settings.positionals ?? false,
            options: Object.fromEntries(Object.entries(options).map(([name, spec]) => [name, spec.short ? { type: spec.type, short: spec.short } : { type: spec.type }])),
        });
        return { values: parsed.values as Values<T>, positionals: parsed.positionals };
    } catch (error) {
        // node:util parseArgs errors name the option ("Unknown option '--x'", "Option '--out <value>' argument missing").
        throw new UsageError((error as Error).message);
    }
}

interface Range {
    readonly min: number;
    readonly max?: number;
}

function rangeText(range: Range): string {
    return range.max === undefined ? `≥ ${range.min}` : `from ${range.min} to ${range.max}`;
}

/** A whole number option; undefined when absent. */
export function integerOption(flag: string, text: string | undefined, range: Range): number | undefined {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === "" || !Number.isInteger(n) || n < range.min || (range.max !== undefined && n > range.max)) {
        throw new UsageError(`${flag}: ${JSON.stringify(text)} must be a whole number ${rangeText(range)}`);
    }
    return n;
}

/** A number option; undefined when absent. */
export function numberOption(flag: string, text: string | undefined, range: Range): number | undefined {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n) || n < range.min || (range.max !== undefined && n > range.max)) {
        throw new UsageError(`${flag}: ${JSON.stringify(text)} must be a number ${rangeText(range)}`);
    }
    return n;
}

/** An option whose value must be one of `allowed`; undefined when absent. */
export function choiceOption<T extends string>(flag: string, text: string | undefined, allowed: readonly T[]): T | undefined {
    if (text === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(text)) throw new UsageError(`${flag}: ${JSON.stringify(text)} is not allowed; use one of ${allowed.join(", ")}`);
    return text as T;
}

/** A comma-separated list option; an empty list is refused. */
export function listOption(flag: string, text: string | undefined): string[] | undefined {
    if (text === undefined) return undefined;
    const items = text.split(",").map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) throw new UsageError(`${flag}: ${JSON.stringify(text)} is empty; give a comma-separated list`);
    return items;
}

/** Error classes that mean "bad input" (exit 2) besides UsageError, e.g. a stack config error. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** The exit code for an error that escaped `main`, after printing it. */
export function exitCodeFor(program: string, error: unknown, usageErrors: readonly ErrorClass[] = []): number {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof UsageError || error instanceof SchemaError || usageErrors.some((c) => error instanceof c)) {
        console.error(`${program}: ${message}\n(--help shows the usage)`);
        return exitCodes.usage;
    }
    if (error instanceof InterruptedError) {
        console.error(`${program}: ${message}`);
        return exitCodes.interrupted;
    }
    // A programming error (not a failure the code anticipated) gets its stack, for the bug report.
    const bug = error instanceof TypeError || error instanceof ReferenceError || error instanceof RangeError;
    console.error(`${program}: ${bug ? (error.stack ?? message) : message}`);
    return exitCodes.failure;
}

/**
 * The entry of every CLI: runs `main`, prints what escaped, exits with the code. It exits
 * explicitly: a process it deliberately left running (a Pulumi CLI that did not stop, in its own
 * process group, reported as a leftover) must not keep the command from ending. Output is not
 * lost: writes to pipes, files and terminals are synchronous on Linux
 * (https://nodejs.org/api/process.html#a-note-on-process-io).
 */
export function runCli(program: string, main: () => Promise<number>, usageErrors: readonly ErrorClass[] = []): void {
    void exitCodeOfMain(program, main, usageErrors).then((code) => process.exit(code));
}

/** `main`'s exit code, or the code of the error that escaped it (printed): what runCli exits with. */
export function exitCodeOfMain(program: string, main: () => Promise<number>, usageErrors: readonly ErrorClass[] = []): Promise<number> {
    return main().catch((error: unknown) => exitCodeFor(program, error, usageErrors));
}

export interface InterruptWatch {
    /** Aborted by the first interrupt. */
    readonly signal: AbortSignal;
    /** The first signal received, if any. */
    readonly received: NodeJS.Signals | undefined;
    /** Interrupts counted so far (repeats within the window are not counted). */
    readonly count: number;
    dispose(): void;
}

/**
 * Listens for SIGINT and SIGTERM. The first aborts `signal`; each later one is passed to
 * `onInterrupt` with its count. A signal arriving within `repeatWindowMs` of the last counted
 * one is the same keypress seen twice and is ignored: a terminal's Ctrl-C goes to every process
 * of the foreground group, and tsx relays the signal it gets to its child too (seen: one Ctrl-C
 * delivered as two SIGINTs 5 ms apart), so a real second Ctrl-C is at least a human pause later.
 */
export function watchInterrupts(onInterrupt: (signal: NodeJS.Signals, count: number) => void, repeatWindowMs = 1_000): InterruptWatch {
    const controller = new AbortController();
    let received: NodeJS.Signals | undefined;
    let count = 0;
    let lastAt = -Infinity;
    const handler = (sig: NodeJS.Signals) => {
        const now = Date.now();
        if (now - lastAt < repeatWindowMs) return;
        lastAt = now;
        count++;
        if (count === 1) {
            received = sig;
            controller.abort(new InterruptedError(`interrupted by ${sig}`));
        }
        onInterrupt(sig, count);
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
    return {
        signal: controller.signal,
        get received() {
            return received;
        },
        get count() {
            return count;
        },
        dispose() {
            process.off("SIGINT", handler);
            process.off("SIGTERM", handler);
        },
    };
}
