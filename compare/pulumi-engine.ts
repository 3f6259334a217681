/**
 * The real engine: Pulumi's Automation API over this project's directory (a local program, the
 * same Pulumi.yaml and stacks/ the CLI uses), with the CLI started in its own process group by
 * core/pulumi.ts GroupPulumiCommand. Needs the `pulumi` CLI on PATH (and cloud credentials for
 * `up`); compare/engine.contract.test.ts runs it against the Automation API's local backend
 * where a CLI exists, and compare/fake-pulumi.test.ts drives it against a fake CLI on PATH.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, type LocalWorkspaceOptions, type Stack } from "@pulumi/pulumi/automation";
import type { OutputValues } from "../bench/stack-outputs";
import { readProject } from "../components/project";
import { writeFileDurably } from "../core/ledger";
import { GroupPulumiCommand, PulumiCliMissingError, PulumiCommandError, pulumiInstallHint, workspaceOptions, type CliProcessEvent } from "../core/pulumi";
import type { ComparisonStack, OperationOptions, StackEngine } from "./engine";

export class PulumiEngine implements StackEngine {
    readonly description: string;
    private readonly options: LocalWorkspaceOptions;
    /** The config namespace (Pulumi.yaml `name`). */
    private readonly projectName: string;
    private readonly stackConfigDir: string;
    private readonly snapshotDir: string;

    /**
     * @param projectDir this project's root (Pulumi.yaml)
     * @param backendUrl PULUMI_BACKEND_URL for every command
     * @param stateDir the ledger folder: the stack files' original text is kept there while a stack exists
     */
    constructor(projectDir: string, backendUrl: string, stateDir: string, command: GroupPulumiCommand = new GroupPulumiCommand()) {
        if (backendUrl.startsWith("file://")) {
            fs.mkdirSync(backendUrl.slice("file://".length).replace(/^~(?=\/|$)/, os.homedir()), { recursive: true });
        }
        this.options = workspaceOptions(
            projectDir,
            backendUrl,
            command.withListener((event) => this.heard(event)),
        );
        const project = readProject(projectDir);
        this.projectName = project.name;
        this.stackConfigDir = project.stackConfigDir;
        this.snapshotDir = path.join(stateDir, "stack-files");
        this.description = backendUrl;
    }

    /** Who wants to hear the pid of the CLI started for a stack (set for the length of an operation). */
    private readonly processListeners = new Map<string, (pid: number) => void>();

    private heard(event: CliProcessEvent): void {
        // Only the long operations: the ledger records the process that may hold the stack's lock.
        if (event.phase !== "start" || event.pid === undefined || !["up", "destroy"].includes(event.args[0])) return;
        const at = event.args.indexOf("--stack");
        // File backends name stacks "organization/<project>/<name>" or "<name>": match the last part.
        const stack = at >= 0 ? event.args[at + 1]?.split("/").pop() : undefined;
        if (stack !== undefined) this.processListeners.get(stack)?.(event.pid);
    }

    /** @internal for PulumiStack: routes the CLI's pid to `listener` while `run` runs. */
    async listening<T>(stack: string, listener: ((pid: number) => void) | undefined, run: () => Promise<T>): Promise<T> {
        if (!listener) return run();
        this.processListeners.set(stack, listener);
        try {
            return await run();
        } finally {
            this.processListeners.delete(stack);
        }
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
        return new PulumiStack(stack, this, this.projectName, () => this.restoreStackFile(name));
    }

    async select(name: string): Promise<ComparisonStack> {
        const stack = await withCli(() => LocalWorkspace.selectStack({ stackName: name, workDir: this.options.workDir! }, this.options));
        return new PulumiStack(stack, this, this.projectName, () => this.restoreStackFile(name));
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
        private readonly engine: PulumiEngine,
        private readonly projectName: string,
        private readonly restoreStackFile: () => void,
    ) {
        this.name = stack.name;
    }

    async setConfig(values: Readonly<Record<string, string>>): Promise<void> {
        const config = Object.fromEntries(Object.entries(values).map(([key, value]) => [`${this.projectName}:${key}`, { value, secret: false }]));
        await this.stack.setAllConfig(config);
    }

    async up(options: OperationOptions): Promise<void> {
        await this.engine.listening(this.name, options.onProcess, () => this.stack.up({ signal: options.signal, onOutput: options.onOutput }));
    }

    async outputs(): Promise<OutputValues> {
        const map = await this.stack.outputs();
        return Object.fromEntries(Object.entries(map).map(([key, output]) => [key, output.value]));
    }

    async clearStaleLock(): Promise<void> {
        await this.stack.cancel();
    }

    async destroy(options: OperationOptions): Promise<void> {
        await this.engine.listening(this.name, options.onProcess, () => this.stack.destroy({ signal: options.signal, onOutput: options.onOutput }));
    }

    async remove(): Promise<void> {
        // Without --force, `stack rm` refuses a stack that still has resources: a last safety net.
        await this.stack.workspace.removeStack(this.name, { preserveConfig: true });
        this.restoreStackFile();
    }
}

/** Turns a missing CLI ("spawn pulumi ENOENT", exit 127 from core/process.ts) into an instruction. */
async function withCli<T>(run: () => Promise<T>): Promise<T> {
    try {
        return await run();
    } catch (error) {
        if (error instanceof PulumiCommandError && error.result.code === 127) {
            throw new PulumiCliMissingError(`the Pulumi CLI could not be started (${error.message}): ${pulumiInstallHint}`);
        }
        throw error;
    }
}

export { PulumiCliMissingError };
