/**
 * The narrow view of Pulumi that the comparison needs. The orchestrator only speaks to these two
 * interfaces, so its safety rules (ledger, teardown, timeouts) are tested against an in-memory
 * stand-in (fake-engine.ts) and run unchanged against the Automation API (pulumi-engine.ts).
 */
import type { OutputValues } from "../bench/stack-outputs";

/** Options every long operation takes. */
export interface OperationOptions {
    /** Aborting asks the operation to stop (the Automation API sends the CLI a SIGINT). */
    readonly signal?: AbortSignal;
    /** Engine output lines (Pulumi's progress text), for logs. */
    readonly onOutput?: (line: string) => void;
}

/** One Pulumi stack of this project. */
export interface ComparisonStack {
    readonly name: string;
    /** Sets project config on the stack (keys without the project prefix, e.g. "operatorCidr"). */
    setConfig(values: Readonly<Record<string, string>>): Promise<void>;
    up(options: OperationOptions): Promise<void>;
    /** The stack's output values (bench/targets.ts StackOutputs), secrets included: the runner needs the kubeconfig and SSH key. */
    outputs(): Promise<OutputValues>;
    /** Stops an update that does not react to its abort signal (Automation API `stack.cancel()`). */
    cancel(): Promise<void>;
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
    /** Selects an existing stack. */
    select(stackName: string): Promise<ComparisonStack>;
}
