/**
 * TEST-ONLY stand-in for Pulumi (a StackEngine) and the benchmark runner. It creates nothing
 * anywhere and sends no traffic: stacks are JSON records, "resources" are a counter, outputs use
 * the documentation range 192.0.2.0/24 (RFC 5737) that nothing ever contacts. Only tests and the
 * test-only entry test/compare/compare-entry.ts import it.
 *
 * It models the file backend and the engine contract (compare/engine.ts) where the orchestrator's
 * safety depends on them:
 * - an update or destroy holds the stack's lock; destroy refuses a locked stack; a process that
 *   dies mid-operation leaves its lock behind;
 * - `clearStaleLock` (Automation API `stack.cancel()`) ONLY deletes the lock: it does not stop a
 *   running update. That is the diy backend's CancelCurrentUpdate (pulumi/pulumi
 *   pkg/backend/diy/backend.go: "Try to delete ALL the lock files", nothing else). A destroy that
 *   starts while this engine's update of the same stack still runs is logged as
 *   "destroy-during-update": both would write the same checkpoint (orphans, corrupted state);
 * - abort is the one SIGINT: an update stops at its next resource and rejects with
 *   OperationCancelledError; one in `ignoreAbort` ignores it until the engine's escalation kills
 *   it `killAfterMs` later (lock left behind, OperationKilledError); one in `freezeUp` never ends.
 *
 * With a state folder, every change is written to files so a test can watch a real
 * `npm run compare` child process (test/compare/compare-entry.ts) and inspect what it left behind:
 *   <dir>/behavior.json  StandInBehavior, written by the test (optional)
 *   <dir>/stacks/<name>.json  one StandInStackRecord per existing stack
 *   <dir>/events.jsonl   one StandInEvent per line, in order
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { OutputValues } from "../../bench/stack-outputs";
import type { StackOutputs } from "../../bench/targets";
import type { ComparisonStack, OperationOptions, StackEngine } from "../../compare/engine";
import type { BenchmarkRunner, CompareOptions } from "../../compare/orchestrator";
import { OperationCancelledError, OperationKilledError, StackNotFoundError } from "../../core/pulumi";
import { sleep } from "../../core/wait";

export interface StandInBehavior {
    /** Milliseconds an update takes. */
    readonly upMs: number;
    readonly destroyMs: number;
    /** Milliseconds the benchmark takes. */
    readonly benchMs: number;
    /** Resources each stack gets (created one by one during `up`). */
    readonly resources: number;
    /** Stacks whose update fails halfway. */
    readonly failUp: readonly string[];
    /** Stacks whose destroy fails. */
    readonly failDestroy: readonly string[];
    /** Stacks whose update ignores SIGINT; the engine's escalation kills it `killAfterMs` after the abort. */
    readonly ignoreAbort: readonly string[];
    /** The stand-in's stop schedule: SIGINT → kill, for updates in `ignoreAbort`. */
    readonly killAfterMs: number;
    /** The benchmark rejects. */
    readonly failBench: boolean;
    /**
     * Stacks whose update takes the lock, creates half its resources and then never returns nor
     * reacts to anything: what a process killed mid-update leaves behind, seen from the backend.
     */
    readonly freezeUp: readonly string[];
}

export const defaultStandInBehavior: StandInBehavior = {
    upMs: 200,
    destroyMs: 100,
    benchMs: 100,
    resources: 10,
    failUp: [],
    failDestroy: [],
    ignoreAbort: [],
    killAfterMs: 300,
    failBench: false,
    freezeUp: [],
};

export interface StandInStackRecord {
    readonly name: string;
    readonly resources: number;
    readonly config: Readonly<Record<string, string>>;
    /** Held while an update or destroy runs; left behind when the process dies. */
    readonly lock?: { readonly pid: number; readonly op: "up" | "destroy" };
    /** Who made it: "compare" (this command) or anything else (the test, as a pre-existing stack). */
    readonly createdBy: string;
    readonly deployed: boolean;
}

export type StandInOp =
    | "create"
    | "select"
    | "config"
    | "up-start"
    | "up-done"
    | "up-failed"
    | "up-canceled"
    | "up-killed"
    | "cancel"
    | "destroy-during-update"
    | "destroy-start"
    | "destroy-done"
    | "destroy-failed"
    | "remove"
    | "bench-start"
    | "bench-done"
    | "bench-failed";

export interface StandInEvent {
    readonly at: number;
    readonly pid: number;
    readonly stack: string;
    readonly op: StandInOp;
    readonly detail?: string;
}

/** Where the fake keeps its state: memory, or files (shared with other processes). */
interface FakeStore {
    get(name: string): StandInStackRecord | undefined;
    put(record: StandInStackRecord): void;
    delete(name: string): void;
    log(event: StandInEvent): void;
}

class MemoryStore implements FakeStore {
    readonly stacks = new Map<string, StandInStackRecord>();
    readonly events: StandInEvent[] = [];
    get(name: string) {
        return this.stacks.get(name);
    }
    put(record: StandInStackRecord) {
        this.stacks.set(record.name, record);
    }
    delete(name: string) {
        this.stacks.delete(name);
    }
    log(event: StandInEvent) {
        this.events.push(event);
    }
}

class FileStore implements FakeStore {
    constructor(private readonly dir: string) {
        fs.mkdirSync(path.join(dir, "stacks"), { recursive: true });
    }
    private file(name: string) {
        return path.join(this.dir, "stacks", `${name}.json`);
    }
    get(name: string) {
        try {
            return JSON.parse(fs.readFileSync(this.file(name), "utf8")) as StandInStackRecord;
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
            throw error;
        }
    }
    put(record: StandInStackRecord) {
        // Whole or not at all, as the file backend writes its checkpoints (a temp file, then a
        // rename): the tests poll these records while the engine writes them.
        const file = this.file(record.name);
        fs.writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(record, null, 2));
        fs.renameSync(`${file}.${process.pid}.tmp`, file);
    }
    delete(name: string) {
        fs.rmSync(this.file(name), { force: true });
    }
    log(event: StandInEvent) {
        fs.appendFileSync(path.join(this.dir, "events.jsonl"), JSON.stringify(event) + "\n");
    }
}

/** Reads a fake state folder's records and events (for tests). */
export function readStandInState(dir: string): { readonly stacks: StandInStackRecord[]; readonly events: StandInEvent[] } {
    const stacksDir = path.join(dir, "stacks");
    const stacks = fs.existsSync(stacksDir)
        ? fs
              .readdirSync(stacksDir)
              .filter((f) => f.endsWith(".json"))
              .map((f) => JSON.parse(fs.readFileSync(path.join(stacksDir, f), "utf8")) as StandInStackRecord)
        : [];
    const eventsFile = path.join(dir, "events.jsonl");
    const events = fs.existsSync(eventsFile)
        ? fs
              .readFileSync(eventsFile, "utf8")
              .split("\n")
              .slice(0, -1)
              .filter((l) => l.trim() !== "")
              .map((l) => JSON.parse(l) as StandInEvent)
        : [];
    return { stacks, events };
}

/** Puts a stack into a fake state folder as if someone had created it by hand (pre-existing). */
export function seedExistingStack(dir: string, name: string, resources: number): void {
    new FileStore(dir).put({ name, resources, config: {}, createdBy: "operator", deployed: resources > 0 });
}

/** Stack outputs shaped like index.ts's, with addresses from 192.0.2.0/24 that nothing contacts. */
export function fakeOutputs(name: string, index: number): StackOutputs {
    const host = (n: number) => `192.0.2.${(index * 10 + n) % 250}`;
    return {
        mode: name as StackOutputs["mode"],
        endpoint: `http://fake-${name}.invalid`,
        nodePort: 30099,
        frontends: { port: 30099, attachment: "pod-network", replicas: 10, mtu: 8951 },
        nodes: [
            {
                name: `${name}-server`,
                role: "server",
                instanceId: `i-fake${index}1`,
                privateIp: `10.0.0.${10 + index}`,
                publicIp: host(1),
                instanceType: "c6i.4xlarge",
                availabilityZone: "eu-west-1a",
            },
            { name: `${name}-agent`, role: "agent", instanceId: `i-fake${index}2`, privateIp: `10.0.0.${20 + index}`, publicIp: host(2), instanceType: "c6i.4xlarge", availabilityZone: "eu-west-1a" },
        ],
        podCidr: "10.42.0.0/16",
        mtu: { node: 9001, pod: 8951 },
        versions: { k3s: "v1.33.4+k3s1", cni: "flannel", cniVersion: "fake", ubuntu: "24.04" },
        kubeconfig: "fake-kubeconfig",
        sshUser: "ubuntu",
        loadGenerator: { publicIp: host(3), privateIp: `10.0.0.${30 + index}` },
    };
}

export class StandInEngine implements StackEngine {
    readonly description: string;
    readonly behavior: StandInBehavior;
    private readonly store: FakeStore;
    private readonly memory?: MemoryStore;
    private readonly stateDir?: string;
    /** Updates running right now, and the most at any one time (this process). */
    activeUps = 0;
    maxActiveUps = 0;
    /** Operations running right now in this engine (this process), by stack. */
    private readonly running = new Map<string, "up" | "destroy">();

    /** `stateDir` undefined: in memory. Behaviour: `behavior` over `<stateDir>/behavior.json` over defaults. */
    constructor(stateDir?: string, behavior: Partial<StandInBehavior> = {}) {
        let fromFile: Partial<StandInBehavior> = {};
        if (stateDir) {
            const file = path.join(stateDir, "behavior.json");
            if (fs.existsSync(file)) fromFile = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<StandInBehavior>;
            this.store = new FileStore(stateDir);
        } else {
            this.memory = new MemoryStore();
            this.store = this.memory;
        }
        this.stateDir = stateDir;
        this.behavior = { ...defaultStandInBehavior, ...fromFile, ...behavior };
        this.description = stateDir ? `FAKE engine (test only), state in ${stateDir}` : "FAKE engine (test only), in memory";
    }

    /** Everything that happened, in order (with a state folder: in any process). */
    get events(): readonly StandInEvent[] {
        return this.memory?.events ?? readStandInState(this.stateDir!).events;
    }

    record(name: string): StandInStackRecord | undefined {
        return this.store.get(name);
    }

    /** Adds a stack that was not created by the comparison (pre-existing). */
    seed(name: string, resources: number): void {
        this.store.put({ name, resources, config: {}, createdBy: "operator", deployed: resources > 0 });
    }

    log(stack: string, op: StandInOp, detail?: string): void {
        this.store.log({ at: Date.now(), pid: process.pid, stack, op, detail });
    }

    async exists(name: string): Promise<boolean> {
        return this.store.get(name) !== undefined;
    }

    async create(name: string): Promise<ComparisonStack> {
        if (this.store.get(name)) throw new Error(`stack '${name}' already exists`);
        this.store.put({ name, resources: 0, config: {}, createdBy: "compare", deployed: false });
        this.log(name, "create");
        return new FakeStack(this, name);
    }

    async select(name: string): Promise<ComparisonStack> {
        if (!this.store.get(name)) {
            throw new StackNotFoundError(["stack", "select"], { stdout: "", stderr: `error: no stack named '${name}' found`, code: 255 });
        }
        this.log(name, "select");
        return new FakeStack(this, name);
    }

    /** @internal used by FakeStack */
    read(name: string): StandInStackRecord {
        const record = this.store.get(name);
        if (!record) throw new Error(`no stack named '${name}' found`);
        return record;
    }

    /** @internal */
    write(record: StandInStackRecord): void {
        this.store.put(record);
    }

    /** @internal */
    drop(name: string): void {
        this.store.delete(name);
    }

    /** @internal */
    started(name: string, op: "up" | "destroy"): void {
        this.running.set(name, op);
    }

    /** @internal */
    ended(name: string): void {
        this.running.delete(name);
    }

    /** @internal */
    runningOp(name: string): "up" | "destroy" | undefined {
        return this.running.get(name);
    }
}

class FakeStack implements ComparisonStack {
    constructor(
        private readonly engine: StandInEngine,
        readonly name: string,
    ) {}

    async setConfig(values: Readonly<Record<string, string>>): Promise<void> {
        const record = this.engine.read(this.name);
        this.engine.write({ ...record, config: { ...record.config, ...values } });
        this.engine.log(this.name, "config", Object.keys(values).join(","));
    }

    private lock(op: "up" | "destroy"): StandInStackRecord {
        const record = this.engine.read(this.name);
        if (record.lock) {
            throw new Error(`the stack is currently locked by 1 lock(s) (pid ${record.lock.pid}, ${record.lock.op}); run \`pulumi cancel\` if no operation is running`);
        }
        const locked = { ...record, lock: { pid: process.pid, op } };
        this.engine.write(locked);
        return locked;
    }

    private unlock(): void {
        const { lock: _lock, ...rest } = this.engine.read(this.name);
        void _lock;
        this.engine.write(rest);
    }

    async up(options: OperationOptions): Promise<void> {
        const b = this.engine.behavior;
        this.lock("up");
        this.engine.activeUps++;
        this.engine.maxActiveUps = Math.max(this.engine.maxActiveUps, this.engine.activeUps);
        this.engine.started(this.name, "up");
        this.engine.log(this.name, "up-start");
        if (b.freezeUp.includes(this.name)) {
            const record = this.engine.read(this.name);
            this.engine.write({ ...record, resources: record.resources + Math.ceil(b.resources / 2) });
            return new Promise<void>(() => {});
        }
        const ignoresSigint = b.ignoreAbort.includes(this.name);
        // The engine's escalation: a process that ignores SIGINT is killed killAfterMs later.
        let killedAt: number | undefined;
        const onAbort = () => (killedAt = Date.now() + b.killAfterMs);
        if (ignoresSigint) options.signal?.addEventListener("abort", onAbort, { once: true });
        try {
            const tick = b.upMs / b.resources;
            for (let i = 0; i < b.resources; i++) {
                await sleep(tick, ignoresSigint ? undefined : options.signal);
                if (killedAt !== undefined && Date.now() >= killedAt) {
                    // Killed: the lock stays behind, as a killed CLI leaves it.
                    this.engine.log(this.name, "up-killed", "SIGINT ignored; killed");
                    throw new OperationKilledError(`update of ${this.name} ignored SIGINT and was killed`, ["SIGINT", "SIGTERM", "SIGKILL"]);
                }
                if (!ignoresSigint && options.signal?.aborted) {
                    this.unlockIfHeld();
                    this.engine.log(this.name, "up-canceled", "signal");
                    throw new OperationCancelledError(`update of ${this.name} cancelled after SIGINT`);
                }
                // Still running: it writes the checkpoint whether or not someone deleted its lock.
                const record = this.engine.read(this.name);
                this.engine.write({ ...record, resources: record.resources + 1 });
                options.onOutput?.(`+ resource ${i + 1}/${b.resources} created`);
                if (b.failUp.includes(this.name) && i === Math.floor(b.resources / 2)) {
                    this.unlockIfHeld();
                    this.engine.log(this.name, "up-failed");
                    throw new Error(`update of ${this.name} failed: fake error creating resource ${i + 1}`);
                }
            }
            this.unlockIfHeld();
            const record = this.engine.read(this.name);
            this.engine.write({ ...record, deployed: true });
            this.engine.log(this.name, "up-done");
        } finally {
            options.signal?.removeEventListener("abort", onAbort);
            this.engine.ended(this.name);
            this.engine.activeUps--;
        }
    }

    /** An update whose lock was deleted under it (clearStaleLock) finds none to release. */
    private unlockIfHeld(): void {
        if (this.engine.read(this.name).lock) this.unlock();
    }

    async outputs(): Promise<OutputValues> {
        const record = this.engine.read(this.name);
        if (!record.deployed) throw new Error(`stack ${this.name} has no outputs (never deployed)`);
        return { ...fakeOutputs(this.name, Math.abs([...this.name].reduce((h, c) => h * 31 + c.charCodeAt(0), 7)) % 20) };
    }

    async clearStaleLock(): Promise<void> {
        const record = this.engine.read(this.name);
        this.engine.log(this.name, "cancel", record.lock ? `lock of pid ${record.lock.pid}` : "nothing running");
        if (!record.lock) throw new Error(`no update in progress for stack ${this.name}`);
        // The diy backend deletes the lock files and nothing else: a running update goes on.
        this.unlock();
    }

    async destroy(options: OperationOptions): Promise<void> {
        const b = this.engine.behavior;
        this.lock("destroy");
        if (this.engine.runningOp(this.name) === "up") {
            this.engine.log(this.name, "destroy-during-update", "an update of this stack is still running: both write the checkpoint");
        } else {
            this.engine.started(this.name, "destroy");
        }
        this.engine.log(this.name, "destroy-start");
        const start = this.engine.read(this.name).resources;
        const tick = b.destroyMs / Math.max(1, start);
        try {
            for (let i = 0; i < start; i++) {
                await sleep(tick, options.signal);
                if (options.signal?.aborted) {
                    this.unlockIfHeld();
                    this.engine.log(this.name, "destroy-failed", "signal");
                    throw new OperationCancelledError(`destroy of ${this.name} cancelled after SIGINT`);
                }
                if (b.failDestroy.includes(this.name)) {
                    this.unlockIfHeld();
                    this.engine.log(this.name, "destroy-failed");
                    throw new Error(`destroy of ${this.name} failed: fake error deleting a resource`);
                }
                const record = this.engine.read(this.name);
                this.engine.write({ ...record, resources: Math.max(0, record.resources - 1) });
                options.onOutput?.(`- resource deleted (${start - i - 1} left)`);
            }
        } finally {
            if (this.engine.runningOp(this.name) === "destroy") this.engine.ended(this.name);
        }
        this.unlockIfHeld();
        this.engine.write({ ...this.engine.read(this.name), deployed: false });
        this.engine.log(this.name, "destroy-done");
    }

    async remove(): Promise<void> {
        const record = this.engine.read(this.name);
        if (record.resources > 0) throw new Error(`stack ${this.name} still has ${record.resources} resources; destroy it first`);
        this.engine.drop(this.name);
        this.engine.log(this.name, "remove");
    }
}

/** The benchmark stand-in: waits `benchMs` (stops on abort), records what it was given. */
/**
 * Comparison options for runs against the stand-in: short timeouts, the documentation CIDR, new
 * stacks unless `overrides` says otherwise, results under `outRoot`.
 */
export function standInCompareOptions(stacks: readonly string[], parallel: number, outRoot: string, overrides: Partial<CompareOptions> = {}): CompareOptions {
    return {
        runId: "test-run",
        stacks: stacks.map((stack) => ({ stack, existing: false })),
        config: { operatorCidr: "203.0.113.7/32" },
        parallel,
        keep: false,
        upTimeoutMs: 30_000,
        measureTimeoutMs: 30_000,
        destroyTimeoutMs: 30_000,
        stopBoundMs: 2_000,
        interrupt: new AbortController().signal,
        bench: { outDir: path.join(outRoot, "out") },
        ...overrides,
    };
}

export function standInBenchmark(engine: StandInEngine): BenchmarkRunner {
    return async (targets, options) => {
        const names = targets.map((t) => t.name).join(",");
        engine.log(names, "bench-start");
        options.onProgress?.({ kind: "plan", message: `fake benchmark of ${targets.length} target(s)` });
        for (const t of targets) options.onProgress?.({ kind: "measure", target: t.name, message: `fake measurement of ${t.name}` });
        await sleep(engine.behavior.benchMs, options.signal);
        if (options.signal?.aborted) {
            engine.log(names, "bench-failed", "aborted");
            throw new Error("benchmark aborted");
        }
        if (engine.behavior.failBench) {
            engine.log(names, "bench-failed");
            throw new Error("fake benchmark failure");
        }
        fs.mkdirSync(options.outDir, { recursive: true });
        fs.writeFileSync(path.join(options.outDir, "fake-summary.json"), JSON.stringify({ fake: true, targets: targets.map((t) => t.name) }, null, 2));
        engine.log(names, "bench-done");
        return { outDir: options.outDir, gatePassed: true };
    };
}
