/** Writing a comparison's bill (progress.ts billRecord) next to every results folder it made. */
import * as fs from "node:fs";
import * as path from "node:path";
import { billFileName, type BillFile } from "../bench/results/bill";
import type { BenchmarkRecord } from "./orchestrator";

/**
 * Writes `bill.json` into each benchmark's results folder, then re-renders its report so the
 * report carries the estimated and the measured bill next to the figures. A report that fails to
 * re-render is said, not fatal: bill.json and the figures are written.
 */
export async function writeBill(bill: BillFile, benchmarks: readonly BenchmarkRecord[], renderReport: (folder: string) => Promise<void>): Promise<void> {
    for (const b of benchmarks) {
        if (!b.summary) continue;
        fs.writeFileSync(path.join(b.summary.outDir, billFileName), JSON.stringify(bill, null, 2) + "\n");
        await renderReport(b.summary.outDir).catch((error) => console.log(`  note: report not re-rendered with the bill: ${(error as Error).message}`));
    }
}
