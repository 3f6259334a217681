/**
 * The lab's ledger: before the lab creates a namespace or starts a process it writes the name or
 * pid here, so that whatever a crashed or killed run left behind can be found and removed later
 * (`npm run lab -- --cleanup`), and nothing else is ever touched.
 *
 * One JSON file per run under /run/cni-lab (tmpfs: it disappears at reboot, like the namespaces
 * and processes it lists). Writes are synchronous and atomic (write + rename), so a signal
 * handler always sees a complete file.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { labPrefix } from "./topology";

const run = promisify(execFile);

/** Where ledgers and run directories live. */
export const defaultLedgerDir = "/run/cni-lab";

/** A process the lab started, identified by pid AND start time, so a recycled pid is never killed. */
export interface LedgerProcess {
    readonly pid: number;
    /** Field 22 of /proc/<pid>/stat (clock ticks after boot). */
    readonly startTime: string;
    readonly what: string;
}

export interface LedgerEntry {
    readonly runId: string;
    /** The lab process that owns the run; a live owner's run is never cleaned by another process. */
    readonly owner: { readonly pid: number; readonly startTime: string };
    readonly startedAt: string;
    /** Bird sockets, Redis dirs, logs: removed with the run. */
    readonly runDir: string;
    readonly namespaces: readonly string[];
    readonly processes: readonly LedgerProcess[];
}

/** The start time of a live process, or undefined when there is no such process or it is a zombie
 * (exited, waiting to be reaped: nothing left to stop). */
export function processStartTime(pid: number): string | undefined {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return fields[0] === "Z" || fields[0] === "X" ? undefined : fields[19];
    } catch {
        return undefined;
    }
}

export function isSameProcess(p: { readonly pid: number; readonly startTime: string }): boolean {
    return processStartTime(p.pid) === p.startTime;
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
        mkdirSync(runDir, { recursive: true, mode: 0o755 });
        const entry: LedgerEntry = {
            runId,
            owner: { pid: process.pid, startTime: processStartTime(process.pid) ?? "" },
            startedAt: new Date().toISOString(),
            runDir,
            namespaces: [],
            processes: [],
        };
        const ledger = new Ledger(dir, entry);
        ledger.save();
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
        const path = ledgerPath(this.dir, this.entry.runId);
        writeFileSync(`${path}.tmp`, JSON.stringify(this.entry, null, 2) + "\n");
        renameSync(`${path}.tmp`, path);
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

export function readLedgers(dir: string = defaultLedgerDir): LedgerEntry[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
        .filter((f) => f.startsWith(`${labPrefix}-`) && f.endsWith(".json"))
        .flatMap((f) => {
            try {
                return [JSON.parse(readFileSync(`${dir}/${f}`, "utf8")) as LedgerEntry];
            } catch {
                return [];
            }
        });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL after `graceMs`; only while the pid still is the same process. */
async function stopProcess(p: { readonly pid: number; readonly startTime: string }, graceMs: number): Promise<void> {
    const signal = (sig: NodeJS.Signals) => {
        if (!isSameProcess(p)) return false;
        try {
            process.kill(p.pid, sig);
        } catch {
            return false;
        }
        return true;
    };
    if (!signal("SIGTERM")) return;
    for (let waited = 0; waited < graceMs; waited += 50) {
        await sleep(50);
        if (!isSameProcess(p)) return;
    }
    signal("SIGKILL");
    for (let waited = 0; waited < 2000 && isSameProcess(p); waited += 50) await sleep(50);
}

/** Pids of processes inside a namespace (`ip netns pids`); empty when the namespace is gone. */
async function namespacePids(name: string): Promise<number[]> {
    try {
        const { stdout } = await run("ip", ["netns", "pids", name], { timeout: 5000 });
        return stdout.split(/\s+/).filter(Boolean).map(Number);
    } catch {
        return [];
    }
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
export async function removeResources(
    runId: string,
    namespaces: readonly string[],
    processes: readonly LedgerProcess[],
    graceMs = 1500,
): Promise<CleanupReport> {
    const problems: string[] = [];
    const own = namespaces.filter((n) => n.startsWith(`${labPrefix}-${runId}-`));
    // Everything to stop: the listed daemons and whatever else still runs inside the namespaces
    // (PHP's workers, a runner's tool); stopped together, so the grace periods overlap.
    const inside = (await Promise.all(own.map(namespacePids))).flat();
    const targets = new Map<number, { pid: number; startTime: string }>();
    for (const p of processes.filter(isSameProcess)) targets.set(p.pid, p);
    for (const pid of inside) {
        const startTime = processStartTime(pid);
        if (startTime !== undefined && pid !== process.pid) targets.set(pid, { pid, startTime });
    }
    await Promise.all([...targets.values()].map((p) => stopProcess(p, graceMs)));
    const deleted: string[] = [];
    for (const ns of [...own].reverse()) {
        if (!namespaceExists(ns)) continue;
        const r = await run("ip", ["netns", "delete", ns], { timeout: 10_000 }).then(
            () => undefined,
            (err: { stderr?: string }) => err.stderr?.trim() || String(err),
        );
        if (r === undefined) deleted.push(ns);
        else problems.push(`ip netns delete ${ns}: ${r}`);
    }
    return { processesStopped: targets.size, namespacesDeleted: deleted, problems };
}

/** Removes everything a ledger lists, its run directory, and (when all went well) the ledger. */
export async function cleanupEntry(dir: string, entry: LedgerEntry, graceMs = 1500): Promise<CleanupReport> {
    const report = await removeResources(entry.runId, entry.namespaces, entry.processes, graceMs);
    if (entry.runDir.startsWith(`${dir}/${labPrefix}-`)) rmSync(entry.runDir, { recursive: true, force: true });
    if (report.problems.length === 0) rmSync(ledgerPath(dir, entry.runId), { force: true });
    return report;
}

/** Ledgers whose owner is gone (a crashed or killed run). */
export function orphanedLedgers(dir: string = defaultLedgerDir): LedgerEntry[] {
    return readLedgers(dir).filter((e) => !isSameProcess(e.owner));
}
