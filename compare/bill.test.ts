/**
 * Cost measured, not guessed: the record compare writes next to the results (bench/results/bill.ts) has
 * the plan's estimate and what each created stack cost from its real up → destroy timestamps,
 * by the same formula as the plan (compare/prices.ts stackCost), and the report shows both.
 * Expected figures are worked out by hand from eu-west-1's prices in compare/prices.ts:
 * c6i.4xlarge $0.768/h, NLB $0.0252 per started hour, $0.005 per public IPv4 address-hour,
 * gp3 $0.088 per GB-month of 720 h; a stack has 3 instances, 4 public addresses, 3 × 40 GiB.
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
import { billRecord, renderRunCost } from "./progress";

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

    it("prices each created stack from up start to destroy complete: instances, NLB per started hour, public IPv4, EBS", () => {
        const cost = billRecord(report, plan, t0, t0 + 21 * minute);
        expect(cost.stacks.map((s) => s.stack)).toEqual(["vxlan"]);
        // 3 instances × 20 min = 1 instance-hour.
        expect(cost.stacks[0].instanceHours).toBeCloseTo(1, 10);
        const parts = cost.stacks[0].parts!;
        expect(parts.instances).toBeCloseTo(0.768, 10); // 1 instance-hour × $0.768
        expect(parts.nlbHours).toBe(1); // 20 min started one hour
        expect(parts.nlb).toBeCloseTo(0.0252, 10);
        expect(parts.publicIpv4).toBeCloseTo(4 * 0.005 * (20 / 60), 10); // $0.00667
        expect(parts.ebs).toBeCloseTo((120 * 0.088 * (20 / 60)) / 720, 10); // $0.00489
        expect(cost.stacks[0].usd).toBeCloseTo(0.768 + 0.0252 + 0.0066667 + 0.0048889, 6);
        expect(cost.measured).toMatchObject({ minutes: 21, instanceHours: 1 });
        expect(cost.measured.usd).toBeCloseTo(0.8047556, 6);
        expect(cost.estimate.minutes).toBeGreaterThan(0);
        expect(cost.market).toBe("on-demand");
    });

    it("a stack still up is counted to now and marked; past the hour the NLB bills a second one", () => {
        const stillUp: CompareReport = { ...report, stacks: [{ ...report.stacks[0], destroyCompletedAt: undefined, finalState: "kept", leftover: true }] };
        const cost = billRecord(stillUp, plan, t0, t0 + 61 * minute);
        expect(cost.stacks[0]).toMatchObject({ stillUp: true, parts: { nlbHours: 2 } });
        expect(cost.stacks[0].instanceHours).toBeCloseTo((3 * 61) / 60, 10);
        // 3.05 instance-hours × $0.768 + 2 × $0.0252 + 4 × $0.005 × 61/60 h + 120 GiB × $0.088 ÷ 720 × 61/60 h
        expect(cost.stacks[0].usd).toBeCloseTo(2.3424 + 0.0504 + 0.0203333 + 0.0149111, 6);
    });

    it("a Spot run prices only the instances at the Spot price; the NLB, addresses and volumes are not discounted", () => {
        const spotPlan = buildPlan(parseCompareArgs(["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32", "--spot"], {}), projectDir, "b", "/out", new Set(), {
            spotPrices: new Map([["eu-west-1/c6i.4xlarge", 0.3]]),
            spotPriceBasis: "test",
        });
        const cost = billRecord({ ...report, stacks: [report.stacks[0]] }, spotPlan, t0, t0 + 21 * minute);
        expect(cost.market).toBe("spot");
        // 1 instance-hour × $0.3, the rest as on demand.
        expect(cost.stacks[0].usd).toBeCloseTo(0.3 + 0.0252 + 0.0066667 + 0.0048889, 6);
    });

    it("the closing console lines show the bill's figures, not a second calculation", () => {
        const text = renderRunCost(billRecord(report, plan, t0, t0 + 21 * minute));
        expect(text).toMatch(/vxlan +3 × c6i\.4xlarge: 1\.00 instance-hours, \$0\.80 \(instances \$0\.77, NLB \$0\.03 for 1 started hour\(s\), public IPv4 \$0\.01, EBS \$0\.00\)/);
        expect(text).toMatch(/total: 1\.00 instance-hours, \$0\.80 on-demand/);
        expect(text).not.toMatch(/calico/);
    });

    it("the report shows the estimate and the measured figure, part by part", async () => {
        const folder = tempDir();
        fs.copyFileSync(path.join(projectDir, "docs", "sample-report", "summary.json"), path.join(folder, "summary.json"));
        const cost = billRecord(report, plan, t0, t0 + 21 * minute);
        fs.writeFileSync(path.join(folder, billFileName), JSON.stringify(cost));
        expect(readBillFile(folder)).toEqual(cost);
        await renderReport(folder);
        const md = fs.readFileSync(path.join(folder, "report.md"), "utf8");
        expect(md).toMatch(/## AWS bill: estimated and measured/);
        expect(md).toMatch(/Estimated before the run: ~\d+(\.\d)? min, ~\$\d+\.\d\d on-demand/);
        expect(md).toMatch(/Measured: 21\.0 min from the first up to the last destroy, 1\.00 instance-hours, \$0\.80 on-demand/);
        expect(md).toMatch(/\| vxlan \| 3 × c6i\.4xlarge \| 2026-11-29T12:00:00\.000Z \| 2026-11-29T12:20:00\.000Z \| 1\.00 \| \$0\.768 \| \$0\.025 \(1\) \| \$0\.007 \| \$0\.005 \| \$0\.80 \|/);
    });

    it("a bill written before the parts existed still renders", async () => {
        const folder = tempDir();
        fs.copyFileSync(path.join(projectDir, "docs", "sample-report", "summary.json"), path.join(folder, "summary.json"));
        const { parts: _dropped, ...old } = billRecord(report, plan, t0, t0 + 21 * minute).stacks[0];
        const bill = { ...billRecord(report, plan, t0, t0 + 21 * minute), stacks: [old] };
        fs.writeFileSync(path.join(folder, billFileName), JSON.stringify(bill));
        await renderReport(folder);
        expect(fs.readFileSync(path.join(folder, "report.md"), "utf8")).toMatch(/\| vxlan \| 3 × c6i\.4xlarge \|.*\| 1\.00 \| – \| – \| – \| – \| \$0\.80 \|/);
    });
});
