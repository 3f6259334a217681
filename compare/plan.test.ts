import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { networkModes } from "../components/modes";
import { comparisonInstanceTypes } from "../components/settings";
import { UsageError } from "../core/errors";
import { parseCompareArgs, type CompareArgs } from "./args";
import { buildPlan, estimateTimeline, estimateUsd, renderPlan } from "./plan";
import { parse as parseYaml } from "yaml";
import { onDemandPrices, stackCost, stackHourlyPrice, type StackRates } from "./prices";

const projectDir = path.resolve(__dirname, "..");
const dirs: string[] = [];
afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function args(argv: string[], env: Record<string, string> = {}): CompareArgs {
    return parseCompareArgs(argv, env);
}

/** A copy of the project's Pulumi.yaml with one hand-written stack file. */
function projectWith(stack: string, stackYaml: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compare-plan-"));
    dirs.push(dir);
    fs.copyFileSync(path.join(projectDir, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    fs.mkdirSync(path.join(dir, "stacks"));
    fs.writeFileSync(path.join(dir, "stacks", `Pulumi.${stack}.yaml`), stackYaml);
    return dir;
}

describe("price table", () => {
    const regions = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1"];
    for (const region of regions) {
        it(`${region}: prices every 16 vCPU / 32 GiB type, the NLB and gp3 storage`, () => {
            const prices = onDemandPrices[region];
            expect(prices, `no prices for ${region}`).toBeDefined();
            for (const type of comparisonInstanceTypes) {
                expect(prices.instance[type], `${region} ${type}`).toBeGreaterThan(0.3);
                expect(prices.instance[type], `${region} ${type}`).toBeLessThan(2);
            }
            expect(prices.nlb).toBeGreaterThan(0.01);
            expect(prices.nlb).toBeLessThan(0.05);
            // gp3 is $0.08–$0.10 per GB-month in these regions (EBS pricing page).
            expect(prices.ebsGp3GbMonth).toBeGreaterThanOrEqual(0.08);
            expect(prices.ebsGp3GbMonth).toBeLessThan(0.1);
        });
    }

    it("a stack holds its instances, one NLB, a public address per instance and per NLB AZ, and a 40 GiB root volume per instance", () => {
        const price = stackHourlyPrice("eu-west-1", "c6i.4xlarge", 3);
        expect(price).toEqual({
            known: true,
            instanceType: "c6i.4xlarge",
            instances: 3,
            instanceUsdPerHour: 0.768,
            nlbUsdPerHour: 0.0252,
            publicIpv4: 4,
            ebsGiB: 120,
            ebsUsdPerGbMonth: 0.088,
            // 3 × 0.768 + 0.0252 + 4 × 0.005 + 120 × 0.088 / 720
            usdPerHour: expect.closeTo(2.304 + 0.0252 + 0.02 + 0.0146667, 6),
        });
    });

    it("what AWS bills: instances and addresses and volumes by the second, the NLB for every started hour", () => {
        const rates = stackHourlyPrice("eu-west-1", "c6i.4xlarge", 3) as StackRates;
        // 20 min: 3 × $0.768 × 1/3 h, 1 NLB-hour, 4 addresses × $0.005 × 1/3 h, 120 GiB × $0.088 / 720 × 1/3 h.
        const twenty = stackCost(rates, 20 / 60);
        expect(twenty).toMatchObject({ nlbHours: 1, nlb: 0.0252 });
        expect(twenty.instances).toBeCloseTo(0.768, 10);
        expect(twenty.publicIpv4).toBeCloseTo(0.0066667, 6);
        expect(twenty.ebs).toBeCloseTo(0.0048889, 6);
        expect(twenty.total).toBeCloseTo(0.8047556, 6);
        // 61 min: the NLB's second hour has started and is billed in full.
        expect(stackCost(rates, 61 / 60)).toMatchObject({ nlbHours: 2, nlb: 0.0504 });
        // Exactly one hour is one NLB-hour, not two.
        expect(stackCost(rates, 1).nlbHours).toBe(1);
        // Spot: only the instances change price.
        const spot = stackCost(rates, 20 / 60, 0.3);
        expect(spot.instances).toBeCloseTo(0.3, 10);
        expect(spot.total - spot.instances).toBeCloseTo(twenty.total - twenty.instances, 10);
    });

    it("an unknown region is unknown, with the reason, not a made-up number", () => {
        const price = stackHourlyPrice("sa-east-1", "c6i.4xlarge", 3);
        expect(price.known).toBe(false);
        expect(!price.known && price.reason).toMatch(/no prices for region sa-east-1 .*known: us-east-1/);
    });

    // The model counts what the program declares: read from the committed render of each compared
    // mode (snapshots/<mode>/resources.yaml, `npm run render`), not from the cost model's own code.
    for (const mode of ["vxlan", "host-gw", "calico", "calico-ipip", "calico-vxlan"]) {
        it(`${mode}: the addresses and volumes priced are those the stack declares`, () => {
            type Resource = { type: string; inputs: Record<string, unknown> };
            const snapshot = parseYaml(fs.readFileSync(path.join(projectDir, "snapshots", mode, "resources.yaml"), "utf8")) as { resources: Resource[] };
            const of = (type: string) => snapshot.resources.filter((r) => r.type === type);
            const subnets = of("aws:ec2/subnet:Subnet");
            const instances = of("aws:ec2/instance:Instance");
            // A public address per instance: asked for explicitly, or given by the subnet (EC2 API: MapPublicIpOnLaunch).
            const withAddress = instances.filter(
                (i) => i.inputs.associatePublicIpAddress === true || (i.inputs.associatePublicIpAddress === undefined && subnets.every((s) => s.inputs.mapPublicIpOnLaunch === true)),
            );
            const nlbs = of("aws:lb/loadBalancer:LoadBalancer");
            expect(nlbs, "one NLB per stack").toHaveLength(1);
            // An internet-facing NLB holds one public address per AZ, i.e. per subnet it is given.
            const nlbAddresses = nlbs.filter((n) => n.inputs.internal === false && n.inputs.loadBalancerType === "network").reduce((sum, n) => sum + (n.inputs.subnets as unknown[]).length, 0);
            const volumes = instances.map((i) => i.inputs.rootBlockDevice as { volumeType: string; volumeSize: number });
            expect(
                volumes.every((v) => v.volumeType === "gp3"),
                "every root volume is gp3",
            ).toBe(true);
            const rates = stackHourlyPrice("eu-west-1", "c6i.4xlarge", instances.length) as StackRates;
            expect(rates.publicIpv4).toBe(withAddress.length + nlbAddresses);
            expect(rates.ebsGiB).toBe(volumes.reduce((sum, v) => sum + v.volumeSize, 0));
            // And the plan counts the same instances from the stack file.
            const plan = buildPlan(args(["--modes", mode, "--operator-cidr", "203.0.113.7/32"]), projectDir, "b", "/out", new Set());
            expect(plan.stacks[0].instances).toBe(instances.length);
        });
    }
});

describe("parseCompareArgs", () => {
    const base = ["--modes", "vxlan,calico", "--operator-cidr", "203.0.113.7/32"];

    it("reads modes, the operator's CIDR and the defaults", () => {
        const parsed = args(base);
        expect(parsed).toMatchObject({
            command: "compare",
            modes: ["vxlan", "calico"],
            operatorCidr: "203.0.113.7/32",
            parallel: 20,
            keep: false,
            yes: false,
            schedule: "concurrent",
            spot: false,
            updateExisting: false,
            dryRun: false,
        });
        expect([parsed.upTimeoutMinutes, parsed.measureTimeoutMinutes, parsed.destroyTimeoutMinutes]).toEqual([30, 60, 20]);
    });

    it("--modes all is every mode of the mode table", () => {
        expect(args(["--modes", "all", "--operator-cidr", "198.51.100.0/24"]).modes).toEqual([...networkModes]);
    });

    it("takes the CIDR from OPERATOR_CIDR when the flag is absent", () => {
        expect(args(["--modes", "vxlan"], { OPERATOR_CIDR: "198.51.100.0/24" }).operatorCidr).toBe("198.51.100.0/24");
    });

    const rejected: [string, string[], RegExp][] = [
        ["an unknown mode", ["--modes", "vxlan,weave", "--operator-cidr", "203.0.113.7/32"], /--modes: "weave" is not allowed; use all, or a comma-separated list of vxlan, host-gw/],
        ["a repeated mode", ["--modes", "vxlan,vxlan", "--operator-cidr", "203.0.113.7/32"], /--modes: "vxlan" is listed twice/],
        ["no --modes", ["--operator-cidr", "203.0.113.7/32"], /--modes is required/],
        ["no operator CIDR", ["--modes", "vxlan"], /--operator-cidr \(or env OPERATOR_CIDR\) is required/],
        ["a bare address", ["--modes", "vxlan", "--operator-cidr", "203.0.113.7"], /--operator-cidr: "203.0.113.7" is an address, not a range \(did you mean 203.0.113.7\/32\?\)/],
        ["host bits", ["--modes", "vxlan", "--operator-cidr", "203.0.113.7/24"], /--operator-cidr: "203.0.113.7\/24" has host bits set/],
        ["--parallel 0", [...base, "--parallel", "0"], /--parallel: "0" must be a whole number from 1 to 20/],
        ["--parallel 1.5", [...base, "--parallel", "1.5"], /--parallel: "1.5" must be a whole number/],
        ["--up-timeout abc", [...base, "--up-timeout", "abc"], /--up-timeout: "abc" must be a number from 1 to 1440/],
        ["a baseline not compared", [...base, "--baseline", "host-gw"], /--baseline: "host-gw" must be one of the compared modes: vxlan, calico/],
        ["--max-overhead-pct alone", [...base, "--max-overhead-pct", "10"], /--max-overhead-pct needs --baseline/],
        ["an unknown flag", [...base, "--force"], /Unknown option '--force'/],
        ["--cleanup with --modes", ["--cleanup", "--modes", "vxlan"], /--cleanup takes only --yes and --destroy-timeout; remove --modes/],
    ];
    for (const [what, argv, message] of rejected) {
        it(`rejects ${what}`, () => {
            expect(() => args(argv)).toThrow(UsageError);
            expect(() => args(argv)).toThrow(message);
        });
    }
});

describe("buildPlan and renderPlan", () => {
    it("reads every stack file: region, 3 × the default type (2 nodes + load generator), and which stacks exist", () => {
        const plan = buildPlan(args(["--modes", "all", "--operator-cidr", "203.0.113.7/32"]), projectDir, "file:///x", "/out", new Set(["calico"]));
        expect(plan.stacks.map((s) => [s.stack, s.region, s.instances, s.instanceType, s.existing])).toEqual(networkModes.map((m) => [m, "eu-west-1", 3, "c6i.4xlarge", m === "calico"]));
        const text = renderPlan(plan);
        const created = networkModes.length - 1;
        expect(text).toMatch(new RegExp(`Instances: ${created * 3} new \\(per stack: 2 k3s nodes \\+ 1 load generator\\), ${created} network load balancer\\(s\\)`));
        // 3 × $0.768 + $0.0252 + 4 × $0.005 + 120 GiB × $0.088 / 720 h = $2.364 per hour running.
        expect(text).toMatch(/calico +eu-west-1 +3 × c6i.4xlarge \+ 1 NLB +\$2\.36 +EXISTING: measured as it is \(no up, no config change\), left up/);
        expect(text).toMatch(/Existing stacks \(calico\) were not created by this command and are never destroyed by it/);
        expect(text).toMatch(new RegExp(`Teardown: the ${created} new stack\\(s\\) are destroyed at the end`));
    });

    it("prints the cost as unknown for a region without prices", () => {
        const dir = projectWith("vxlan", "config:\n  aws:region: sa-east-1\n  cni-compare:mode: vxlan\n");
        const text = renderPlan(buildPlan(args(["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32"]), dir, "b", "/out", new Set()));
        expect(text).toMatch(/vxlan +sa-east-1 +3 × c6i.4xlarge \+ 1 NLB +unknown/);
        expect(text).toMatch(/Estimated cost: unknown \(no prices for region sa-east-1/);
        expect(text).not.toMatch(/Estimated cost: ~\$/);
    });

    it("counts 2 instances when the stack turns the load generator off, and uses the stack's instance type", () => {
        const dir = projectWith("vxlan", "config:\n  aws:region: us-east-1\n  cni-compare:mode: vxlan\n  cni-compare:loadGenerator: false\n  cni-compare:instanceType: c7a.4xlarge\n");
        const plan = buildPlan(args(["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32"]), dir, "b", "/out", new Set());
        // us-east-1: 2 × $0.82112 + NLB $0.0225 + 3 addresses × $0.005 + 80 GiB × $0.08 / 720 h.
        expect(plan.stacks[0]).toMatchObject({
            instances: 2,
            instanceType: "c7a.4xlarge",
            price: { known: true, publicIpv4: 3, ebsGiB: 80, usdPerHour: expect.closeTo(1.64224 + 0.0225 + 0.015 + 0.0088889, 6) },
        });
    });

    it("rejects a stack file whose mode is not the stack's, and an invalid value, before anything runs", () => {
        const dir = projectWith("vxlan", "config:\n  aws:region: us-east-1\n  cni-compare:mode: calico\n");
        expect(() => buildPlan(args(["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32"]), dir, "b", "/out", new Set())).toThrow(
            /stacks\/Pulumi.vxlan.yaml: cni-compare:mode is "calico", expected vxlan/,
        );
        const bad = projectWith("vxlan", "config:\n  aws:region: us-east-1\n  cni-compare:mode: vxlan\n  cni-compare:instanceType: c5n.4xlarge\n");
        expect(() => buildPlan(args(["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32"]), bad, "b", "/out", new Set())).toThrow(
            /stacks\/Pulumi.vxlan.yaml: instanceType: "c5n.4xlarge" is not a 16 vCPU \/ 32 GiB type/,
        );
    });

    it("rejects a world-open operator CIDR with the program's own rule, naming the flag", () => {
        expect(() => buildPlan(args(["--modes", "vxlan", "--operator-cidr", "0.0.0.0/0"]), projectDir, "b", "/out", new Set())).toThrow(
            /--operator-cidr \(cni-compare:operatorCidr\): "0.0.0.0\/0" must have a prefix from \/8 to \/32/,
        );
    });

    it("plans waves from the vCPU quota: the rest wait, and --keep and --baseline are refused across waves", () => {
        const five = ["--modes", "vxlan,host-gw,calico,calico-ipip,calico-vxlan", "--operator-cidr", "203.0.113.7/32"];
        // 3 × 16-vCPU instances per stack (capacity.ts vcpusPerInstance): 48 vCPUs; 100 − 4 = 96 free → 2 at once.
        const quota = { limit: 100, inUse: 4, market: "on-demand" as const };
        const plan = buildPlan(args(five), projectDir, "b", "/out", new Set(), { quota });
        expect(plan.parallelism).toMatchObject({ waveSize: 2, waves: 3, vcpusPerStack: 48 });
        const text = renderPlan(plan);
        expect(text).toMatch(/vCPU quota L-1216C47A \(on-demand standard\): 100 vCPUs, 4 in use, 96 free; each stack needs 48: only 2 stack\(s\) fit at once, so the quota FORCES WAITING: 3 waves/);
        expect(text).toMatch(/3 wave\(s\) → ~58\.5 min wall/);
        expect(() => buildPlan(args([...five, "--keep"]), projectDir, "b", "/out", new Set(), { quota })).toThrow(/--keep: kept stacks hold their vCPUs/);
        expect(() => buildPlan(args([...five, "--baseline", "vxlan"]), projectDir, "b", "/out", new Set(), { quota })).toThrow(/--baseline vxlan: the quota splits the run into 3 waves/);
        expect(() => buildPlan(args(five), projectDir, "b", "/out", new Set(), { quota: { limit: 32, inUse: 0, market: "on-demand" } })).toThrow(
            /not even one stack fits\. Stop other instances or request a higher quota \(Service Quotas console, ec2 L-1216C47A\)/,
        );
        // Enough quota: one wave.
        expect(buildPlan(args(five), projectDir, "b", "/out", new Set(), { quota: { limit: 640, inUse: 0, market: "on-demand" } }).parallelism.waves).toBe(1);
    });
});

describe("the default five-mode plan (issue #11: ≤ 20 min wall, ≤ $5 on demand)", () => {
    const five = ["--modes", "vxlan,host-gw,calico,calico-ipip,calico-vxlan", "--operator-cidr", "203.0.113.7/32"];
    it("fits 20 minutes and $5 with the stack files as committed, and prints the arithmetic part by part", () => {
        const plan = buildPlan(args(five), projectDir, "b", "/out", new Set());
        const t = estimateTimeline(plan);
        expect(t.waves).toBe(1);
        // 15 runs × (5 s + 1 s warm-up + 2 s overhead) = 120 s per repetition, 3 repetitions, stacks concurrently.
        expect(t.runsPerRepetition).toBe(15);
        expect(t.measure).toBe(6);
        expect(t.typical).toBeLessThanOrEqual(20);
        // Per wave 7.5 min up (1 + 2 + Calico 3 + 1.5) + 2 pods + 6 measuring + 4 destroy = 19.5 min
        // = 0.325 h. Per stack (eu-west-1): 3 × $0.768 × 0.325 = $0.7488 instances + $0.0252 NLB
        // (1 started hour) + 4 × $0.005 × 0.325 = $0.0065 public IPv4 + 120 × $0.088 / 720 × 0.325
        // = $0.0047667 EBS = $0.7852667; × 5 = $3.93.
        expect(t.up).toBe(7.5);
        expect(t.perWave).toBe(19.5);
        const usd = estimateUsd(plan.stacks, t.perWave)!;
        expect(usd).toBeCloseTo(5 * 0.7852667, 6);
        expect(usd).toBeLessThanOrEqual(5);
        const text = renderPlan(plan);
        expect(text).toMatch(/instances +3 × c6i\.4xlarge × \$0\.768\/h × 0\.325 h = \$0\.7488/);
        expect(text).toMatch(/NLB +\$0\.0252\/h × 1 h \(every started hour is billed in full\) = \$0\.0252/);
        expect(text).toMatch(/public IPv4 +4 addresses \(3 instances \+ 1 NLB AZ\) × \$0\.005\/h × 0\.325 h = \$0\.0065/);
        expect(text).toMatch(/EBS gp3 +120 GiB \(3 × 40 GiB\) × \$0\.088\/GB-month ÷ 720 h × 0\.325 h = \$0\.0048/);
        expect(text).toMatch(/stack total = \$0\.7853/);
        expect(text).toMatch(/on demand: 5 × \$0\.7853 = ~\$3\.93/);
        expect(text).not.toMatch(/excludes EBS/);
        expect(text).toMatch(
            /up of the wave's slowest stack: instances to SSH 1 min \+ k3s server and agent side by side 2 min \+ pod network \(calico\) 3 min \+ guestbook Deployments side by side 1\.5 min = 7\.5 min/,
        );
        expect(text).toMatch(/per wave: ups 7\.5 min .* = 19\.5 min/);
        expect(text).toMatch(/Timeline \(step times are ESTIMATES/);
    });

    it("the up is the wave's slowest stack: the pod network's rollout by plugin, none for flannel (built into k3s)", () => {
        const up = (modes: string) => estimateTimeline(buildPlan(args(["--modes", modes, "--operator-cidr", "203.0.113.7/32"]), projectDir, "b", "/out", new Set())).up;
        expect(up("vxlan,host-gw")).toBe(1 + 2 + 0 + 1.5);
        expect(up("vxlan,cilium")).toBe(1 + 2 + 2 + 1.5);
        expect(up("vxlan,cilium,calico")).toBe(1 + 2 + 3 + 1.5);
    });

    it("round-robin measuring costs the sum of the stacks' times, not the longest", () => {
        const plan = buildPlan(args([...five, "--schedule", "round-robin"]), projectDir, "b", "/out", new Set());
        expect(estimateTimeline(plan).measure).toBe(5 * 6);
    });

    it("--spot with a live price: the instances at the Spot price, the NLB, addresses and volumes at theirs", () => {
        const spotPrices = new Map([["eu-west-1/c6i.4xlarge", 0.3]]);
        const plan = buildPlan(args([...five, "--spot"]), projectDir, "b", "/out", new Set(), { spotPrices, spotPriceBasis: "live (test)" });
        const t = estimateTimeline(plan);
        expect(t.perWave).toBe(19.5);
        const spot = estimateUsd(plan.stacks, t.perWave, "spot")!;
        // 5 × (3 × $0.3 × 0.325 h + $0.0252 + $0.0065 + $0.0047667) = 5 × $0.3289667 = $1.64
        expect(spot).toBeCloseTo(5 * 0.3289667, 6);
        // On demand $3.9263 − $1.6448 = $2.28 less.
        expect(renderPlan(plan)).toMatch(/Spot: instances at the current Spot price \(live \(test\)\), NLB \+ public IPv4 \+ EBS as on demand \(\$0\.18\) = ~\$1\.64; \$2\.28 less than on demand/);
    });

    it("--spot without a price says the break-even Spot price from the fixed costs instead of inventing one", () => {
        const plan = buildPlan(args([...five, "--spot"]), projectDir, "b", "/out", new Set(), { spotPriceBasis: "--dry-run calls nothing" });
        // Fixed: 5 × ($0.0252 + $0.0065 + $0.0047667) = $0.1823; instances 5 × $0.7488 = $3.744;
        // ($2 − $0.1823) / $3.744 = 0.4855 → 48 %.
        expect(renderPlan(plan)).toMatch(
            /Spot: price not known \(--dry-run calls nothing\); the instances are \$3\.74 of the on-demand figure and NLB \+ public IPv4 \+ EBS \$0\.18 whatever the market, so with --spot the run stays under \$2\.00 when the Spot price is at most 48 % of on-demand/,
        );
    });
});
