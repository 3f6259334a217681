/**
 * The one command-line contract of bench, lab, compare and render: one option vocabulary (the
 * same thing has the same name everywhere), one parser, one way to print usage, and one mapping
 * from outcomes to exit codes:
 *
 *   0 done · 1 failed · 2 bad usage (nothing was done) · 3 a gate failed · 130 interrupted
 *
 * A program the command needs that is not on PATH (the Pulumi CLI, iperf3, ip …) is 1, not 2: the
 * command line was right, this machine lacks something. It is found before anything is created
 * (core/tools.ts requireTools), and the message names every missing program and how to install it.
 *
 * 130 is 128 + SIGINT(2), the shells' convention for "ended by Ctrl-C"; SIGTERM ends a run the
 * same way and exits 130 too, so that scripts test one code for "interrupted".
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { networkModes } from "../components/modes";
import { serviceProxyModes } from "../components/serviceProxy";
import { maxServiceCount } from "../components/serviceCounts";
import { InterruptedError, SchemaError, UsageError } from "./errors";

export const exitCodes = { ok: 0, failure: 1, usage: 2, gateFailed: 3, interrupted: 130 } as const;

/**
 * What a string option's value must be. Every string option declares one, so the parser checks
 * every value the same way in every CLI (and the hostile-input table is generated from them).
 */
export type ValueRule =
    /** A decimal whole number (no 0x, no exponent), bounded on both sides. */
    | { readonly kind: "integer"; readonly min: number; readonly max: number }
    /** A decimal number (no 0x, no exponent, no Infinity), bounded on both sides. */
    | { readonly kind: "number"; readonly min: number; readonly max: number }
    | { readonly kind: "choice"; readonly allowed: readonly string[] }
    /** Comma-separated, none twice; items from `allowed` (and "all" for all of them) or whole numbers. */
    | { readonly kind: "list"; readonly allowed?: readonly string[]; readonly all?: boolean; readonly integer?: Range }
    /** A folder this command writes into: it must be (or be creatable as) a folder it can write. */
    | { readonly kind: "out-folder" }
    /** A file this command reads: it must exist and be a readable file. */
    | { readonly kind: "in-file" }
    /** Free text, optionally of a shape (`pattern`, described by `example`). */
    | { readonly kind: "text"; readonly pattern?: RegExp; readonly example?: string };

export type OptionSpec =
    | { readonly type: "boolean"; readonly short?: string; readonly help: string; readonly arg?: undefined }
    | {
          readonly type: "string";
          /** Placeholder in the usage text, e.g. "DIR". */
          readonly arg: string;
          readonly help: string;
          readonly value: ValueRule;
          /** The environment variable that supplies the value when the option is absent. */
          readonly env?: string;
          readonly short?: undefined;
      };

/** At most one run of the round-robin per minute for a day and a half: no plan needs more. */
const maxRepetitions = 100;
/** Ten minutes per tool run: far beyond any run the docs make (bench 10 s, lab 1 s, compare 30 s). */
const maxRunSeconds = 600;

/**
 * Options that mean the same in several CLIs. A CLI takes the ones it has from here (it may
 * reword the help to give its own default), so two CLIs never spell or bound one thing two ways.
 */
export const sharedOptions = {
    out: { type: "string", arg: "DIR", help: "results folder", value: { kind: "out-folder" } },
    repetitions: { type: "string", arg: "N", help: "repetitions of the round-robin", value: { kind: "integer", min: 1, max: maxRepetitions } },
    baseline: { type: "string", arg: "NAME", help: "express every figure also against this target", value: { kind: "text" } },
    "max-overhead-pct": { type: "string", arg: "P", help: "with --baseline: exit 3 when a gated figure is more than P % worse than the baseline", value: { kind: "number", min: 0, max: 1000 } },
    // The CLIs that take it narrow it to bench/measure/ids.ts `measurementIds` (sharedWith).
    measurements: { type: "string", arg: "LIST", help: "comma-separated measurements", value: { kind: "list" } },
    duration: { type: "string", arg: "S", help: "measured seconds per tool run", value: { kind: "integer", min: 1, max: maxRunSeconds } },
    warmup: { type: "string", arg: "S", help: "discarded warm-up seconds before each run", value: { kind: "integer", min: 0, max: maxRunSeconds } },
    modes: { type: "string", arg: "LIST", help: 'comma-separated network modes, or "all"', value: { kind: "list", allowed: networkModes, all: true } },
    // The CLIs that take it narrow it to bench/results/summary.ts `schedules` (sharedWith).
    schedule: {
        type: "string",
        arg: "HOW",
        help: "concurrent (targets measured at the same time; separate clusters only) or round-robin (one target at a time, order rotating)",
        value: { kind: "text" },
    },
    // The Service-proxy axis (docs/service-proxy.md); the lab narrows the proxies to the kube-proxy modes it builds.
    "service-proxy": { type: "string", arg: "LIST", help: "comma-separated Service proxy modes", value: { kind: "list", allowed: serviceProxyModes } },
    services: { type: "string", arg: "LIST", help: "comma-separated counts of extra Services to measure at", value: { kind: "list", integer: { min: 0, max: maxServiceCount } } },
    cleanup: { type: "boolean", help: "remove what a crashed or killed run left behind (from the ledger), then exit" },
    yes: { type: "boolean", help: "do not ask for confirmation (required without a terminal)" },
    "dry-run": { type: "boolean", help: "validate the input and print the plan; do nothing" },
    help: { type: "boolean", short: "h", help: "this text" },
} as const satisfies Record<string, OptionSpec>;

/** The shared option `name` with the CLI's own help text (e.g. its default). */
export function shared<K extends keyof typeof sharedOptions>(name: K, help?: string): (typeof sharedOptions)[K] {
    return help === undefined ? sharedOptions[name] : { ...sharedOptions[name], help };
}

/** The shared option `name` with a narrower value rule (e.g. the measurements a CLI knows). */
export function sharedWith<K extends keyof typeof sharedOptions, R extends ValueRule>(
    name: K,
    help: string,
    value: R,
): Omit<(typeof sharedOptions)[K], "value" | "help"> & { readonly help: string; readonly value: R } {
    return { ...sharedOptions[name], help, value };
}

/** The parsed type of one option's value. */
type ValueOf<S> = S extends { readonly type: "boolean" }
    ? boolean
    : S extends { readonly value: { readonly kind: "integer" | "number" } }
      ? number
      : S extends { readonly value: { readonly kind: "choice"; readonly allowed: readonly (infer A)[] } }
        ? A
        : S extends { readonly value: { readonly kind: "list"; readonly integer: Range } }
          ? number[]
          : S extends { readonly value: { readonly kind: "list"; readonly allowed: readonly (infer A)[] } }
            ? A[]
            : S extends { readonly value: { readonly kind: "list" } }
              ? string[]
              : string;

export type Values<T extends Record<string, OptionSpec>> = { [K in keyof T]?: ValueOf<T[K]> };

export interface ParsedCommandLine<T extends Record<string, OptionSpec>> {
    /** Every given value, checked against its rule and converted. */
    readonly values: Values<T>;
    readonly positionals: readonly string[];
    /** Where each given value came from, as the user wrote it: "--out", "-h", or "env OPERATOR_CIDR". */
    readonly sources: { readonly [K in keyof T]?: string };
    /** Each given string value as written, before checking. */
    readonly texts: { readonly [K in keyof T]?: string };
}

/** Aligned option lines for a usage text, in the order given. */
export function optionLines(options: Record<string, OptionSpec>): string {
    const heads = Object.entries(options).map(([name, spec]) => `  ${spec.short ? `-${spec.short}, ` : ""}--${name}${spec.arg ? ` ${spec.arg}` : ""}`);
    const width = Math.max(...heads.map((h) => h.length)) + 2;
    return Object.values(options)
        .map((spec, i) => `${heads[i].padEnd(width)}${spec.help}${spec.type === "string" && spec.env ? ` (or env ${spec.env})` : ""}`)
        .join("\n");
}

/**
 * Parses argv strictly, then checks every value against its option's rule. Unknown options,
 * missing values, an option given twice and a bad value are UsageErrors naming the option as
 * typed. A value from an option's environment variable is checked the same way and named by it.
 */
export function parseCommandLine<T extends Record<string, OptionSpec>>(
    argv: readonly string[],
    options: T,
    settings: { readonly positionals?: boolean; readonly env?: Readonly<Record<string, string | undefined>> } = {},
): ParsedCommandLine<T> {
    let parsed;
    try {
        parsed = parseArgs({
            args: [...argv],
            strict: true,
            allowPositionals: settings.positionals ?? false,
            tokens: true,
            options: Object.fromEntries(Object.entries(options).map(([name, spec]) => [name, spec.short ? { type: spec.type, short: spec.short } : { type: spec.type }])),
        });
    } catch (error) {
        // node:util parseArgs errors name the option ("Unknown option '--x'", "Option '--out <value>' argument missing").
        throw new UsageError((error as Error).message);
    }
    // parseArgs keeps the last of a repeated option; its tokens keep them all
    // (https://nodejs.org/api/util.html#parseargs-tokens). One rule: every option at most once.
    const sources: Record<string, string> = {};
    const raw: Record<string, string | boolean> = {};
    for (const token of parsed.tokens) {
        if (token.kind !== "option") continue;
        if (token.name in sources) {
            const first = sources[token.name];
            throw new UsageError(`${token.rawName}: given twice${first !== token.rawName ? ` (also as ${first})` : ""}; give it once`);
        }
        sources[token.name] = token.rawName;
        raw[token.name] = token.value ?? true;
    }
    for (const [name, spec] of Object.entries(options)) {
        if (name in raw || spec.type !== "string" || spec.env === undefined) continue;
        const text = settings.env?.[spec.env];
        // An empty variable is an unset one (`OPERATOR_CIDR= cmd` clears it for one command).
        if (text === undefined || text.trim() === "") continue;
        sources[name] = `env ${spec.env}`;
        raw[name] = text.trim();
    }
    const values: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(raw)) {
        const spec = options[name];
        values[name] = spec.type === "boolean" ? value : checkValue(sources[name], value as string, spec.value);
    }
    const texts = Object.fromEntries(Object.entries(raw).filter(([, v]) => typeof v === "string"));
    return { values: values as Values<T>, positionals: parsed.positionals, sources: sources as ParsedCommandLine<T>["sources"], texts: texts as ParsedCommandLine<T>["texts"] };
}

/** `text` checked against `rule` and converted; a UsageError naming `flag`, the value and what is allowed. */
export function checkValue(flag: string, text: string, rule: ValueRule): unknown {
    switch (rule.kind) {
        case "integer":
            return integerOption(flag, text, rule);
        case "number":
            return numberOption(flag, text, rule);
        case "choice":
            return choiceOption(flag, text, rule.allowed);
        case "list":
            return listOption(flag, text, rule);
        case "out-folder":
            return outputFolder(flag, text);
        case "in-file":
            return inputFile(flag, text);
        case "text":
            if (text.trim() === "") throw new UsageError(`${flag}: "" is empty; give a value`);
            if (rule.pattern && !rule.pattern.test(text)) throw new UsageError(`${flag}: ${JSON.stringify(text)} is not allowed; use ${rule.example ?? rule.pattern.source}`);
            return text;
    }
}

export interface Range {
    readonly min: number;
    readonly max: number;
}

function rangeText(range: Range): string {
    return `from ${range.min} to ${range.max}`;
}

/** A decimal whole number in range ("0x10", "1e3", "2.0" refused); undefined when absent. */
export function integerOption(flag: string, text: string | undefined, range: Range): number | undefined {
    if (text === undefined) return undefined;
    const n = Number(text.trim());
    if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < range.min || n > range.max) {
        throw new UsageError(`${flag}: ${JSON.stringify(text)} must be a whole number ${rangeText(range)}`);
    }
    return n;
}

/** A decimal number in range ("0x10", "1e3", "Infinity" refused); undefined when absent. */
export function numberOption(flag: string, text: string | undefined, range: Range): number | undefined {
    if (text === undefined) return undefined;
    const n = Number(text.trim());
    if (!/^-?\d+(\.\d+)?$/.test(text.trim()) || n < range.min || n > range.max) {
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

/**
 * A comma-separated list: not empty, no item twice, each item one of `allowed` ("all" for all of
 * them when `all`) or a whole number in `integer`'s range.
 */
export function listOption(flag: string, text: string, rule: { readonly allowed?: readonly string[]; readonly all?: boolean; readonly integer?: Range } = {}): unknown[] {
    const items = text.split(",").map((s) => s.trim());
    if (items.every((s) => s === "")) throw new UsageError(`${flag}: ${JSON.stringify(text)} is empty; give a comma-separated list`);
    if (rule.all && items.length === 1 && items[0] === "all" && rule.allowed) return [...rule.allowed];
    const allowedText = rule.allowed && `${rule.all ? "all, or a comma-separated list of " : ""}${rule.allowed.join(", ")}`;
    const seen = new Set<string>();
    return items.map((item) => {
        if (item === "") throw new UsageError(`${flag}: ${JSON.stringify(text)} has an empty item`);
        if (seen.has(item)) throw new UsageError(`${flag}: ${JSON.stringify(item)} is listed twice`);
        seen.add(item);
        if (rule.integer) return integerOption(flag, item, rule.integer);
        if (rule.allowed && !rule.allowed.includes(item)) throw new UsageError(`${flag}: ${JSON.stringify(item)} is not allowed; use ${allowedText}`);
        return item;
    });
}

function problemOf(error: unknown): string {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EROFS") return "is on a read-only file system";
    if (code === "EACCES" || code === "EPERM") return "is not writable by this user";
    return (error as Error).message;
}

/**
 * A folder the command will create (if missing) and write into, checked before any work: it
 * is not a file, nor below one, and the nearest existing folder on its path is writable.
 * access(2) answers EROFS for write access on a read-only file system even for root
 * (https://man7.org/linux/man-pages/man2/access.2.html, ERRORS), and EACCES by permissions.
 */
export function outputFolder(flag: string, dir: string): string {
    if (dir.trim() === "") throw new UsageError(`${flag}: "" must be a folder path`);
    const absolute = path.resolve(dir);
    let existing = absolute;
    while (!fs.existsSync(existing)) existing = path.dirname(existing);
    if (!fs.statSync(existing).isDirectory()) {
        throw new UsageError(`${flag}: ${JSON.stringify(dir)}: ${existing === absolute ? "is a file, not a folder" : `${existing} is a file, not a folder`}`);
    }
    try {
        fs.accessSync(existing, fs.constants.W_OK | fs.constants.X_OK);
    } catch (error) {
        throw new UsageError(`${flag}: ${JSON.stringify(dir)}: ${existing === absolute ? "" : `${existing} `}${problemOf(error)}`);
    }
    return absolute;
}

/** A file the command reads, checked before any work: it exists, is a file and is readable. */
export function inputFile(flag: string, file: string): string {
    if (file.trim() === "") throw new UsageError(`${flag}: "" must be a file path`);
    let stat;
    try {
        stat = fs.statSync(file);
        fs.accessSync(file, fs.constants.R_OK);
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new UsageError(
            `${flag}: ${JSON.stringify(file)} ${code === "ENOENT" || code === "ENOTDIR" ? "does not exist" : code === "EACCES" ? "is not readable by this user" : (error as Error).message}`,
        );
    }
    if (!stat.isFile()) throw new UsageError(`${flag}: ${JSON.stringify(file)} is a folder, not a file`);
    return file;
}

/**
 * Refuses options that do not apply with `what` (e.g. "--cleanup" takes only --yes): an option
 * that would be silently ignored is a mistake the user should hear about. --help always applies.
 */
export function refuseOthers<T extends Record<string, OptionSpec>>(parsed: ParsedCommandLine<T>, what: string, allowed: readonly (keyof T & string)[]): void {
    const stray = Object.entries(parsed.sources)
        .filter(([name, source]) => name !== "help" && `--${name}` !== what && !allowed.includes(name) && !String(source).startsWith("env "))
        .map(([, source]) => source as string);
    if (stray.length === 0) return;
    const names = allowed.map((a) => `--${a}`);
    const takes = names.length === 0 ? "takes no other option" : `takes only ${names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`}`;
    throw new UsageError(`${what} ${takes}; remove ${stray.join(", ")}`);
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
