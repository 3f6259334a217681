/**
 * Cost measured, not guessed: the record compare writes next to the results (bench/results/bill.ts) has
 * the plan's estimate and the instance-hours and dollars from each stack's real up → destroy
 * timestamps, and the report shows both.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { billFileName, readBillFile } from "../bench/results/bill";
import { renderReport } from "../bench/results/report";
import { useTempDirs } from "../test/temp-dirs";
import { parseCompareArgs } from "./args";
import type { CompareReport } from "./orchestrator";
import { buildPlan } from "./plan";
import { billRecord } from "./progress";

const tempDir = useTempDirs("compare-bill-");
const projectDir = path.resolve(__dirname, "..");
const t0 = Date.parse("2026-11-29T12:00:00Z");
const minute = 60_000;

describe("the bill record", () => {
    const plan = buildPlan(parseCompareArgs(["--modes", "vxlan,calico", "--operator-cidr", "203.0.113.7/32"], {}), projectDir, "b", "/out", new Set(["calico"]));
    const report: CompareReport = {
        interrupted: false,
        ok: true,
        benchmarks: [],
        stacks: [
            // Created: up from +0 to +8 min, destroyed at +20 min.
            { stack: "vxlan", created: true, finalState: "destroyed", errors: [], upStartedAt: t0, upCompletedAt: t0 + 8 * minute, destroyCompletedAt: t0 + 20 * minute, leftover: false },
            // Pre-existing, measured as it is: not this run's cost.
            { stack: "calico", created: false, finalState: "kept", errors: [], leftover: false },
        ],
    };

    it("counts instance-hours and dollars per created stack from up start to destroy complete", () => {
        const cost = billRecord(report, plan, t0, t0 + 21 * minute);
        expect(cost.stacks.map((s) => s.stack)).toEqual(["vxlan"]);
        // 3 instances × 20 min = 1 instance-hour; eu-west-1 c6i.4xlarge $0.768 + NLB $0.0252 × 1/3 h (compare/prices.ts).
        expect(cost.stacks[0].instanceHours).toBeCloseTo(1, 10);
        expect(cost.stacks[0].usd).toBeCloseTo(0.768 + 0.0252 / 3, 10);
        expect(cost.measured).toMatchObject({ minutes: 21, instanceHours: 1 });
        expect(cost.estimate.minutes).toBeGreaterThan(0);
        expect(cost.market).toBe("on-demand");
    });

    it("a stack still up is counted to now and marked", () => {
        const stillUp: CompareReport = { ...report, stacks: [{ ...report.stacks[0], destroyCompletedAt: undefined, finalState: "kept", leftover: true }] };
        const cost = billRecord(stillUp, plan, t0, t0 + 40 * minute);
        expect(cost.stacks[0]).toMatchObject({ stillUp: true, instanceHours: 2 });
    });

    it("the report shows the estimate and the measured figure", async () => {
        const folder = tempDir();
        fs.copyFileSync(path.join(projectDir, "docs", "sample-report", "summary.json"), path.join(folder, "summary.json"));
        const cost = billRecord(report, plan, t0, t0 + 21 * minute);
        fs.writeFileSync(path.join(folder, billFileName), JSON.stringify(cost));
        expect(readBillFile(folder)).toEqual(cost);
        await renderReport(folder);
        const md = fs.readFileSync(path.join(folder, "report.md"), "utf8");
        expect(md).toMatch(/## AWS bill: estimated and measured/);
        expect(md).toMatch(/Estimated before the run: ~\d+(\.\d)? min, ~\$\d+\.\d\d on-demand/);
        expect(md).toMatch(/Measured: 21\.0 min from the first up to the last destroy, 1\.00 instance-hours, \$0\.78 on-demand/);
        expect(md).toMatch(/\| vxlan \| 3 × c6i\.4xlarge \| 2026-11-29T12:00:00\.000Z \| 2026-11-29T12:20:00\.000Z \| 1\.00 \| \$0\.78 \|/);
    });
});
