/**
 * What a comparison run cost on AWS (not the CPU cost the lab measures): the plan's estimate and
 * the figure measured from each stack's real up → destroy timestamps. `npm run compare` writes it as `bill.json` next to `summary.json` once
 * every stack of the run is torn down; the report (report.ts) shows both side by side.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { readJsonFile } from "../../core/schema";

export const billFileName = "bill.json";

export const billFileSchema = z.object({
    schema: z.literal("cni-compare/bill/1"),
    /** Where the prices come from (compare/prices.ts pricesAsOf, or the live Spot reading). */
    prices: z.string(),
    market: z.enum(["on-demand", "spot"]),
    estimate: z.object({ minutes: z.number(), usd: z.number().optional(), basis: z.string() }),
    stacks: z.array(
        z.object({
            stack: z.string(),
            instances: z.number().int(),
            instanceType: z.string(),
            upStartedAt: z.string().optional(),
            destroyCompletedAt: z.string().optional(),
            /** Instance-hours from up start to destroy complete (instances exist during part of up). */
            instanceHours: z.number(),
            usd: z.number().optional(),
            /** USD per part (compare/prices.ts stackCost); absent in bills written before it, or when a price is unknown. */
            parts: z.object({ instances: z.number(), nlb: z.number(), nlbHours: z.number().int(), publicIpv4: z.number(), ebs: z.number() }).optional(),
            stillUp: z.boolean(),
        }),
    ),
    measured: z.object({ minutes: z.number(), instanceHours: z.number(), usd: z.number().optional() }),
});
export type BillFile = z.infer<typeof billFileSchema>;

/** The bill record of a results folder, or undefined when the run was not a comparison. */
export function readBillFile(folder: string): BillFile | undefined {
    const file = path.join(folder, billFileName);
    return fs.existsSync(file) ? readJsonFile(billFileSchema, file) : undefined;
}

/** The report's bill section: the estimate and the measured figure, per stack and in total. */
export function billMarkdown(cost: BillFile): string {
    const usd = (v: number | undefined) => (v === undefined ? "unknown" : `$${v.toFixed(2)}`);
    // The parts are cents or less: three decimals, so they add up visibly to the total.
    const part = (v: number) => `$${v.toFixed(3)}`;
    const lines = [
        "## AWS bill: estimated and measured",
        "",
        `Estimated before the run: ~${cost.estimate.minutes.toFixed(1)} min, ~${usd(cost.estimate.usd)} ${cost.market} (${cost.estimate.basis}).`,
        `Measured: ${cost.measured.minutes.toFixed(1)} min from the first up to the last destroy, ${cost.measured.instanceHours.toFixed(2)} instance-hours, ${usd(cost.measured.usd)} ${cost.market} (prices: ${cost.prices}).`,
        "",
        "What AWS bills by the clock (compare/prices.ts): instances per second, the NLB per started hour, public IPv4 addresses and EBS volumes prorated; data transfer, NLB capacity units and taxes are not counted.",
        "",
        "| stack | instances | up started | destroy complete | instance-hours | instances USD | NLB USD (hours) | public IPv4 USD | EBS USD | USD |",
        "|---|---|---|---|---|---|---|---|---|---|",
        ...cost.stacks.map((s) => {
            const parts = s.parts ? `${part(s.parts.instances)} | ${part(s.parts.nlb)} (${s.parts.nlbHours}) | ${part(s.parts.publicIpv4)} | ${part(s.parts.ebs)}` : "– | – | – | –";
            return `| ${s.stack} | ${s.instances} × ${s.instanceType} | ${s.upStartedAt ?? "–"} | ${s.destroyCompletedAt ?? (s.stillUp ? "STILL UP" : "–")} | ${s.instanceHours.toFixed(2)} | ${parts} | ${usd(s.usd)} |`;
        }),
        "",
    ];
    return lines.join("\n");
}
