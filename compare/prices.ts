/**
 * What AWS bills for one stack: the one place the comparison's cost formula and prices live, for
 * the plan's estimate (plan.ts), the closing console lines and the bill beside the results
 * (progress.ts billRecord). Instances, public IPv4 and EBS are prorated; the NLB is billed per
 * started hour. The prices were transcribed, not fetched: check them before relying on one.
 * Billing rules and sources: docs/facts.md, "AWS billing".
 */
import { rootVolumeGiB } from "../components/nodePair";
import type { comparisonInstanceTypes } from "../components/settings";

export type ComparisonInstanceType = (typeof comparisonInstanceTypes)[number];

export interface RegionPrices {
    /** USD per instance-hour, on demand. */
    readonly instance: Readonly<Record<ComparisonInstanceType, number>>;
    /** USD per NLB-hour (each started hour billed in full; NLCUs come on top). */
    readonly nlb: number;
    /** USD per GB-month of gp3 storage. */
    readonly ebsGp3GbMonth: number;
}

export const pricesAsOf = "instances and NLB: 2025 price pages, transcribed 2026-11-23; EBS gp3 and public IPv4: AWS Price List, transcribed 2026-12-04 (not re-fetched)";

/** USD per public IPv4 address-hour, every region (aws.amazon.com/vpc/pricing, since 2024-02-01). */
export const publicIpv4UsdPerHour = 0.005;

/** The month a GB-month price is divided by: the EBS pricing page's example uses 30 days. */
export const ebsHoursPerMonth = 30 * 24;

/** Availability Zones the NLB is enabled in: one subnet (components/nodePortLoadBalancer.ts). */
export const nlbAvailabilityZones = 1;

export const onDemandPrices: Readonly<Record<string, RegionPrices>> = {
    // EBS gp3: "$0.08 per GB-month of General Purpose (gp3) provisioned storage - US East (N. Virginia)".
    "us-east-1": {
        instance: { "c5.4xlarge": 0.68, "c5a.4xlarge": 0.616, "c5d.4xlarge": 0.768, "c6i.4xlarge": 0.68, "c6a.4xlarge": 0.612, "c7i.4xlarge": 0.714, "c7a.4xlarge": 0.82112 },
        nlb: 0.0225,
        ebsGp3GbMonth: 0.08,
    },
    // EBS gp3: AWS prices US West (Oregon) like US East (N. Virginia).
    "us-west-2": {
        instance: { "c5.4xlarge": 0.68, "c5a.4xlarge": 0.616, "c5d.4xlarge": 0.768, "c6i.4xlarge": 0.68, "c6a.4xlarge": 0.612, "c7i.4xlarge": 0.714, "c7a.4xlarge": 0.82112 },
        nlb: 0.0225,
        ebsGp3GbMonth: 0.08,
    },
    // EBS gp3: "$0.088 per GB-month of General Purpose (gp3) provisioned storage - EU (Ireland)".
    "eu-west-1": {
        instance: { "c5.4xlarge": 0.768, "c5a.4xlarge": 0.696, "c5d.4xlarge": 0.872, "c6i.4xlarge": 0.768, "c6a.4xlarge": 0.6912, "c7i.4xlarge": 0.8064, "c7a.4xlarge": 0.92736 },
        nlb: 0.0252,
        ebsGp3GbMonth: 0.088,
    },
    // EBS gp3: "$0.0952 per GB-month of General Purpose (gp3) provisioned storage" (eu-central-1).
    "eu-central-1": {
        instance: { "c5.4xlarge": 0.776, "c5a.4xlarge": 0.696, "c5d.4xlarge": 0.888, "c6i.4xlarge": 0.776, "c6a.4xlarge": 0.6984, "c7i.4xlarge": 0.8148, "c7a.4xlarge": 0.93168 },
        nlb: 0.027,
        ebsGp3GbMonth: 0.0952,
    },
    // EBS gp3: "$0.096 per GB-month of General Purpose (gp3) provisioned storage - Asia Pacific (Tokyo)".
    "ap-northeast-1": {
        instance: { "c5.4xlarge": 0.856, "c5a.4xlarge": 0.768, "c5d.4xlarge": 0.976, "c6i.4xlarge": 0.856, "c6a.4xlarge": 0.7704, "c7i.4xlarge": 0.8988, "c7a.4xlarge": 1.03376 },
        nlb: 0.0243,
        ebsGp3GbMonth: 0.096,
    },
};

/** What one stack holds that AWS bills by the clock, with its on-demand rates. */
export interface StackRates {
    readonly known: true;
    readonly instanceType: string;
    readonly instances: number;
    /** USD per instance-hour, on demand. */
    readonly instanceUsdPerHour: number;
    /** USD per NLB-hour; one NLB per stack. */
    readonly nlbUsdPerHour: number;
    /** Public IPv4 addresses: one per instance, one per NLB Availability Zone. */
    readonly publicIpv4: number;
    /** GiB of gp3 root volumes, all instances together. */
    readonly ebsGiB: number;
    readonly ebsUsdPerGbMonth: number;
    /** USD per hour while everything runs (the NLB at its hourly rate): for tables, not for bills. */
    readonly usdPerHour: number;
}

/** A stack's rates, or why they are unknown. */
export type StackHourlyPrice = StackRates | { readonly known: false; readonly reason: string };

/** The rates of one stack of `instances` instances of `instanceType` in `region`, plus its NLB. */
export function stackHourlyPrice(region: string, instanceType: string, instances: number): StackHourlyPrice {
    const prices = onDemandPrices[region];
    if (prices === undefined) {
        return { known: false, reason: `no prices for region ${region} in compare/prices.ts (known: ${Object.keys(onDemandPrices).join(", ")})` };
    }
    const perInstance = (prices.instance as Readonly<Record<string, number>>)[instanceType];
    if (perInstance === undefined) {
        return { known: false, reason: `no price for ${instanceType} in ${region} in compare/prices.ts` };
    }
    const publicIpv4 = instances + nlbAvailabilityZones;
    const ebsGiB = instances * rootVolumeGiB;
    return {
        known: true,
        instanceType,
        instances,
        instanceUsdPerHour: perInstance,
        nlbUsdPerHour: prices.nlb,
        publicIpv4,
        ebsGiB,
        ebsUsdPerGbMonth: prices.ebsGp3GbMonth,
        usdPerHour: instances * perInstance + prices.nlb + publicIpv4 * publicIpv4UsdPerHour + (ebsGiB * prices.ebsGp3GbMonth) / ebsHoursPerMonth,
    };
}

/** What one stack costs for `hours`, part by part. */
export interface StackCost {
    readonly hours: number;
    readonly instances: number;
    /** Hours the NLB is billed for: every started hour. */
    readonly nlbHours: number;
    readonly nlb: number;
    readonly publicIpv4: number;
    readonly ebs: number;
    readonly total: number;
}

/**
 * USD for one stack that exists for `hours`, its instances at `instanceUsdPerHour` (default: on
 * demand; a Spot run passes the Spot price: only the instances are discounted).
 */
export function stackCost(rates: StackRates, hours: number, instanceUsdPerHour: number = rates.instanceUsdPerHour): StackCost {
    const instances = rates.instances * instanceUsdPerHour * hours;
    const nlbHours = Math.ceil(hours);
    const nlb = nlbHours * rates.nlbUsdPerHour;
    const publicIpv4 = rates.publicIpv4 * publicIpv4UsdPerHour * hours;
    const ebs = ((rates.ebsGiB * rates.ebsUsdPerGbMonth) / ebsHoursPerMonth) * hours;
    return { hours, instances, nlbHours, nlb, publicIpv4, ebs, total: instances + nlb + publicIpv4 + ebs };
}

/**
 * The arithmetic of `stackCost`, one line per part, for the plan and the docs: what a reader can
 * redo with a pocket calculator.
 */
export function stackCostLines(rates: StackRates, cost: StackCost, instanceLabel = `$${rates.instanceUsdPerHour}/h`): string[] {
    const h = `${+cost.hours.toFixed(3)} h`;
    const usd = (v: number) => `$${v.toFixed(4)}`;
    return [
        `instances    ${rates.instances} × ${rates.instanceType} × ${instanceLabel} × ${h} = ${usd(cost.instances)}`,
        `NLB          $${rates.nlbUsdPerHour}/h × ${cost.nlbHours} h (every started hour is billed in full) = ${usd(cost.nlb)}`,
        `public IPv4  ${rates.publicIpv4} addresses (${rates.instances} instances + ${nlbAvailabilityZones} NLB AZ) × $${publicIpv4UsdPerHour}/h × ${h} = ${usd(cost.publicIpv4)}`,
        `EBS gp3      ${rates.ebsGiB} GiB (${rates.instances} × ${rootVolumeGiB} GiB) × $${rates.ebsUsdPerGbMonth}/GB-month ÷ ${ebsHoursPerMonth} h × ${h} = ${usd(cost.ebs)}`,
    ];
}

export function formatUsd(value: number): string {
    return `$${value.toFixed(2)}`;
}
