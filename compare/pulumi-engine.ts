/**
 * The real engine: Pulumi's Automation API over this project's directory (a local program, the
 * same Pulumi.yaml and stacks/ the CLI uses). Needs the `pulumi` CLI on PATH and cloud
 * credentials; neither exists on the development machines, so this adapter is type-checked here
 * and exercised only against AWS. Its behaviour behind the interface is what fake-engine.ts models.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, type LocalWorkspaceOptions, type Stack } from "@pulumi/pulumi/automation";
import type { OutputValues } from "../bench/stack-outputs";
import type { ComparisonStack, OperationOptions, StackEngine } from "./engine";
import { writeFileDurably } from "./ledger";
import { readProject } from "../components/project";
import { projectName } from "./plan";

/** A local state folder unless the operator chose a backend: nothing leaves this machine but AWS calls. */
export function defaultBackendUrl(home: string = os.homedir()): string {
    return `file://${path.join(home, ".pulumi-cni-compare")}`;
}

/** The backend to use and whether it was defaulted (the CLI says so). */
export function chooseBackend(env: Readonly<Record<string, string | undefined>>): { readonly url: string; readonly defaulted: boolean } {
    const url = env.PULUMI_BACKEND_URL?.trim();
    return url ? { url, defaulted: false } : { url: defaultBackendUrl(), defaulted: true };
}

/** The passphrase protects stack secrets (kubeconfig, SSH key) in a file backend. */
export function checkPassphrase(env: Readonly<Record<string, string | undefined>>, backendUrl: string): string | undefined {
    if (!backendUrl.startsWith("file://")) return undefined;
    if (env.PULUMI_CONFIG_PASSPHRASE !== undefined || env.PULUMI_CONFIG_PASSPHRASE_FILE !== undefined) return undefined;
    return `PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) is not set: the ${backendUrl} backend encrypts the stacks' secrets (kubeconfig, SSH key) with it. Set it, e.g. export PULUMI_CONFIG_PASSPHRASE='<a passphrase you keep>'`;
}

export class PulumiEngine implements StackEngine {
    readonly description: string;
    private readonly options: LocalWorkspaceOptions;
    private readonly stackConfigDir: string;
    private readonly snapshotDir: string;

    /**
     * @param projectDir this project's root (Pulumi.yaml)
     * @param backendUrl PULUMI_BACKEND_URL for every command
     * @param stateDir the ledger folder: the stack files' original text is kept there while a stack exists
     */
    constructor(projectDir: string, backendUrl: string, stateDir: string) {
        if (backendUrl.startsWith("file://")) {
            fs.mkdirSync(backendUrl.slice("file://".length).replace(/^~(?=\/|$)/, os.homedir()), { recursive: true });
        }
        this.options = { workDir: projectDir, envVars: { PULUMI_BACKEND_URL: backendUrl } };
        this.stackConfigDir = readProject(projectDir).stackConfigDir;
        this.snapshotDir = path.join(stateDir, "stack-files");
        this.description = backendUrl;
    }

    private stackFile(name: string): string {
        return path.join(this.stackConfigDir, `Pulumi.${name}.yaml`);
    }

    private snapshotFile(name: string): string {
        return path.join(this.snapshotDir, `Pulumi.${name}.yaml`);
    }

    async exists(name: string): Promise<boolean> {
        const workspace = await withCli(() => LocalWorkspace.create(this.options));
        const stacks = await workspace.listStacks();
        // File backends list "organization/cni-compare/<name>" or "<name>": compare the last part.
        return stacks.some((s) => s.name.split("/").pop() === name);
    }

    // create/select rather than createOrSelectStack: the ledger rule needs to know which of the two
    // happened (a selected stack is never destroyed), and createOrSelectStack does not say.
    async create(name: string): Promise<ComparisonStack> {
        // `stack init` adds an encryption salt and our config to the checked-in stack file, and
        // `stack rm` deletes it: keep its text, so `remove` can put it back as it was.
        const file = this.stackFile(name);
        if (fs.existsSync(file) && !fs.existsSync(this.snapshotFile(name))) {
            writeFileDurably(this.snapshotFile(name), fs.readFileSync(file, "utf8"));
        }
        const stack = await withCli(() => LocalWorkspace.createStack({ stackName: name, workDir: this.options.workDir! }, this.options));
        return new PulumiStack(stack, () => this.restoreStackFile(name));
    }

    async select(name: string): Promise<ComparisonStack> {
        const stack = await withCli(() => LocalWorkspace.selectStack({ stackName: name, workDir: this.options.workDir! }, this.options));
        return new PulumiStack(stack, () => this.restoreStackFile(name));
    }

    private restoreStackFile(name: string): void {
        const snapshot = this.snapshotFile(name);
        if (!fs.existsSync(snapshot)) return;
        writeFileDurably(this.stackFile(name), fs.readFileSync(snapshot, "utf8"));
        fs.rmSync(snapshot);
    }
}

class PulumiStack implements ComparisonStack {
    readonly name: string;

    constructor(
        private readonly stack: Stack,
        private readonly restoreStackFile: () => void,
    ) {
        this.name = stack.name;
    }

    async setConfig(values: Readonly<Record<string, string>>): Promise<void> {
        const config = Object.fromEntries(Object.entries(values).map(([key, value]) => [`${projectName}:${key}`, { value, secret: false }]));
        await this.stack.setAllConfig(config);
    }

    async up(options: OperationOptions): Promise<void> {
        await this.stack.up({ signal: options.signal, onOutput: options.onOutput });
    }

    async outputs(): Promise<OutputValues> {
        const map = await this.stack.outputs();
        return Object.fromEntries(Object.entries(map).map(([key, output]) => [key, output.value]));
    }

    async cancel(): Promise<void> {
        await this.stack.cancel();
    }

    async destroy(options: OperationOptions): Promise<void> {
        await this.stack.destroy({ signal: options.signal, onOutput: options.onOutput });
    }

    async remove(): Promise<void> {
        // Without --force, `stack rm` refuses a stack that still has resources: a last safety net.
        await this.stack.workspace.removeStack(this.name, { preserveConfig: true });
        this.restoreStackFile();
    }
}

/** Turns "pulumi: command not found" deep inside the Automation API into an instruction. */
async function withCli<T>(run: () => Promise<T>): Promise<T> {
    try {
        return await run();
    } catch (error) {
        const text = (error as Error).message ?? String(error);
        if (/spawn pulumi ENOENT|pulumi: command not found|failed to find.*pulumi/i.test(text)) {
            throw new Error(`the Pulumi CLI is needed on PATH for the Automation API (https://www.pulumi.com/docs/iac/download-install/): ${text}`);
        }
        throw error;
    }
}
