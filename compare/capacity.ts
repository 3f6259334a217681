/**
 * What the AWS account allows before anything is created: the EC2 vCPU quota of the stacks'
 * market, what already runs against it, and (for --spot) the current Spot price. The comparison
 * plans its waves from it. `AccountCapacity` is the interface; `AwsAccountCapacity` implements it
 * with the AWS SDK v3. APIs, quota codes and error codes: docs/facts.md, "AWS quotas and capacity
 * errors".
 */
import { comparisonInstanceTypes } from "../components/settings";

export type Market = "on-demand" | "spot";

/** The vCPU quota codes (service "ec2") for standard instance families, by market. */
export const vcpuQuotaCodes: Readonly<Record<Market, string>> = { "on-demand": "L-1216C47A", spot: "L-34B43A08" };

/** The families the standard quotas cover (the quota names list them). */
const standardFamilies = /^[acdhimrtz]/;

/** Every type a stack may use has 16 vCPUs (components/settings.ts comparisonInstanceTypes). */
export const vcpusPerInstance: Readonly<Record<(typeof comparisonInstanceTypes)[number], number>> = Object.fromEntries(comparisonInstanceTypes.map((t) => [t, 16])) as Record<
    (typeof comparisonInstanceTypes)[number],
    number
>;

export interface VcpuQuota {
    /** Quota.Value of GetServiceQuota. */
    readonly limit: number;
    /** vCPUs of pending and running instances of the standard families in this market. */
    readonly inUse: number;
}

export interface AccountCapacity {
    /** For the plan, e.g. "AWS Service Quotas and EC2 (eu-west-1)". */
    readonly description: string;
    vcpuQuota(region: string, market: Market): Promise<VcpuQuota>;
    /** Highest current Spot price (USD/h, Linux/UNIX) over the region's zones; undefined when none is offered. */
    spotPrice(region: string, instanceType: string): Promise<number | undefined>;
}

/** vCPUs an instance counts against its quota (CpuOptions: cores × threads per core). */
export function instanceVcpus(cpu: { readonly CoreCount?: number; readonly ThreadsPerCore?: number } | undefined): number {
    return (cpu?.CoreCount ?? 0) * (cpu?.ThreadsPerCore ?? 1);
}

/** The part of DescribeInstances' answer the usage is counted from. */
export interface DescribedInstance {
    readonly InstanceType?: string;
    readonly InstanceLifecycle?: string;
    readonly State?: { readonly Name?: string };
    readonly CpuOptions?: { readonly CoreCount?: number; readonly ThreadsPerCore?: number };
}

/** vCPUs in use against the standard quota of `market`: pending and running standard-family instances. */
export function vcpusInUse(instances: readonly DescribedInstance[], market: Market): number {
    let total = 0;
    for (const i of instances) {
        if (!["pending", "running"].includes(i.State?.Name ?? "")) continue;
        if (!standardFamilies.test(i.InstanceType ?? "")) continue;
        const isSpot = i.InstanceLifecycle === "spot";
        if ((market === "spot") !== isSpot) continue;
        total += instanceVcpus(i.CpuOptions);
    }
    return total;
}

/** The AWS SDK v3 implementation (credentials from the SDK's default chain, never printed). */
export class AwsAccountCapacity implements AccountCapacity {
    readonly description = "AWS Service Quotas (GetServiceQuota) and EC2 (DescribeInstances, DescribeSpotPriceHistory)";

    /**
     * `clients`: extra client configuration (SDK ClientConfig: `endpoint`, `credentials` …) for
     * both clients; production passes none (the SDK's endpoints and default credential chain).
     */
    constructor(private readonly clients: Readonly<Record<string, unknown>> = {}) {}

    async vcpuQuota(region: string, market: Market): Promise<VcpuQuota> {
        const { ServiceQuotasClient, GetServiceQuotaCommand } = await import("@aws-sdk/client-service-quotas");
        const { EC2Client, paginateDescribeInstances } = await import("@aws-sdk/client-ec2");
        const quotas = new ServiceQuotasClient({ region, ...this.clients });
        const ec2 = new EC2Client({ region, ...this.clients });
        try {
            const quota = await quotas.send(new GetServiceQuotaCommand({ ServiceCode: "ec2", QuotaCode: vcpuQuotaCodes[market] }));
            const limit = quota.Quota?.Value;
            if (limit === undefined) throw new Error(`GetServiceQuota ec2/${vcpuQuotaCodes[market]} in ${region} returned no value`);
            const instances: DescribedInstance[] = [];
            const filters = [{ Name: "instance-state-name", Values: ["pending", "running"] }];
            for await (const page of paginateDescribeInstances({ client: ec2 }, { Filters: filters })) {
                for (const r of page.Reservations ?? []) instances.push(...(r.Instances ?? []));
            }
            return { limit, inUse: vcpusInUse(instances, market) };
        } finally {
            quotas.destroy();
            ec2.destroy();
        }
    }

    async spotPrice(region: string, instanceType: string): Promise<number | undefined> {
        const { EC2Client, DescribeSpotPriceHistoryCommand } = await import("@aws-sdk/client-ec2");
        const ec2 = new EC2Client({ region, ...this.clients });
        try {
            const answer = await ec2.send(new DescribeSpotPriceHistoryCommand({ InstanceTypes: [instanceType as never], ProductDescriptions: ["Linux/UNIX"], StartTime: new Date() }));
            const prices = (answer.SpotPriceHistory ?? []).map((p) => Number(p.SpotPrice)).filter((p) => Number.isFinite(p));
            // The stack's zone is chosen at up time: the dearest zone is the safe estimate.
            return prices.length > 0 ? Math.max(...prices) : undefined;
        } finally {
            ec2.destroy();
        }
    }
}

/** How many stacks may exist at once, from the quota; with the reason when that makes stacks wait. */
export interface ParallelismPlan {
    /** Stacks that exist at the same time (a wave); at least 1 unless `impossible`. */
    readonly waveSize: number;
    readonly waves: number;
    readonly vcpusPerStack: number;
    readonly quota?: VcpuQuota & { readonly market: Market; readonly code: string };
    /** Said to the operator: what the quota allows and whether it forces waiting. */
    readonly statement: string;
    /** Not even one stack fits: nothing can run. */
    readonly impossible?: string;
}

/**
 * Waves of stacks that fit the free vCPUs (limit − in use). Each stack's vCPUs are held from its
 * `up` to its destroy, so a wave is brought up, measured and destroyed before the next starts.
 */
export function planParallelism(stacks: number, vcpusPerStack: number, parallel: number, quota: (VcpuQuota & { readonly market: Market }) | undefined, why?: string): ParallelismPlan {
    if (stacks === 0) return { waveSize: 0, waves: 1, vcpusPerStack, statement: "no stack starts instances (pre-existing stacks are measured as they are): the quota does not matter" };
    const byFlag = Math.max(1, Math.min(parallel, stacks));
    if (quota === undefined) {
        return {
            waveSize: stacks,
            waves: 1,
            vcpusPerStack,
            statement: `vCPU quota not read (${why ?? "no reader"}): all ${stacks} stack(s) planned at once (${stacks * vcpusPerStack} vCPUs); if the quota is lower, the up fails with VcpuLimitExceeded`,
        };
    }
    const code = vcpuQuotaCodes[quota.market];
    const free = Math.max(0, quota.limit - quota.inUse);
    const fits = Math.floor(free / vcpusPerStack);
    const head = `vCPU quota ${code} (${quota.market} standard): ${quota.limit} vCPUs, ${quota.inUse} in use, ${free} free; each stack needs ${vcpusPerStack}`;
    if (fits === 0) {
        return {
            waveSize: 0,
            waves: 0,
            vcpusPerStack,
            quota: { ...quota, code },
            statement: head,
            impossible: `${head}: not even one stack fits. Stop other instances or request a higher quota (Service Quotas console, ec2 ${code})`,
        };
    }
    const waveSize = Math.min(fits, stacks);
    const waves = Math.ceil(stacks / waveSize);
    const statement =
        waves === 1
            ? `${head}: all ${stacks} stack(s) fit at once (up to ${byFlag} up(s) at a time)`
            : `${head}: only ${waveSize} stack(s) fit at once, so the quota FORCES WAITING: ${waves} waves of ≤ ${waveSize} (each brought up, measured and destroyed before the next); ` +
              `${stacks * vcpusPerStack} vCPUs would run all at once`;
    return { waveSize, waves, vcpusPerStack, quota: { ...quota, code }, statement };
}

/** Error codes that mean "no capacity" for the requested instances (EC2 API error codes). */
const capacityCodes = ["InsufficientInstanceCapacity", "UnfulfillableCapacity", "MaxSpotInstanceCountExceeded", "VcpuLimitExceeded"] as const;

/** Advice for an `up` that failed for lack of capacity; the message unchanged otherwise. */
export function explainCapacityError(message: string, spot: boolean): string {
    const code = capacityCodes.find((c) => message.includes(c)) ?? (/no Spot capacity/i.test(message) ? "UnfulfillableCapacity" : undefined);
    if (code === undefined) return message;
    if (code === "VcpuLimitExceeded") {
        return `${message}\n  → the account's vCPU quota is exhausted (${code}): stop other instances, request a higher quota (ec2 ${vcpuQuotaCodes[spot ? "spot" : "on-demand"]}), or compare fewer modes at once with --parallel`;
    }
    return spot
        ? `${message}\n  → AWS has no Spot capacity for this instance type in this zone right now (${code}). Retry later, choose another instanceType or region in stacks/Pulumi.<mode>.yaml, or run without --spot (on-demand). Every instance of a stack is Spot or none is, so the pair stays identical.`
        : `${message}\n  → AWS has no on-demand capacity for this instance type in this zone right now (${code}): retry later, or choose another instanceType or region in stacks/Pulumi.<mode>.yaml`;
}
