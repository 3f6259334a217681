/**
 * The lab's ledger: before the lab creates a namespace or starts a process it writes the name or
 * pid here, so that whatever a crashed or killed run left behind can be found and removed later
 * (`npm run lab -- --cleanup`), and nothing else is ever touched.
 *
 * One JSON file per run under /run/cni-lab (tmpfs: it disappears at reboot, like the namespaces
 * and processes it lists), kept in the project's one durable ledger file (core/ledger.ts:
 * synchronous, atomic and fsync'd), so a signal handler always sees a complete file.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { z } from "zod";
import { LedgerFile } from "../core/ledger";
import { describeExit, escalate, identityTarget, isSameProcess, processStartTime, runProcess, terminateSteps, type ProcessIdentity } from "../core/process";
import { labPrefix } from "./topology";

export { isSameProcess, processStartTime };

/** Where ledgers and run directories live. */
export const defaultLedgerDir = "/run/cni-lab";

const ledgerProcess = z.object({
    pid: z.number().int().positive(),
    /** Field 22 of /proc/<pid>/stat (clock ticks after boot). */
    startTime: z.string(),
    what: z.string(),
});
/** A process the lab started, identified by pid AND start time, so a recycled pid is never killed. */
export type LedgerProcess = z.infer<typeof ledgerProcess>;

const ledgerEntry = z.object({
    runId: z.string().min(1),
    /** The lab process that owns the run; a live owner's run is never cleaned by another process. */
    owner: z.object({ pid: z.number().int(), startTime: z.string() }),
    startedAt: z.string(),
    /** Bird sockets, Redis dirs, logs: removed with the run. */
    runDir: z.string(),
    namespaces: z.array(z.string()),
    processes: z.array(ledgerProcess),
});
export type LedgerEntry = z.infer<typeof ledgerEntry>;

function ledgerFile(dir: string, runId: string): LedgerFile<typeof ledgerEntry> {
    return new LedgerFile(ledgerPath(dir, runId), ledgerEntry, "It lists the namespaces and processes of a lab run; remove those by hand (ip netns list) before deleting it.");
}

export class Ledger {
    private entry: LedgerEntry;

    private constructor(
        readonly dir: string,
        entry: LedgerEntry,
    ) {
        this.entry = entry;
    }

    /** Starts a new run's ledger (and its run directory). */
    static create(runId: string, dir: string = defaultLedgerDir): Ledger {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const runDir = `${dir}/${labPrefix}-${runId}`;
        const entry: LedgerEntry = {
            runId,
            owner: { pid: process.pid, startTime: processStartTime(process.pid) ?? "" },
            startedAt: new Date().toISOString(),
            runDir,
            namespaces: [],
            processes: [],
        };
        const ledger = new Ledger(dir, entry);
        // The ledger first: a kill between the two leaves nothing that no ledger names.
        ledger.save();
        mkdirSync(runDir, { recursive: true, mode: 0o755 });
        return ledger;
    }

    get runId(): string {
        return this.entry.runId;
    }
    get runDir(): string {
        return this.entry.runDir;
    }
    get snapshot(): LedgerEntry {
        return this.entry;
    }

    /** Record namespaces BEFORE creating them. */
    addNamespaces(names: readonly string[]): void {
        for (const name of names) assertOwnName(this.entry.runId, name);
        this.entry = { ...this.entry, namespaces: [...new Set([...this.entry.namespaces, ...names])] };
        this.save();
    }

    addProcess(p: LedgerProcess): void {
        this.entry = { ...this.entry, processes: [...this.entry.processes, p] };
        this.save();
    }

    removeNamespaces(names: readonly string[]): void {
        const gone = new Set(names);
        this.entry = { ...this.entry, namespaces: this.entry.namespaces.filter((n) => !gone.has(n)) };
        this.save();
    }

    removeProcesses(pids: readonly number[]): void {
        const gone = new Set(pids);
        this.entry = { ...this.entry, processes: this.entry.processes.filter((p) => !gone.has(p.pid)) };
        this.save();
    }

    private save(): void {
        ledgerFile(this.dir, this.entry.runId).write(this.entry);
    }
}

export function ledgerPath(dir: string, runId: string): string {
    return `${dir}/${labPrefix}-${runId}.json`;
}

/** Every name the lab creates for a run starts with `cnilab-<run>-`; anything else is refused. */
function assertOwnName(runId: string, name: string): void {
    if (!name.startsWith(`${labPrefix}-${runId}-`) || !/^[A-Za-z0-9._-]+$/.test(name)) {
        throw new Error(`ledger: namespace ${JSON.stringify(name)} is not one of run ${runId}'s (${labPrefix}-${runId}-…)`);
    }
}

/** A ledger file that cannot be read (truncated, not JSON, not a ledger): reported, never deleted. */
export interface CorruptLedger {
    readonly file: string;
    /** What the read said (names the file, the problem, and what to do). */
    readonly error: Error;
}

/** Every ledger in `dir`, with the ones that cannot be read kept apart (one bad file hides no run). */
export function scanLedgers(dir: string = defaultLedgerDir): { readonly entries: LedgerEntry[]; readonly corrupt: CorruptLedger[] } {
    const entries: LedgerEntry[] = [];
    const corrupt: CorruptLedger[] = [];
    if (!existsSync(dir)) return { entries, corrupt };
    for (const f of readdirSync(dir).filter((f) => f.startsWith(`${labPrefix}-`) && f.endsWith(".json"))) {
        const file = ledgerFile(dir, f.slice(labPrefix.length + 1, -".json".length));
        try {
            const entry = file.read();
            if (entry) entries.push(entry);
        } catch (error) {
            corrupt.push({ file: file.file, error: error as Error });
        }
    }
    return { entries, corrupt };
}

/** Every ledger in `dir`; throws on one that cannot be read. */
export function readLedgers(dir: string = defaultLedgerDir): LedgerEntry[] {
    const { entries, corrupt } = scanLedgers(dir);
    if (corrupt.length > 0) throw corrupt[0].error;
    return entries;
}

/**
 * Half-written ledger copies (`<ledger>.<pid>.tmp`, core/ledger.ts writeFileDurably) whose writer
 * is gone: a SIGKILL between the write and the rename leaves one. Removed; returns their paths.
 */
export function removeStaleLedgerCopies(dir: string = defaultLedgerDir): string[] {
    if (!existsSync(dir)) return [];
    const stale = readdirSync(dir).filter((f) => {
        const m = new RegExp(`^${labPrefix}-[A-Za-z0-9]+\\.json\\.(\\d+)\\.tmp$`).exec(f);
        return m !== null && processStartTime(Number(m[1])) === undefined;
    });
    for (const f of stale) rmSync(`${dir}/${f}`, { force: true });
    return stale.map((f) => `${dir}/${f}`);
}

/** SIGTERM, then SIGKILL after `graceMs`; only while the pid still is the same process. */
async function stopProcess(p: ProcessIdentity, graceMs: number): Promise<void> {
    await escalate(identityTarget(p), terminateSteps(graceMs));
}

/** Pids of processes inside a namespace (`ip netns pids`); empty when the namespace is gone. */
async function namespacePids(name: string): Promise<number[]> {
    const r = await runProcess(["ip", "netns", "pids", name], { timeoutMs: 5000 });
    return r.code === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number) : [];
}

export function namespaceExists(name: string): boolean {
    return existsSync(`/run/netns/${name}`);
}

export interface CleanupReport {
    readonly processesStopped: number;
    readonly namespacesDeleted: string[];
    readonly problems: string[];
}

/**
 * Stops the listed processes (by pid + start time), then every process still inside the listed
 * namespaces (they are the lab's own), then deletes the namespaces, which takes their links,
 * routes and iptables rules with them. Namespaces not named `cnilab-<run>-…` are never touched.
 */
export async function removeResources(runId: string, namespaces: readonly string[], processes: readonly LedgerProcess[], graceMs = 1500): Promise<CleanupReport> {
    const problems: string[] = [];
    const own = namespaces.filter((n) => n.startsWith(`${labPrefix}-${runId}-`));
    // Everything to stop: the listed daemons and whatever else still runs inside the namespaces
    // (PHP's workers, a runner's tool); stopped together, so the grace periods overlap.
    const inside = (await Promise.all(own.map(namespacePids))).flat();
    const targets = new Map<number, ProcessIdentity>();
    for (const p of processes.filter(isSameProcess)) targets.set(p.pid, p);
    for (const pid of inside) {
        const startTime = processStartTime(pid);
        if (startTime !== undefined && pid !== process.pid) targets.set(pid, { pid, startTime });
    }
    await Promise.all([...targets.values()].map((p) => stopProcess(p, graceMs)));
    const deleted: string[] = [];
    for (const ns of [...own].reverse()) {
        if (!namespaceExists(ns)) continue;
        const r = await runProcess(["ip", "netns", "delete", ns], { timeoutMs: 10_000 });
        if (r.code === 0) deleted.push(ns);
        else problems.push(`ip netns delete ${ns}: ${r.stderr.trim() || (r.timedOut ? "no answer within 10 s" : describeExit(r))}`);
    }
    return { processesStopped: targets.size, namespacesDeleted: deleted, problems };
}

/** Removes everything a ledger lists, its run directory, and (when all went well) the ledger. */
export async function cleanupEntry(dir: string, entry: LedgerEntry, graceMs = 1500): Promise<CleanupReport> {
    const report = await removeResources(entry.runId, entry.namespaces, entry.processes, graceMs);
    if (entry.runDir.startsWith(`${dir}/${labPrefix}-`)) rmSync(entry.runDir, { recursive: true, force: true });
    // The frontends' document root (lab/guestbook.ts servedDocroot), named after the run.
    rmSync(`/run/${labPrefix}-${entry.runId}-www`, { recursive: true, force: true });
    if (report.problems.length === 0) rmSync(ledgerPath(dir, entry.runId), { force: true });
    return report;
}

/** Ledgers whose owner is gone (a crashed or killed run). */
export function orphanedLedgers(dir: string = defaultLedgerDir): LedgerEntry[] {
    return readLedgers(dir).filter(isOrphan);
}

export function isOrphan(entry: LedgerEntry): boolean {
    return !isSameProcess(entry.owner);
}
