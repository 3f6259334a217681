/**
 * How this project runs the Pulumi CLI, for `bench <stack>` and `compare` alike: one backend
 * choice, and the CLI started in its own process group (GroupPulumiCommand), so a terminal's
 * Ctrl-C reaches only us and the CLI gets exactly one SIGINT (a second one makes it terminate at
 * once, which may orphan resources). The Automation API contract it honours, with sources:
 * docs/facts.md, "Pulumi CLI, Automation API and the file backend".
 */
import * as os from "node:os";
import * as path from "node:path";
import type { LocalWorkspaceOptions, PulumiCommand } from "@pulumi/pulumi/automation";
import { CniCompareError, InterruptedError } from "./errors";
import { findExecutable, ToolMissingError, type Tool } from "./tools";
import { describeExit, escalate, groupTarget, spawnGroup, type CommandResult, type EscalationStep } from "./process";

/** A local state folder unless the operator chose a backend: nothing leaves this machine but AWS calls. */
export function defaultBackendUrl(home: string = os.homedir()): string {
    return `file://${path.join(home, ".pulumi-cni-compare")}`;
}

/**
 * The backend `compare` creates its stacks in: PULUMI_BACKEND_URL when set, else the local folder
 * above (never the operator's own `pulumi login`, so a comparison cannot touch stacks made by
 * hand). `bench <stack>` looks there too, after the operator's login (benchStackPlaces).
 */
export function chooseBackend(env: Readonly<Record<string, string | undefined>>): { readonly url: string; readonly defaulted: boolean } {
    const url = env.PULUMI_BACKEND_URL?.trim();
    return url ? { url, defaulted: false } : { url: defaultBackendUrl(), defaulted: true };
}

/** One backend `bench <stack>` looks in; no `url` means the CLI's own choice (its current login). */
export interface StackPlace {
    readonly url?: string;
    /** How the place is named in messages. */
    readonly label: string;
}

/**
 * Where `bench <stack>` looks for a stack. PULUMI_BACKEND_URL, when set, is the only place: the
 * CLI itself takes it over any `pulumi login` (pulumi/pulumi#5789: it is used "instead of
 * deferring to the project or the ~/.pulumi/credentials.json file to decide on the 'current'
 * backend"). Unset, a stack made by hand after `pulumi login --local` (README) lives in the
 * login's backend, and one `npm run compare -- --keep` left lives in compare's folder: both are
 * looked in, the login first.
 */
export function benchStackPlaces(env: Readonly<Record<string, string | undefined>>): readonly StackPlace[] {
    const chosen = chooseBackend(env);
    if (!chosen.defaulted) return [{ url: chosen.url, label: `the backend ${chosen.url} (PULUMI_BACKEND_URL)` }];
    return [{ label: "the backend of your `pulumi login` (PULUMI_BACKEND_URL is not set)" }, { url: chosen.url, label: `the backend ${chosen.url} (where \`npm run compare\` keeps its stacks)` }];
}

/** The passphrase protects stack secrets (kubeconfig, SSH key) in a file backend. */
export function checkPassphrase(env: Readonly<Record<string, string | undefined>>, backendUrl: string): string | undefined {
    if (!backendUrl.startsWith("file://")) return undefined;
    if (env.PULUMI_CONFIG_PASSPHRASE !== undefined || env.PULUMI_CONFIG_PASSPHRASE_FILE !== undefined) return undefined;
    return `PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) is not set: the ${backendUrl} backend encrypts the stacks' secrets (kubeconfig, SSH key) with it. Set it, e.g. export PULUMI_CONFIG_PASSPHRASE='<a passphrase you keep>'`;
}

/** What to do without a Pulumi CLI: said by every command that needs one (bench <stack>, compare). */
export const pulumiInstallHint = "install the Pulumi CLI (https://www.pulumi.com/docs/iac/download-install/) so that `pulumi` is on PATH";

/** No `pulumi` executable can be started: a missing tool (exit 1). */
export class PulumiCliMissingError extends ToolMissingError {}

/** The Pulumi CLI as a tool a command needs (core/tools.ts), `command` as the operator chose it. */
export function pulumiTool(command = "pulumi"): Tool {
    return { command, install: pulumiInstallHint };
}

/** Fails with the install hint when there is no CLI: called before a command creates anything. */
export function requirePulumiCli(command = "pulumi", env: Readonly<Record<string, string | undefined>> = process.env): string {
    const found = findExecutable(command, env);
    if (found === undefined) throw new PulumiCliMissingError(`no Pulumi CLI: "${command}" is not ${command.includes("/") ? "an executable file" : "on PATH"}; ${pulumiInstallHint}`);
    return found;
}

/** A Pulumi CLI command that did not exit 0; the message keeps the CLI's own error lines. */
export class PulumiCommandError extends CniCompareError {
    constructor(
        readonly args: readonly string[],
        readonly result: CommandResult,
    ) {
        // stderr only: stdout may hold secrets (`stack output --show-secrets`).
        const said = result.stderr
            .split("\n")
            .filter((l) => l.trim() !== "")
            .slice(-6)
            .join("\n  ");
        // The command words only (e.g. "stack select"): values (config) stay out of messages.
        const firstFlag = args.findIndex((a) => a.startsWith("-"));
        const words = (firstFlag < 0 ? args : args.slice(0, firstFlag)).slice(0, 2).join(" ");
        super(`pulumi ${words} ended with ${describeExit(result)}${said ? `:\n  ${said}` : ""}`);
    }
}

/**
 * The CLI said the stack does not exist. Classified once, here, from the CLI's stderr with the
 * Automation API's own pattern (automation/errors.js: `notFoundRegex = /no stack named.*found/`).
 */
export class StackNotFoundError extends PulumiCommandError {}

/**
 * No backend to talk to: no PULUMI_BACKEND_URL, no `pulumi login`, so the CLI falls back to Pulumi
 * Cloud and, without a token in a non-interactive session, refuses (pulumi/pulumi
 * pkg/backend/httpstate/login.go: "%s must be set for login during non-interactive CLI sessions").
 */
export class NotLoggedInError extends PulumiCommandError {}

/** The CLI stopped after our one SIGINT (its graceful cancel): the state was written by the CLI itself. */
export class OperationCancelledError extends InterruptedError {}

/**
 * The CLI did not stop on SIGINT and had to be terminated (SIGTERM, the CLI's "terminating") or
 * killed: its process is gone, but the stack may hold pending operations and a stale lock.
 */
export class OperationKilledError extends CniCompareError {
    constructor(
        message: string,
        readonly signalsSent: readonly NodeJS.Signals[],
    ) {
        super(message);
    }
}

/** When our one SIGINT is not enough: how long to wait before SIGTERM, and before SIGKILL. */
export interface StopSchedule {
    /** After SIGINT: the CLI finishes in-flight resource operations, which can take minutes. */
    readonly afterInterruptMs: number;
    /** After SIGTERM (the CLI's second signal: "terminating"). */
    readonly afterTerminateMs: number;
    /** After SIGKILL, until we give up waiting for the exit. */
    readonly afterKillMs: number;
}

export const defaultStopSchedule: StopSchedule = { afterInterruptMs: 120_000, afterTerminateMs: 30_000, afterKillMs: 10_000 };

/** The longest a stop can take by the schedule. */
export function stopBoundMs(s: StopSchedule): number {
    return s.afterInterruptMs + s.afterTerminateMs + s.afterKillMs;
}

function stopSteps(s: StopSchedule): EscalationStep[] {
    return [
        { signal: "SIGINT", waitMs: s.afterInterruptMs },
        { signal: "SIGTERM", waitMs: s.afterTerminateMs },
        { signal: "SIGKILL", waitMs: s.afterKillMs },
    ];
}

/** A CLI process we started, for logs and for tests. */
export interface CliProcessEvent {
    readonly pid: number | undefined;
    readonly args: readonly string[];
    readonly phase: "start" | "signal" | "exit";
    readonly detail?: string;
}

/**
 * A stand-in for the Automation API's PulumiCommand (the contract it honours: docs/facts.md,
 * "Pulumi CLI, Automation API and the file backend"). Its promise settles only once the CLI
 * process has exited.
 */
export class GroupPulumiCommand {
    /** Unknown (null): we do not use the features gated on it (event logs). */
    readonly version = null;

    constructor(
        /** The CLI executable: "pulumi" from PATH by default. */
        readonly command: string = "pulumi",
        private readonly schedule: StopSchedule = defaultStopSchedule,
        private readonly onProcess?: (event: CliProcessEvent) => void,
    ) {}

    /** The same command, also telling `listener` about every process it starts. */
    withListener(listener: (event: CliProcessEvent) => void): GroupPulumiCommand {
        const outer = this.onProcess;
        return new GroupPulumiCommand(this.command, this.schedule, (event) => {
            outer?.(event);
            listener(event);
        });
    }

    /** The longest an aborted command can take to end, by this command's schedule. */
    get stopBoundMs(): number {
        return stopBoundMs(this.schedule);
    }

    async run(args: string[], cwd: string, additionalEnv: Record<string, string>, onOutput?: (data: string) => void, onError?: (data: string) => void, signal?: AbortSignal): Promise<CommandResult> {
        // As cmd.js does: "all commands should be run in non-interactive mode" (no prompt can hang us).
        const argv = args.includes("--non-interactive") ? [...args] : [...args, "--non-interactive"];
        const env = { ...process.env, ...additionalEnv, PULUMI_AUTOMATION_API: "true" };
        const proc = spawnGroup(this.command, argv, { cwd, env, onStdout: onOutput, onStderr: onError });
        this.onProcess?.({ pid: proc.pid, args: argv, phase: "start" });
        let sent: readonly NodeJS.Signals[] = [];
        let stopping: Promise<unknown> | undefined;
        const onAbort = () => {
            // Exactly one SIGINT, then our own schedule; a second abort changes nothing.
            stopping ??= escalate(groupTarget(proc), stopSteps(this.schedule), (step) => this.onProcess?.({ pid: proc.pid, args: argv, phase: "signal", detail: step.signal })).then(
                (r) => (sent = r.sent),
            );
        };
        if (signal?.aborted) onAbort();
        else signal?.addEventListener("abort", onAbort, { once: true });
        try {
            const result = await proc.result;
            this.onProcess?.({ pid: proc.pid, args: argv, phase: "exit", detail: describeExit(result) });
            // The escalation's own record of what it sent is complete once the process has exited.
            if (stopping) await stopping;
            if (sent.length > 1) {
                throw new OperationKilledError(
                    `pulumi ${argv[0]} (pid ${proc.pid}) did not stop on SIGINT within ${this.schedule.afterInterruptMs / 1000} s and was stopped with ${sent.join(" → ")} (${describeExit(result)})`,
                    sent,
                );
            }
            if (result.code === 0) return result;
            if (sent.length === 1) throw new OperationCancelledError(`pulumi ${argv[0]} stopped after SIGINT (${describeExit(result)})`);
            const error = /no stack named.*found/.test(result.stderr)
                ? new StackNotFoundError(argv, result)
                : /PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions/.test(result.stderr)
                  ? new NotLoggedInError(argv, result)
                  : new PulumiCommandError(argv, result);
            throw error;
        } finally {
            signal?.removeEventListener("abort", onAbort);
        }
    }
}

/**
 * The workspace options for this project's folder and backend (undefined: the CLI's current
 * login, PULUMI_BACKEND_URL not passed), with our process-group command.
 */
export function workspaceOptions(projectDir: string, backendUrl: string | undefined, command: GroupPulumiCommand = new GroupPulumiCommand()): LocalWorkspaceOptions {
    return {
        workDir: projectDir,
        envVars: backendUrl === undefined ? {} : { PULUMI_BACKEND_URL: backendUrl },
        // The API's type is a class with a private constructor; our object honours the part of it
        // the API uses: run and version (docs/facts.md, "Pulumi CLI, Automation API and the file
        // backend").
        pulumiCommand: command as unknown as PulumiCommand,
    };
}
