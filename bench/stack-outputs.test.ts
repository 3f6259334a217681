import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { networkModes } from "../components/modes";
import { describe, expect, it, vi } from "vitest";
import { awsHttpEndpoints } from "./sessions/aws-k3s";
import { main, parseBenchCommand } from "./cli";
import { exitCodeOfMain } from "../core/cli";
import { UsageError } from "../core/errors";
import { GroupPulumiCommand, PulumiCliMissingError } from "../core/pulumi";
import { loadTargetsFile, readStackOutputs, targetFromStackOutputs } from "./stack-outputs";
import { readFakePulumiLog, writeFakePulumi } from "../test/compare/fake-pulumi";
import { stackOutputsSchema, type StackOutputs } from "./targets";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

/** What a stack exports (StackOutputs), as the Automation API's outputs() values would be. */
const fakeOutputs: StackOutputs = {
    mode: "calico-ipip",
    endpoint: "http://cni-calico-ipip-nlb-0123.elb.eu-west-1.amazonaws.com",
    nodePort: 30080,
    frontends: { port: 30080, attachment: "pod-network", replicas: 10, mtu: 8981 },
    nodes: [
        {
            name: "calico-ipip-server",
            role: "server",
            instanceId: "i-01",
            privateIp: "10.0.1.10",
            publicIp: "203.0.113.10",
            instanceType: "c6i.4xlarge",
            availabilityZone: "eu-west-1a",
            sshHostKey: "ssh-ed25519 AAAAserver root@cni-calico-ipip-server-host-key",
        },
        {
            name: "calico-ipip-agent",
            role: "agent",
            instanceId: "i-02",
            privateIp: "10.0.1.11",
            publicIp: "203.0.113.11",
            instanceType: "c6i.4xlarge",
            availabilityZone: "eu-west-1a",
            sshHostKey: "ssh-ed25519 AAAAagent root@cni-calico-ipip-agent-host-key",
        },
    ],
    podCidr: "10.42.0.0/16",
    mtu: { node: 9001, pod: 8981 },
    versions: { k3s: "v1.31.4+k3s1", cni: "calico", cniVersion: "v3.29.1", ubuntu: "24.04" },
    kubeconfig: "apiVersion: v1\nkind: Config\n",
    sshUser: "ubuntu",
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n",
    loadGenerator: { publicIp: "203.0.113.20", privateIp: "10.0.1.20", sshHostKey: "ssh-ed25519 AAAAloadgen root@cni-calico-ipip-loadgen-host-key" },
};

/** The committed snapshots (`npm run render`): index.ts's outputs for every stack file, evaluated
 * under Pulumi mocks; render/snapshot.test.ts fails when they are stale, so they are index.ts's. */
const snapshotsDir = path.join(__dirname, "..", "snapshots");
function snapshotOutputs(): [string, Record<string, unknown>][] {
    return fs
        .readdirSync(snapshotsDir)
        .filter((stack) => fs.existsSync(path.join(snapshotsDir, stack, "outputs.yaml")))
        .map((stack) => [stack, parseYaml(fs.readFileSync(path.join(snapshotsDir, stack, "outputs.yaml"), "utf8")) as Record<string, unknown>]);
}

/** Keys of `value` that the schema does not declare (zod would drop them silently), as paths. */
function undeclaredKeys(schema: z.ZodType, value: unknown, at = ""): string[] {
    if (schema instanceof z.ZodOptional) return value === undefined ? [] : undeclaredKeys(schema.unwrap() as z.ZodType, value, at);
    if (schema instanceof z.ZodArray && Array.isArray(value)) return value.flatMap((v, i) => undeclaredKeys(schema.element as z.ZodType, v, `${at}[${i}]`));
    if (schema instanceof z.ZodObject && typeof value === "object" && value !== null) {
        const shape = schema.shape as Record<string, z.ZodType>;
        return Object.entries(value).flatMap(([k, v]) => (k in shape ? undeclaredKeys(shape[k], v, at ? `${at}.${k}` : k) : [at ? `${at}.${k}` : k]));
    }
    return [];
}

describe("stack outputs → Target", () => {
    it("maps every output, names the target after the stack, platform aws-k3s", () => {
        const t = targetFromStackOutputs("calico-ipip", fakeOutputs as unknown as Record<string, unknown>);
        expect(t).toEqual({ name: "calico-ipip", platform: "aws-k3s", ...fakeOutputs });
        // The load generator is inside the VPC: NodePort via the node's private address.
        expect(awsHttpEndpoints(t)).toEqual({ loadBalancer: fakeOutputs.endpoint, nodePort: "http://10.0.1.10:30080" });
    });

    it("keeps in step with index.ts: every stack's rendered outputs parse, and the schema declares every key they hold", () => {
        const stacks = snapshotOutputs();
        // The check itself finds a key the schema lacks, at any depth.
        const [, vxlan] = stacks.find(([stack]) => stack === "vxlan")!;
        expect(undeclaredKeys(stackOutputsSchema, { ...vxlan, extra: 1, frontends: { ...(vxlan.frontends as object), workers: 4 } })).toEqual(["frontends.workers", "extra"]);
        // One stack per mode, plus variants of a mode (stacks/Pulumi.vxlan-nftables.yaml).
        expect(stacks.map(([stack]) => stack).filter((stack) => (networkModes as readonly string[]).includes(stack))).toEqual([...networkModes].sort());
        for (const [stack, outputs] of stacks) {
            expect(undeclaredKeys(stackOutputsSchema, outputs), `snapshots/${stack}/outputs.yaml has outputs bench/targets.ts does not declare`).toEqual([]);
            const t = targetFromStackOutputs(stack, outputs);
            // What the runner needs to pin SSH host keys and label the HTTP path arrives intact.
            expect(t.nodes.map((n) => n.sshHostKey)).toEqual((outputs.nodes as { sshHostKey: string }[]).map((n) => n.sshHostKey));
            expect(t.frontends, stack).toEqual(outputs.frontends);
            expect(t.frontends!.port, `${stack}: nodePort is the frontend port`).toBe(t.nodePort);
        }
    });

    it("baselines: the node URL goes straight to the frontend port (host or published), no NodePort", () => {
        for (const [stack, outputs] of snapshotOutputs().filter(([stack]) => stack === "host" || stack === "bridge")) {
            const t = targetFromStackOutputs(stack, outputs);
            expect(t.frontends!.attachment).toBe(stack === "host" ? "host-network" : "published-ports");
            expect(awsHttpEndpoints(t).nodePort).toBe(`http://${t.nodes[0].privateIp}:${t.frontends!.port}`);
        }
    });

    it("names the stack and the key when an output is missing or wrong", () => {
        const { kubeconfig: _k, ...noKubeconfig } = fakeOutputs;
        expect(() => targetFromStackOutputs("s1", noKubeconfig)).toThrow('stack "s1" outputs: kubeconfig: Invalid input: expected string, received undefined');
        expect(() => targetFromStackOutputs("s1", { ...fakeOutputs, mode: "weave" })).toThrow(new RegExp(`mode: Invalid option: expected one of ${networkModes.map((m) => `"${m}"`).join("\\|")}`));
        expect(() => targetFromStackOutputs("s1", { ...fakeOutputs, nodePort: "30080" })).toThrow(/nodePort: Invalid input: expected number, received string/);
        const { frontends: _f, ...noFrontends } = fakeOutputs;
        expect(() => targetFromStackOutputs("s1", noFrontends)).toThrow(/frontends: Invalid input: expected object, received undefined/);
        expect(() => targetFromStackOutputs("s1", { ...fakeOutputs, frontends: { ...fakeOutputs.frontends, attachment: "overlay" } })).toThrow(
            /frontends\.attachment: Invalid option: expected one of "pod-network"\|"host-network"\|"published-ports"/,
        );
    });
});

describe("bench <stack> with the Pulumi CLI (a fake `pulumi` that picks its backend as the real one does)", () => {
    const projectRoot = path.resolve(__dirname, "..");
    /** A sandbox: HOME (compare's default folder lives there) and PULUMI_HOME (the login) in a temp folder. */
    function sandbox(outputs: Record<string, unknown> = { ...fakeOutputs }) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-fake-pulumi-"));
        const bin = writeFakePulumi(path.join(dir, "fake"), { upMs: 1, destroyMs: 1, upOnSigint: "stop", upOnSigterm: "stop", exitAfterSignalMs: 1, outputs });
        const saved = { HOME: process.env.HOME, PULUMI_HOME: process.env.PULUMI_HOME, PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL, PULUMI_ACCESS_TOKEN: process.env.PULUMI_ACCESS_TOKEN };
        // readStackOutputs' CLI processes inherit this process's environment, as `npm run bench`'s do.
        process.env.HOME = path.join(dir, "home");
        process.env.PULUMI_HOME = path.join(dir, "home", ".pulumi");
        delete process.env.PULUMI_BACKEND_URL;
        delete process.env.PULUMI_ACCESS_TOKEN;
        fs.mkdirSync(process.env.HOME, { recursive: true });
        /** A command typed by hand in the project folder, as in the README. */
        const pulumi = (args: string[], env: Record<string, string> = {}) => {
            const r = spawnSync(path.join(bin, "pulumi"), args, { cwd: projectRoot, env: { ...process.env, ...env }, encoding: "utf8" });
            expect(r.status, `pulumi ${args.join(" ")}: ${r.stderr}`).toBe(0);
        };
        const read = (env: Record<string, string | undefined> = {}) => readStackOutputs("vxlan", { env, command: new GroupPulumiCommand(path.join(bin, "pulumi")) });
        const restore = () => {
            for (const [k, v] of Object.entries(saved)) {
                if (v === undefined) delete process.env[k];
                else process.env[k] = v;
            }
            fs.rmSync(dir, { recursive: true, force: true });
        };
        return { dir, bin, pulumi, read, restore };
    }

    it("the README's manual path: `pulumi login` to a local folder, `stack init`, `up`, then `npm run bench -- vxlan` finds the stack", async () => {
        const s = sandbox();
        try {
            // README: `pulumi login --local` (file://~); here a file:// folder of the sandbox, so the
            // test never writes to this account's real ~/.pulumi.
            s.pulumi(["login", `file://${path.join(s.dir, "state")}`]);
            s.pulumi(["stack", "init", "vxlan"]);
            s.pulumi(["config", "set", "operatorCidr", "203.0.113.7/32", "--stack", "vxlan"]);
            s.pulumi(["up", "--stack", "vxlan", "--yes"]);
            // `npm run bench -- vxlan` in the same shell: PULUMI_BACKEND_URL is not set.
            expect(await s.read()).toEqual(fakeOutputs);
        } finally {
            s.restore();
        }
    });

    it("a stack `npm run compare -- --keep` left in its own folder is found too (no login needed)", async () => {
        const s = sandbox();
        try {
            const compareBackend = `file://${path.join(process.env.HOME!, ".pulumi-cni-compare")}`;
            s.pulumi(["stack", "init", "vxlan"], { PULUMI_BACKEND_URL: compareBackend });
            s.pulumi(["up", "--stack", "vxlan", "--yes"], { PULUMI_BACKEND_URL: compareBackend });
            expect(await s.read()).toEqual(fakeOutputs);
        } finally {
            s.restore();
        }
    });

    it("PULUMI_BACKEND_URL, when set, is the only place looked in: a stack of the login is not taken instead", async () => {
        const s = sandbox();
        try {
            s.pulumi(["login", `file://${path.join(s.dir, "state")}`]);
            s.pulumi(["stack", "init", "vxlan"]);
            s.pulumi(["up", "--stack", "vxlan", "--yes"]);
            const elsewhere = `file://${path.join(s.dir, "elsewhere")}`;
            const read = s.read({ PULUMI_BACKEND_URL: elsewhere });
            await expect(read).rejects.toThrow(UsageError);
            await expect(read).rejects.toThrow(
                new RegExp(`stack "vxlan": not found in the backend ${elsewhere} \\(PULUMI_BACKEND_URL\\): pulumi stack select ended with exit 255:\\n  error: no stack named 'vxlan' found`),
            );
        } finally {
            s.restore();
        }
    });

    it("in neither place: says where it looked, with each CLI's own line (not logged in, no stack)", async () => {
        const s = sandbox();
        try {
            const read = s.read();
            await expect(read).rejects.toThrow(UsageError);
            const message = await read.catch((e: Error) => e.message);
            expect(message).toMatch(/stack "vxlan": not found in any place bench looks:/);
            expect(message).toMatch(
                /the backend of your `pulumi login` \(PULUMI_BACKEND_URL is not set\): pulumi stack select ended with exit 255:\n  error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions/,
            );
            expect(message).toMatch(
                /the backend file:\/\/.*\.pulumi-cni-compare \(where `npm run compare` keeps its stacks\): pulumi stack select ended with exit 255:\n  error: no stack named 'vxlan' found/,
            );
            expect(message).toMatch(/set PULUMI_BACKEND_URL to it/);
            expect(
                readFakePulumiLog(path.join(s.dir, "fake"))
                    .filter((e) => e.event === "start")
                    .map((e) => e.command),
            ).toEqual(["stack select", "stack select"]);
        } finally {
            s.restore();
        }
    });

    it("in both places with different outputs: refused, the operator chooses with PULUMI_BACKEND_URL; the same state seen twice is one stack", async () => {
        const s = sandbox();
        try {
            const compareBackend = `file://${path.join(process.env.HOME!, ".pulumi-cni-compare")}`;
            s.pulumi(["stack", "init", "vxlan"], { PULUMI_BACKEND_URL: compareBackend });
            s.pulumi(["up", "--stack", "vxlan", "--yes"], { PULUMI_BACKEND_URL: compareBackend });
            // A login that IS compare's folder: one stack, read twice, the same.
            s.pulumi(["login", compareBackend]);
            expect(await s.read()).toEqual(fakeOutputs);
            // A login elsewhere holding another stack of the same name, never brought up: no outputs,
            // unlike compare's. Which one to measure is not bench's guess.
            s.pulumi(["login", `file://${path.join(s.dir, "state")}`]);
            s.pulumi(["stack", "init", "vxlan"]);
            const read = s.read();
            await expect(read).rejects.toThrow(UsageError);
            await expect(read).rejects.toThrow(
                /stack "vxlan" exists in the backend of your `pulumi login` .* and in the backend file:\/\/.*\.pulumi-cni-compare .*with different outputs: set PULUMI_BACKEND_URL/,
            );
        } finally {
            s.restore();
        }
    });

    it("the fake refuses what the CLI refuses: PULUMI_BACKEND_URL wins over the login, an empty one does not count", () => {
        const s = sandbox();
        try {
            s.pulumi(["login", `file://${path.join(s.dir, "state")}`]);
            s.pulumi(["stack", "init", "a"], { PULUMI_BACKEND_URL: `file://${path.join(s.dir, "env")}` });
            s.pulumi(["stack", "init", "b"], { PULUMI_BACKEND_URL: "" });
            expect(fs.readdirSync(path.join(s.dir, "env", ".pulumi", "stacks", "cni-compare"))).toEqual(["a.json"]);
            expect(fs.readdirSync(path.join(s.dir, "state", ".pulumi", "stacks", "cni-compare"))).toEqual(["b.json"]);
        } finally {
            s.restore();
        }
    });
});

describe("bench <stack> without the Pulumi CLI", () => {
    it("says how to install it, or to pass --targets, before starting anything", async () => {
        const read = readStackOutputs("vxlan", { env: { PATH: path.dirname(process.execPath) } });
        await expect(read).rejects.toThrow(PulumiCliMissingError);
        await expect(read).rejects.toThrow(/"pulumi" is not on PATH; install the Pulumi CLI \(https:\/\/www\.pulumi\.com\/docs\/iac\/download-install\/\).*--targets <file\.json>/);
    });
});

describe("targets files", () => {
    it("reads a Target[] and names the entry and the field that is wrong", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-targets-"));
        let n = 0;
        const write = (data: unknown) => {
            const file = path.join(dir, `targets-${n++}.json`);
            fs.writeFileSync(file, JSON.stringify(data));
            return file;
        };
        try {
            const lab = {
                name: "lab-vxlan",
                platform: "lab",
                mode: "vxlan",
                nodePort: 30080,
                nodes: [],
                podCidr: "10.42.0.0/16",
                mtu: { node: 1500, pod: 1450 },
                lab: { hosts: [], pods: [], loadGenerator: { netns: "lg", ip: "10.0.0.3" }, frontendUrls: [] },
            };
            expect(loadTargetsFile(write([lab]))).toEqual([lab]);
            expect(() => loadTargetsFile(write([{ ...lab, platform: "gke" }]))).toThrow(/: \[0\]\.platform: Invalid option: expected one of "aws-k3s"\|"lab"/);
            expect(() => loadTargetsFile(write([{ ...lab, lab: undefined }]))).toThrow(/\[0\]\.lab: platform "lab" needs the lab layout/);
            expect(() => loadTargetsFile(write([lab, { ...lab, mtu: { node: "1500", pod: 1450 } }]))).toThrow(/\[1\]\.mtu\.node: Invalid input: expected number, received string/);
            expect(() => loadTargetsFile(write({ targets: [] }))).toThrow(/expected array, received object/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("command line", () => {
    it("maps flags to BenchOptions", () => {
        const cmd = parseBenchCommand([
            "vxlan",
            "host-gw",
            "--baseline",
            "host-gw",
            "--max-overhead-pct",
            "10",
            "--repetitions",
            "5",
            "--measurements",
            "iperf3,latency",
            "--scaling-pods",
            "2,4",
            "--out",
            "/tmp/r",
        ]);
        expect(cmd.command).toBe("run");
        expect(cmd.stacks).toEqual(["vxlan", "host-gw"]);
        expect(cmd.options).toMatchObject({ outDir: "/tmp/r", baseline: "host-gw", maxOverheadPct: 10, repetitions: 5, measurements: ["iperf3", "latency"], scalingPods: [2, 4] });
        expect(parseBenchCommand(["report", "results/x"])).toMatchObject({ command: "report", folder: "results/x" });
        expect(parseBenchCommand(["report", "results/x", "--baseline", "lab-host"])).toMatchObject({ command: "report", folder: "results/x", options: { baseline: "lab-host" } });
    });

    it("rejects bad flags with the flag's name and value", () => {
        expect(() => parseBenchCommand(["vxlan", "--repetitions", "three"])).toThrow('--repetitions: "three" must be a whole number from 1 to 100');
        expect(() => parseBenchCommand([])).toThrow(/no targets/);
        expect(() => parseBenchCommand(["vxlan", "--bogus"])).toThrow(/bogus/);
        // One name for one thing across CLIs (core/cli.ts sharedOptions): the old bench spelling is gone.
        expect(() => parseBenchCommand(["vxlan", "--max-overhead", "10"])).toThrow(/Unknown option '--max-overhead'/);
        expect(() => parseBenchCommand(["vxlan", "--schedule", "parallel"])).toThrow('--schedule: "parallel" is not allowed; use one of concurrent, round-robin');
        expect(parseBenchCommand(["vxlan", "--schedule", "round-robin"]).options.schedule).toBe("round-robin");
    });
});

describe("bench CLI exit codes", () => {
    it("2 for bad usage and bad options, 0 for an offline re-render of a saved run", async () => {
        const errors: string[] = [];
        vi.spyOn(console, "error").mockImplementation((m: string) => void errors.push(m));
        vi.spyOn(console, "log").mockImplementation(() => undefined);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-cli-"));
        try {
            const wiring = { readStackOutputs: async () => ({}) };
            const run = (argv: string[]) => exitCodeOfMain("bench", () => main(argv, wiring));
            expect(await run(["vxlan", "--repetitions", "x"])).toBe(2);
            expect(errors.at(-1)).toMatch(/--repetitions: "x" must be a whole number/);
            expect(await run(["vxlan"]), "a stack with wrong outputs is bad input").toBe(2);
            expect(errors.at(-1)).toMatch(/stack "vxlan" outputs/);
            const lab = { name: "lab-a", platform: "lab", mode: "vxlan", nodePort: 1, nodes: [], podCidr: "10.0.0.0/16", mtu: { node: 1500, pod: 1450 }, lab: {} };
            fs.writeFileSync(path.join(dir, "t.json"), JSON.stringify([lab]));
            expect(await run(["--targets", path.join(dir, "t.json"), "--baseline", "nope", "--dry-run"])).toBe(2);
            expect(errors.at(-1)).toMatch(/\[0\]\.lab\.hosts: Invalid input: expected array/);
            fs.writeFileSync(path.join(dir, "t.json"), JSON.stringify([{ ...lab, lab: { hosts: [], pods: [], loadGenerator: { netns: "lg", ip: "10.0.0.3" }, frontendUrls: [] } }]));
            expect(await run(["--targets", path.join(dir, "t.json"), "--baseline", "nope", "--dry-run"])).toBe(2);
            expect(errors.at(-1)).toMatch(/^bench: --baseline: "nope" is not one of the targets \(lab-a\)/);
            // A saved run (the sample report's summary.json) re-renders offline.
            fs.copyFileSync(path.join(__dirname, "..", "docs", "sample-report", "summary.json"), path.join(dir, "summary.json"));
            expect(await run(["report", dir])).toBe(0);
            expect(fs.readFileSync(path.join(dir, "report.md"), "utf8")).toContain("Loopback sample — not a network comparison");
            // --baseline re-renders against another target of the run; it is checked against the run's targets.
            expect(await run(["report", dir, "--baseline", "loopback-a"])).toBe(0);
            expect(fs.readFileSync(path.join(dir, "report.md"), "utf8")).toContain("Baseline: **loopback-a** (chosen when rendering with `--baseline loopback-a`; the run recorded loopback-b)");
            expect(await run(["report", dir, "--baseline", "lab-host"])).toBe(2);
            expect(errors.at(-1)).toContain(`bench: --baseline: "lab-host" is not a target of the run in ${path.join(dir, "summary.json")}; allowed: loopback-a, loopback-b`);
            expect(await run(["report", dir, "--repetitions", "3"])).toBe(2);
            expect(errors.at(-1)).toContain("bench: report takes only --baseline; remove --repetitions");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
            vi.restoreAllMocks();
        }
    });
});
