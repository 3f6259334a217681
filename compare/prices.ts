/**
 * On-demand prices: the ONE place the comparison's cost figures come from.
 *
 * Source: AWS "Amazon EC2 On-Demand Pricing" (Linux/Unix, shared tenancy) and "Elastic Load
 * Balancing pricing" (Network Load Balancer, per NLB-hour) pages, USD per hour, as published in
 * 2025 and transcribed 2026-11-23. This workplace has no internet access, so they could not be
 * re-fetched that day: check them against the pricing pages before relying on a figure.
 * Not included: EBS root volumes, data transfer, NLB capacity units (NLCU), taxes.
 */
import type { comparisonInstanceTypes } from "../components/settings";

export type ComparisonInstanceType = (typeof comparisonInstanceTypes)[number];

export interface RegionPrices {
    /** USD per instance-hour. */
    readonly instance: Readonly<Record<ComparisonInstanceType, number>>;
    /** USD per NLB-hour (the fixed part; NLCUs come on top). */
    readonly nlb: number;
}

export const pricesAsOf = "2025 price pages, transcribed 2026-11-23 (not re-fetched)";

export const onDemandPrices: Readonly<Record<string, RegionPrices>> = {
    "us-east-1": {
        instance: { "c5.4xlarge": 0.68, "c5a.4xlarge": 0.616, "c5d.4xlarge": 0.768, "c6i.4xlarge": 0.68, "c6a.4xlarge": 0.612, "c7i.4xlarge": 0.714, "c7a.4xlarge": 0.82112 },
        nlb: 0.0225,
    },
    "us-west-2": {
        instance: { "c5.4xlarge": 0.68, "c5a.4xlarge": 0.616, "c5d.4xlarge": 0.768, "c6i.4xlarge": 0.68, "c6a.4xlarge": 0.612, "c7i.4xlarge": 0.714, "c7a.4xlarge": 0.82112 },
        nlb: 0.0225,
    },
    "eu-west-1": {
        instance: { "c5.4xlarge": 0.768, "c5a.4xlarge": 0.696, "c5d.4xlarge": 0.872, "c6i.4xlarge": 0.768, "c6a.4xlarge": 0.6912, "c7i.4xlarge": 0.8064, "c7a.4xlarge": 0.92736 },
        nlb: 0.0252,
    },
    "eu-central-1": {
        instance: { "c5.4xlarge": 0.776, "c5a.4xlarge": 0.696, "c5d.4xlarge": 0.888, "c6i.4xlarge": 0.776, "c6a.4xlarge": 0.6984, "c7i.4xlarge": 0.8148, "c7a.4xlarge": 0.93168 },
        nlb: 0.027,
    },
    "ap-northeast-1": {
        instance: { "c5.4xlarge": 0.856, "c5a.4xlarge": 0.768, "c5d.4xlarge": 0.976, "c6i.4xlarge": 0.856, "c6a.4xlarge": 0.7704, "c7i.4xlarge": 0.8988, "c7a.4xlarge": 1.03376 },
        nlb: 0.0243,
    },
};

/** Hourly price of one stack, or why it is unknown. */
export type StackHourlyPrice =
    | { readonly known: true; readonly usdPerHour: number; readonly instanceUsdPerHour: number; readonly nlbUsdPerHour: number }
    | { readonly known: false; readonly reason: string };

/** What one stack costs per hour: `instances` instances of `instanceType` plus one NLB. */
export function stackHourlyPrice(region: string, instanceType: string, instances: number): StackHourlyPrice {
    const prices = onDemandPrices[region];
    if (prices === undefined) {
        return { known: false, reason: `no prices for region ${region} in compare/prices.ts (known: ${Object.keys(onDemandPrices).join(", ")})` };
    }
    const perInstance = (prices.instance as Readonly<Record<string, number>>)[instanceType];
    if (perInstance === undefined) {
        return { known: false, reason: `no price for ${instanceType} in ${region} in compare/prices.ts` };
    }
    const instanceUsdPerHour = perInstance * instances;
    return { known: true, usdPerHour: instanceUsdPerHour + prices.nlb, instanceUsdPerHour, nlbUsdPerHour: prices.nlb };
}

export function formatUsd(value: number): string {
    return `$${value.toFixed(2)}`;
}
