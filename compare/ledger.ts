/**
 * The ledger: every stack this command created, written to disk (and fsync'd) BEFORE the stack
 * exists, removed only after the stack is destroyed. After a crash or `kill -9`, the ledger is
 * exactly the list of stacks that may still cost money, and `--cleanup` destroys those and
 * nothing else. Stacks that existed before a run are never entered.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Where a recorded stack was when the ledger was last written. */
export type LedgerPhase =
    /** About to be created: it may or may not exist (the process died around `create`). */
    | "creating"
    /** Created by this command; resources may exist. */
    | "created";

export interface LedgerEntry {
    readonly stack: string;
    readonly phase: LedgerPhase;
    /** The run that created it (a timestamp id), for messages. */
    readonly runId: string;
    readonly pid: number;
    readonly recordedAt: string;
}

interface LedgerFile {
    readonly version: 1;
    readonly stacks: readonly LedgerEntry[];
}

/** Writes `text` to `file` so that after a crash the file holds either the old or the new text. */
export function writeFileDurably(file: string, text: string): void {
    const dir = path.dirname(file);
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, "w", 0o600);
    try {
        fs.writeSync(fd, text);
        fs.fsyncSync(fd);
    } finally {
        fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    // The rename itself lives in the directory: sync it too, or a power cut can undo it.
    const dirFd = fs.openSync(dir, "r");
    try {
        fs.fsyncSync(dirFd);
    } finally {
        fs.closeSync(dirFd);
    }
}

/**
 * The on-disk ledger. All methods are synchronous on purpose: each change is on disk before the
 * caller's next step (e.g. `create`) starts, and changes from concurrent stacks cannot interleave.
 */
export class Ledger {
    readonly file: string;

    constructor(readonly dir: string) {
        this.file = path.join(dir, "ledger.json");
    }

    entries(): LedgerEntry[] {
        let text: string;
        try {
            text = fs.readFileSync(this.file, "utf8");
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
            throw error;
        }
        let parsed: LedgerFile;
        try {
            parsed = JSON.parse(text) as LedgerFile;
        } catch {
            throw new Error(`ledger ${this.file} is not valid JSON; inspect it by hand before deleting it (it lists stacks that may still cost money)`);
        }
        if (parsed.version !== 1 || !Array.isArray(parsed.stacks)) {
            throw new Error(`ledger ${this.file} has an unknown format (expected {"version":1,"stacks":[…]})`);
        }
        return [...parsed.stacks];
    }

    /** Records (or updates) a stack. Returns once the change is on disk. */
    record(entry: LedgerEntry): void {
        const others = this.entries().filter((e) => e.stack !== entry.stack);
        this.write([...others, entry]);
    }

    /** Removes a stack (it was destroyed, or it never came to exist). */
    forget(stack: string): void {
        const entries = this.entries();
        if (!entries.some((e) => e.stack === stack)) return;
        this.write(entries.filter((e) => e.stack !== stack));
    }

    private write(stacks: readonly LedgerEntry[]): void {
        const content: LedgerFile = { version: 1, stacks };
        writeFileDurably(this.file, JSON.stringify(content, null, 2) + "\n");
    }
}

/**
 * One comparison (or cleanup) at a time per project directory: two runs would fight over the same
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

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}
