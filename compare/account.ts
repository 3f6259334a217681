/** What the plan reads from the AWS account before anything is created (capacity.ts). */
import type { AccountCapacity } from "./capacity";
import type { PlanAccount } from "./plan";

/**
 * The vCPU quota (for the market the new stacks use) and, with --spot, the current Spot prices.
 * A failure to read is said plainly and the plan goes on without it: reading is advice, the
 * quota itself is enforced by EC2 (VcpuLimitExceeded, explained by capacity.ts).
 */
export async function readAccount(capacity: AccountCapacity | undefined, regionTypes: readonly string[], spot: boolean): Promise<PlanAccount> {
    if (capacity === undefined) return { quotaNote: "no reader wired", spotPriceBasis: "no reader wired" };
    const market = spot ? "spot" : "on-demand";
    let quota: PlanAccount["quota"];
    let quotaNote: string | undefined;
    try {
        // Quotas are per region: the tightest region decides.
        for (const region of new Set(regionTypes.map((rt) => rt.split("/")[0]))) {
            const q = await capacity.vcpuQuota(region, market);
            if (quota === undefined || q.limit - q.inUse < quota.limit - quota.inUse) quota = { ...q, market };
        }
    } catch (error) {
        quota = undefined;
        quotaNote = `could not read it from ${capacity.description}: ${(error as Error).message}`;
    }
    if (!spot) return { quota, quotaNote, spotPriceBasis: "not read (no --spot)" };
    const spotPrices = new Map<string, number>();
    let spotPriceBasis = `live: DescribeSpotPriceHistory at ${new Date().toISOString()}, Linux/UNIX, dearest zone`;
    try {
        for (const rt of regionTypes) {
            const [region, type] = rt.split("/");
            const price = await capacity.spotPrice(region, type);
            if (price !== undefined) spotPrices.set(rt, price);
        }
    } catch (error) {
        spotPriceBasis = `could not read Spot prices: ${(error as Error).message}`;
    }
    return { quota, quotaNote, spotPrices, spotPriceBasis };
}
