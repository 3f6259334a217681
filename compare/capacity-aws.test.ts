/**
 * The AWS adapter (compare/capacity.ts AwsAccountCapacity) against a stand-in of the two AWS APIs
 * on 127.0.0.1: the real SDK v3 clients send real requests, and the test answers in the wire
 * formats the API references document — Service Quotas is a JSON 1.1 API (X-Amz-Target
 * "ServiceQuotasV20190624.GetServiceQuota", response { Quota: { Value } }: API reference,
 * GetServiceQuota), EC2 a query API (Action=DescribeInstances, XML response with
 * reservationSet/instancesSet items carrying instanceType, instanceState, instanceLifecycle and
 * cpuOptions: EC2 API reference, DescribeInstances; Action=DescribeSpotPriceHistory with
 * spotPriceHistorySet items per availabilityZone: EC2 API reference, DescribeSpotPriceHistory). Nothing leaves the machine.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsAccountCapacity } from "./capacity";

interface Seen {
    readonly target?: string;
    readonly body: string;
}

const seen: Seen[] = [];

const instance = (type: string, state: string, cores: number, threads: number, lifecycle?: string) =>
    `<item><instanceId>i-0${seen.length}</instanceId><instanceType>${type}</instanceType><instanceState><code>16</code><name>${state}</name></instanceState>` +
    `${lifecycle ? `<instanceLifecycle>${lifecycle}</instanceLifecycle>` : ""}<cpuOptions><coreCount>${cores}</coreCount><threadsPerCore>${threads}</threadsPerCore></cpuOptions></item>`;

const describeInstancesXml =
    '<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId><reservationSet>' +
    `<item><reservationId>r-a</reservationId><instancesSet>${instance("c6i.4xlarge", "running", 8, 2)}${instance("m5.large", "pending", 1, 2)}</instancesSet></item>` +
    `<item><reservationId>r-b</reservationId><instancesSet>${instance("c6i.4xlarge", "running", 8, 2, "spot")}</instancesSet></item>` +
    "</reservationSet></DescribeInstancesResponse>";

const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
        const target = req.headers["x-amz-target"] as string | undefined;
        seen.push({ target, body });
        if (target === "ServiceQuotasV20190624.GetServiceQuota") {
            const code = (JSON.parse(body) as { QuotaCode: string }).QuotaCode;
            res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
            res.end(JSON.stringify({ Quota: { ServiceCode: "ec2", QuotaCode: code, Value: code === "L-1216C47A" ? 64 : 128 } }));
            return;
        }
        if (body.includes("Action=DescribeSpotPriceHistory")) {
            const price = (zone: string, usd: string) =>
                `<item><instanceType>c6i.4xlarge</instanceType><productDescription>Linux/UNIX</productDescription><spotPrice>${usd}</spotPrice><timestamp>2026-11-29T12:00:00.000Z</timestamp><availabilityZone>${zone}</availabilityZone></item>`;
            res.writeHead(200, { "content-type": "text/xml" });
            res.end(
                '<?xml version="1.0" encoding="UTF-8"?><DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-2</requestId><spotPriceHistorySet>' +
                    `${price("eu-west-1a", "0.301200")}${price("eu-west-1b", "0.287100")}</spotPriceHistorySet><nextToken></nextToken></DescribeSpotPriceHistoryResponse>`,
            );
            return;
        }
        if (body.includes("Action=DescribeInstances")) {
            res.writeHead(200, { "content-type": "text/xml" });
            res.end(describeInstancesXml);
            return;
        }
        res.writeHead(400, { "content-type": "text/plain" });
        res.end("unexpected request");
    });
});

let capacity: AwsAccountCapacity;

beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    // Static, made-up credentials: the stand-in checks no signature; the real chain is never asked.
    capacity = new AwsAccountCapacity({ endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "test-only" }, maxAttempts: 1 });
});

afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("AwsAccountCapacity through the SDK v3 clients", () => {
    it("on-demand: GetServiceQuota ec2/L-1216C47A and the vCPUs of pending and running on-demand instances", async () => {
        seen.length = 0;
        expect(await capacity.vcpuQuota("eu-west-1", "on-demand")).toEqual({ limit: 64, inUse: 16 + 2 });
        expect(seen[0].target).toBe("ServiceQuotasV20190624.GetServiceQuota");
        expect(JSON.parse(seen[0].body)).toEqual({ ServiceCode: "ec2", QuotaCode: "L-1216C47A" });
        // Only pending and running instances are asked for (the filter DescribeInstances documents).
        expect(seen[1].body).toMatch(/Action=DescribeInstances/);
        expect(decodeURIComponent(seen[1].body)).toMatch(/Filter\.1\.Name=instance-state-name&Filter\.1\.Value\.1=pending&Filter\.1\.Value\.2=running/);
    });

    it("Spot: GetServiceQuota ec2/L-34B43A08 and only the Spot instances", async () => {
        seen.length = 0;
        expect(await capacity.vcpuQuota("eu-west-1", "spot")).toEqual({ limit: 128, inUse: 16 });
        expect(JSON.parse(seen[0].body)).toEqual({ ServiceCode: "ec2", QuotaCode: "L-34B43A08" });
    });

    it("the Spot price: DescribeSpotPriceHistory for the type, Linux/UNIX, now; the dearest zone", async () => {
        seen.length = 0;
        expect(await capacity.spotPrice("eu-west-1", "c6i.4xlarge")).toBe(0.3012);
        const query = decodeURIComponent(seen[0].body);
        expect(query).toMatch(/Action=DescribeSpotPriceHistory/);
        expect(query).toMatch(/InstanceType\.1=c6i\.4xlarge/);
        expect(query).toMatch(/ProductDescription\.1=Linux\/UNIX/);
        expect(query).toMatch(/StartTime=\d{4}-\d\d-\d\dT/);
    });
});
