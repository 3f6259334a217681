/**
 * From stack names and targets files to `Target`s. The Pulumi Automation API (which needs the
 * Pulumi CLI) is isolated in `readStackOutputs`; the mapping is the pure `targetFromStackOutputs`.
 * Both check their input against the schemas in targets.ts and name the wrong field.
 */
import * as path from "node:path";
import { parseWithSchema, readJsonFile } from "../core/schema";
import {
    benchStackPlaces,
    GroupPulumiCommand,
    NotLoggedInError,
    PulumiCliMissingError,
    pulumiInstallHint,
    pulumiTool,
    requirePulumiCli,
    StackNotFoundError,
    workspaceOptions,
    type StackPlace,
} from "../core/pulumi";
import type { Tool } from "../core/tools";
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

/** What `readStackOutputs` starts on this machine: the Pulumi CLI, which the Automation API runs. */
export const stackOutputsTools: readonly Tool[] = [{ ...pulumiTool(), install: `${pulumiInstallHint}; or pass --targets <file.json> instead of stack names` }];

/**
 * Reads a stack's outputs with the Automation API from where the operator made it
 * (core/pulumi.ts benchStackPlaces: PULUMI_BACKEND_URL alone when set; else the `pulumi login`
 * backend, then compare's own folder). A stack in neither is a UsageError that keeps each place's
 * CLI line ("no stack named … found"); one in both, with different outputs, is refused: which of
 * the two to measure is the operator's choice, made with PULUMI_BACKEND_URL.
 */
export async function readStackOutputs(stackName: string, source: StackSource = {}): Promise<OutputValues> {
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    const workDir = source.workDir ?? projectDir;
    try {
        requirePulumiCli(source.command?.command, source.env ?? process.env);
    } catch (err) {
        throw new PulumiCliMissingError(`stack "${stackName}": cannot read its outputs: ${(err as Error).message}; or pass --targets <file.json> instead of stack names`, { cause: err });
    }
    const places = benchStackPlaces(source.env ?? process.env);
    const cannotRead = (place: StackPlace, err: unknown) =>
        new Error(
            `stack "${stackName}": cannot read its outputs with the Pulumi Automation API in ${place.label}: ${(err as Error).message}\nIt needs the Pulumi CLI on PATH; without it pass --targets <file.json>.`,
        );
    // Which places hold the stack: `stack select` reads no secrets, so a second backend's
    // passphrase is never needed just to look.
    const holding: StackPlace[] = [];
    const absent: { readonly place: StackPlace; readonly said: string }[] = [];
    for (const place of places) {
        try {
            await LocalWorkspace.selectStack({ stackName, workDir }, workspaceOptions(workDir, place.url, source.command));
            holding.push(place);
        } catch (err) {
            // Not logged in anywhere is "not there" only while another place is left to look in.
            if (err instanceof StackNotFoundError || (err instanceof NotLoggedInError && places.length > 1)) absent.push({ place, said: err.message });
            else throw cannotRead(place, err);
        }
    }
    if (holding.length === 0) {
        if (absent.length === 1) throw new UsageError(`stack "${stackName}": not found in ${absent[0].place.label}: ${absent[0].said}`);
        const where = absent.map((a) => `${a.place.label}: ${a.said}`).join("\n  ");
        throw new UsageError(
            `stack "${stackName}": not found in any place bench looks:\n  ${where}\nIf the stack is in another backend, set PULUMI_BACKEND_URL to it (\`pulumi whoami --verbose\` shows the backend you made it in).`,
        );
    }
    const read = async (place: StackPlace): Promise<OutputValues> => {
        try {
            const stack = await LocalWorkspace.selectStack({ stackName, workDir }, workspaceOptions(workDir, place.url, source.command));
            const outputs = await stack.outputs();
            return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
        } catch (err) {
            throw cannotRead(place, err);
        }
    };
    // One after the other: each `stack select` records the selection in the CLI's workspace file.
    const outputs: OutputValues[] = [];
    for (const place of holding) outputs.push(await read(place));
    // The same state seen twice (a login that IS compare's folder) is one stack, not two.
    if (outputs.length > 1 && outputs.some((o) => JSON.stringify(o) !== JSON.stringify(outputs[0]))) {
        throw new UsageError(`stack "${stackName}" exists in ${holding.map((p) => p.label).join(" and in ")}, with different outputs: set PULUMI_BACKEND_URL to the backend of the one to measure`);
    }
    return outputs[0];
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
