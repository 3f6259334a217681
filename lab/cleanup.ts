/**
 * `npm run lab -- --cleanup`: removes what crashed or killed lab runs left behind, from their
 * ledgers, and only that. A ledger that cannot be read is reported on its own and left in place
 * (it may name namespaces only a person can judge now); it stops no other run's cleanup.
 */
import { exitCodes } from "../core/cli";
import { removeCpuGroups } from "./cpuGroup";
import { cleanupEntry, isOrphan, removeStaleLedgerCopies, scanLedgers } from "./ledger";

export interface CleanupOutput {
    log(line: string): void;
    error(line: string): void;
}

/** Cleans every orphaned run in `dir`; 0 when all went well, 1 when a run or a ledger needs a person. */
export async function cleanupLeftovers(dir: string, out: CleanupOutput = console): Promise<number> {
    const { entries, corrupt } = scanLedgers(dir);
    const orphans = entries.filter(isOrphan);
    for (const file of removeStaleLedgerCopies(dir)) out.log(`lab: removed ${file} (a ledger copy whose writer was killed mid-write)`);
    if (orphans.length === 0 && corrupt.length === 0) {
        out.log(`lab: nothing to clean up (${entries.length} ledger(s) in ${dir}, all owned by running labs)`);
        return exitCodes.ok;
    }
    let failed = 0;
    for (const entry of orphans) {
        const report = await cleanupEntry(dir, entry);
        report.problems.push(...(await removeCpuGroups(entry.runId)));
        out.log(`lab: run ${entry.runId} (started ${entry.startedAt}): stopped ${report.processesStopped} process(es), ` + `deleted ${report.namespacesDeleted.length} namespace(s)`);
        for (const p of report.problems) out.error(`  problem: ${p}`);
        if (report.problems.length > 0) failed++;
    }
    for (const c of corrupt) out.error(`lab: cannot read ${c.file}; left in place, nothing it lists was removed:\n  ${c.error.message.replace(/\n/g, "\n  ")}`);
    if (failed + corrupt.length === 0) return exitCodes.ok;
    out.error(`lab: cleanup incomplete: ${failed} run(s) with problems, ${corrupt.length} unreadable ledger(s) (see above)`);
    return exitCodes.failure;
}
