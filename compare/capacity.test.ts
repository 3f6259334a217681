/**
 * The account's capacity as the comparison reads it (compare/capacity.ts): which instances count
 * against which vCPU quota, how waves are planned, and what a capacity error tells the operator.
 */
import { describe, expect, it } from "vitest";
import { explainCapacityError, planParallelism, vcpusInUse, vcpuQuotaCodes, type DescribedInstance } from "./capacity";

/** Shaped like DescribeInstances' Instances[] (EC2 API reference, Instance: InstanceType, State.Name, InstanceLifecycle, CpuOptions). */
const instance = (type: string, state: string, lifecycle?: "spot", cores = 8, threads = 2): DescribedInstance => ({
    InstanceType: type,
    State: { Name: state },
    InstanceLifecycle: lifecycle,
    CpuOptions: { CoreCount: cores, ThreadsPerCore: threads },
});

describe("vCPUs in use against a quota", () => {
    const fleet = [
        instance("c6i.4xlarge", "running"), // 16 on-demand standard
        instance("m5.large", "pending", undefined, 1, 2), // 2 on-demand standard
        instance("c6i.4xlarge", "running", "spot"), // 16 Spot standard
        instance("c6i.4xlarge", "stopped"), // stopped instances hold no vCPUs
        instance("p3.2xlarge", "running", undefined, 4, 2), // P family: not in the standard quota
        instance("g5.xlarge", "running", "spot", 2, 2), // G family: not in the standard Spot quota
    ];
    it("on-demand (L-1216C47A): pending and running A, C, D, H, I, M, R, T, Z instances that are not Spot", () => {
        expect(vcpuQuotaCodes["on-demand"]).toBe("L-1216C47A");
        expect(vcpusInUse(fleet, "on-demand")).toBe(18);
    });
    it("Spot (L-34B43A08): only Spot instances of the standard families", () => {
        expect(vcpuQuotaCodes.spot).toBe("L-34B43A08");
        expect(vcpusInUse(fleet, "spot")).toBe(16);
    });
});

describe("planParallelism", () => {
    it("says plainly when the quota forces waiting, and how many waves that makes", () => {
        const plan = planParallelism(5, 48, 20, { limit: 128, inUse: 16, market: "on-demand" });
        expect(plan).toMatchObject({ waveSize: 2, waves: 3 });
        expect(plan.statement).toMatch(/only 2 stack\(s\) fit at once, so the quota FORCES WAITING: 3 waves of ≤ 2/);
    });
    it("one wave when all fit; impossible (with what to do) when none does", () => {
        expect(planParallelism(5, 48, 20, { limit: 256, inUse: 0, market: "spot" }).waves).toBe(1);
        const none = planParallelism(5, 48, 20, { limit: 64, inUse: 32, market: "spot" });
        expect(none.impossible).toMatch(/not even one stack fits.*L-34B43A08/);
    });
    it("without a quota it plans all at once and says what happens if that is too many", () => {
        expect(planParallelism(5, 48, 20, undefined, "no credentials").statement).toMatch(/not read \(no credentials\).*VcpuLimitExceeded/);
    });
});

describe("capacity errors (EC2 API error codes: InsufficientInstanceCapacity, UnfulfillableCapacity, VcpuLimitExceeded)", () => {
    it("missing Spot capacity says what to do, including running on demand", () => {
        const text = explainCapacityError("creating EC2 Instance: InsufficientInstanceCapacity: There is no Spot capacity available that matches your request.", true);
        expect(text).toMatch(/no Spot capacity for this instance type in this zone right now \(InsufficientInstanceCapacity\)\. Retry later, .* or run without --spot/);
    });
    it("an exhausted vCPU quota names the quota code", () => {
        expect(explainCapacityError("VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit", false)).toMatch(/ec2 L-1216C47A/);
    });
    it("any other error is left as it was", () => {
        expect(explainCapacityError("InvalidAMIID.NotFound", true)).toBe("InvalidAMIID.NotFound");
    });
});

describe("the AWS SDK v3 clients", () => {
    it("load on this Node and offer the commands the reader sends", async () => {
        const quotas = await import("@aws-sdk/client-service-quotas");
        const ec2 = await import("@aws-sdk/client-ec2");
        expect(typeof quotas.GetServiceQuotaCommand).toBe("function");
        expect(typeof ec2.paginateDescribeInstances).toBe("function");
        expect(typeof ec2.DescribeSpotPriceHistoryCommand).toBe("function");
    });
});
