/**
 * The ledger: every stack this command created, written to disk (and fsync'd, core/ledger.ts)
 * BEFORE the stack exists, removed only after the stack is destroyed. After a crash or
 * `kill -9`, the ledger is exactly the list of stacks that may still cost money, and `--cleanup`
 * destroys those and nothing else. Stacks that existed before a run are never entered.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { LedgerFile } from "../core/ledger";
import { isAlive } from "../core/process";

/** Where a recorded stack was when the ledger was last written. */
const ledgerPhase = z.enum([
    /** About to be created: it may or may not exist (the process died around `create`). */
    "creating",
    /** Created by this command; resources may exist. */
    "created",
]);
export type LedgerPhase = z.infer<typeof ledgerPhase>;

const ledgerEntry = z.object({
    stack: z.string().min(1),
    phase: ledgerPhase,
    /** The run that created it (a timestamp id), for messages. */
    runId: z.string(),
    pid: z.number().int(),
    recordedAt: z.string(),
    /** Why the run left it behind (e.g. "the update had to be killed"), said again by --cleanup. */
    note: z.string().optional(),
    /** The Pulumi CLI process last started on it: --cleanup leaves the stack alone while it lives. */
    cliPid: z.number().int().positive().optional(),
});
export type LedgerEntry = z.infer<typeof ledgerEntry>;

const ledgerDocument = z.object({ version: z.literal(1), stacks: z.array(ledgerEntry) });

/**
 * The on-disk ledger. All methods are synchronous on purpose: each change is on disk before the
 * caller's next step (e.g. `create`) starts, and changes from concurrent stacks cannot interleave.
 */
export class Ledger {
    readonly file: string;
    private readonly document: LedgerFile<typeof ledgerDocument>;

    constructor(readonly dir: string) {
        this.file = path.join(dir, "ledger.json");
        this.document = new LedgerFile(this.file, ledgerDocument, "Inspect it by hand before deleting it: it lists stacks that may still cost money.");
    }

    entries(): LedgerEntry[] {
        return [...(this.document.read()?.stacks ?? [])];
    }

    /** Records (or updates) a stack. Returns once the change is on disk. */
    record(entry: LedgerEntry): void {
        const others = this.entries().filter((e) => e.stack !== entry.stack);
        this.document.write({ version: 1, stacks: [...others, entry] });
    }

    /** Adds a note to a recorded stack (why it is a leftover). */
    annotate(stack: string, note: string): void {
        const entry = this.entries().find((e) => e.stack === stack);
        if (entry) this.record({ ...entry, note });
    }

    /** Records the Pulumi CLI process working on a stack now. */
    recordCliPid(stack: string, cliPid: number): void {
        const entry = this.entries().find((e) => e.stack === stack);
        if (entry) this.record({ ...entry, cliPid });
    }

    /** Removes a stack (it was destroyed, or it never came to exist). */
    forget(stack: string): void {
        const entries = this.entries();
        if (!entries.some((e) => e.stack === stack)) return;
        this.document.write({ version: 1, stacks: entries.filter((e) => e.stack !== stack) });
    }
}

/**
 * One comparison (or cleanup) at a time per ledger folder: two runs would fight over the same
 * stack names, and a cleanup must not destroy stacks a live run is still using.
 */
export class RunLock {
    private held = false;
    readonly file: string;

    constructor(dir: string) {
        this.file = path.join(dir, "run.lock");
    }

    acquire(): void {
        fs.mkdirSync(path.dirname(this.file), { recursive: true });
        for (let attempt = 0; attempt < 2; attempt++) {
            try {
                const fd = fs.openSync(this.file, "wx", 0o600);
                fs.writeSync(fd, String(process.pid));
                fs.closeSync(fd);
                this.held = true;
                return;
            } catch (error) {
                if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
                const owner = Number(fs.readFileSync(this.file, "utf8").trim());
                if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
                    throw new Error(`another compare run (pid ${owner}) holds ${this.file}; wait for it to finish (or stop it with Ctrl-C so it tears down)`);
                }
                // The owner died without releasing (crash, kill -9): the lock is stale.
                fs.rmSync(this.file, { force: true });
            }
        }
        throw new Error(`could not take ${this.file}`);
    }

    release(): void {
        if (!this.held) return;
        fs.rmSync(this.file, { force: true });
        this.held = false;
    }
}
