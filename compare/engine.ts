/**
 * The narrow view of Pulumi that the comparison needs. The orchestrator only speaks to these two
 * interfaces, so its safety rules (ledger, teardown, timeouts) are tested against a stand-in
 * (test/compare/stand-in-engine.ts) and run unchanged against the Automation API
 * (pulumi-engine.ts). compare/engine.contract.test.ts holds both to the same contract.
 */
import type { OutputValues } from "../bench/stack-outputs";

/** Options every long operation takes. */
export interface OperationOptions {
    /**
     * Aborting asks the operation to stop: the engine sends its process ONE SIGINT and escalates
     * on its own schedule (core/pulumi.ts). The promise settles only once that process has exited.
     */
    readonly signal?: AbortSignal;
    /** Engine output lines (Pulumi's progress text), for logs. */
    readonly onOutput?: (line: string) => void;
    /** Hears the pid of the CLI process the operation starts (the ledger records it). */
    readonly onProcess?: (pid: number) => void;
}

/**
 * One Pulumi stack of this project.
 *
 * `up` and `destroy` reject with core/pulumi.ts OperationCancelledError when they stopped after
 * the one SIGINT (the CLI cancelled gracefully and saved its state), and with
 * OperationKilledError when their process had to be terminated or killed (gone, but the stack
 * may hold pending operations and a stale lock). They never settle while their process runs.
 */
export interface ComparisonStack {
    readonly name: string;
    /** Sets project config on the stack (keys without the project prefix, e.g. "operatorCidr"). */
    setConfig(values: Readonly<Record<string, string>>): Promise<void>;
    up(options: OperationOptions): Promise<void>;
    /** The stack's output values (bench/targets.ts StackOutputs), secrets included: the runner needs the kubeconfig and SSH key. */
    outputs(): Promise<OutputValues>;
    /**
     * Removes the stack's update lock (Automation API `stack.cancel()`, `pulumi cancel`). On the
     * file backend this only deletes the lock files and does NOT stop a running update
     * (pulumi/pulumi pkg/backend/diy/backend.go, CancelCurrentUpdate: "Try to delete ALL the lock
     * files"). Call it only when the process that held the lock is known to be dead.
     */
    clearStaleLock(): Promise<void>;
    destroy(options: OperationOptions): Promise<void>;
    /** Deletes the (already destroyed, empty) stack so that the next run creates it anew. */
    remove(): Promise<void>;
}

export interface StackEngine {
    /** One line for the plan, e.g. the backend URL. */
    readonly description: string;
    exists(stackName: string): Promise<boolean>;
    /** Creates a new stack; fails when it already exists. */
    create(stackName: string): Promise<ComparisonStack>;
    /** Selects an existing stack; fails (core/pulumi.ts StackNotFoundError) when there is none. */
    select(stackName: string): Promise<ComparisonStack>;
}
