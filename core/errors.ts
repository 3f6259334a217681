/**
 * The error classes every runtime (bench, lab, compare, render) shares. Callers recognise an
 * error by its class (`instanceof`), never by its message text or its `name`; the CLI helper
 * (cli.ts) maps the classes to exit codes.
 */

/** Base: keeps the subclass's name in stack traces (for reading only, never for matching). */
export class CniCompareError extends Error {
    constructor(message: string, options?: ErrorOptions) {
        super(message, options);
        this.name = new.target.name;
    }
}

/** Bad command line or input, found before any side effect: exit 2. */
export class UsageError extends CniCompareError {}

/** A step ran out of time. The message names the step, the limit and the option that sets it. */
export class TimeoutError extends CniCompareError {
    constructor(
        message: string,
        /** e.g. "up of stack vxlan" or the command that did not answer. */
        readonly what: string,
        readonly limitMs: number,
    ) {
        super(message);
    }
}

/** The operator interrupted (Ctrl-C, SIGTERM) or the caller aborted: exit 130. */
export class InterruptedError extends CniCompareError {}

/** A file read from disk does not have the expected shape (schema.ts names the field). */
export class SchemaError extends CniCompareError {}

/** A child process could not be stopped within its escalation (it may still be running). */
export class StillRunningError extends CniCompareError {}
