/**
 * From stack names and targets files to `Target`s. The Pulumi Automation API (which needs the
 * Pulumi CLI) is isolated in `readStackOutputs`; the mapping is the pure `targetFromStackOutputs`.
 * Both check their input against the schemas in targets.ts and name the wrong field.
 */
import * as path from "node:path";
import { parseWithSchema, readJsonFile } from "../core/schema";
import { chooseBackend, GroupPulumiCommand, PulumiCliMissingError, requirePulumiCli, StackNotFoundError, workspaceOptions } from "../core/pulumi";
import { UsageError } from "../core/errors";
import { stackOutputsSchema, targetsFileSchema, type Target } from "./targets";

/** The project folder (holds Pulumi.yaml): the Automation API's workDir. */
export const projectDir = path.resolve(__dirname, "..");

/** Output values of a stack, secrets included (plain values, the Automation API's `.value`). */
export type OutputValues = Readonly<Record<string, unknown>>;

export interface StackSource {
    readonly workDir?: string;
    /** PULUMI_BACKEND_URL and friends (default: this process's environment). */
    readonly env?: Readonly<Record<string, string | undefined>>;
    /** The CLI (default: `pulumi` from PATH, in its own process group). */
    readonly command?: GroupPulumiCommand;
}

/**
 * Reads a stack's outputs with the Automation API from the backend `compare` uses too
 * (core/pulumi.ts chooseBackend). A missing stack is a UsageError that keeps the CLI's own
 * "no stack named … found" line and names the backend it looked in.
 */
export async function readStackOutputs(stackName: string, source: StackSource = {}): Promise<OutputValues> {
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    const workDir = source.workDir ?? projectDir;
    const backend = chooseBackend(source.env ?? process.env);
    try {
        requirePulumiCli(source.command?.command, source.env ?? process.env);
    } catch (err) {
        throw new PulumiCliMissingError(`stack "${stackName}": cannot read its outputs: ${(err as Error).message}; or pass --targets <file.json> instead of stack names`, { cause: err });
    }
    try {
        const stack = await LocalWorkspace.selectStack({ stackName, workDir }, workspaceOptions(workDir, backend.url, source.command));
        const outputs = await stack.outputs();
        return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
    } catch (err) {
        const where = `in the backend ${backend.url}${backend.defaulted ? " (PULUMI_BACKEND_URL is not set: the default `npm run compare` uses)" : " (PULUMI_BACKEND_URL)"}`;
        if (err instanceof StackNotFoundError) throw new UsageError(`stack "${stackName}": not found ${where}: ${err.message}`);
        throw new Error(`stack "${stackName}": cannot read its outputs with the Pulumi Automation API ${where}: ${(err as Error).message}`);
    }
}

/** A stack's outputs (StackOutputs in targets.ts) as a Target named after the stack. */
export function targetFromStackOutputs(stackName: string, outputs: OutputValues): Target {
    const o = parseWithSchema(stackOutputsSchema, outputs, `stack "${stackName}" outputs`);
    return { ...o, name: stackName, platform: "aws-k3s" };
}

/** Reads a targets JSON file (`Target[]`), checking what every platform needs. */
export function loadTargetsFile(file: string): Target[] {
    return readJsonFile(targetsFileSchema, file, `--targets ${file}`);
}
