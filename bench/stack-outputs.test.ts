import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { awsHttpEndpoints } from "./aws-k3s";
import { main, parseCommandLine } from "./cli";
import { automationErrorReason, loadTargetsFile, targetFromStackOutputs } from "./stack-outputs";
import type { StackOutputs } from "./targets";

/** What a stack exports (StackOutputs), as the Automation API's outputs() values would be. */
const fakeOutputs: StackOutputs = {
    mode: "calico-ipip",
    endpoint: "http://cni-calico-ipip-nlb-0123.elb.eu-west-1.amazonaws.com",
    nodePort: 30080,
    nodes: [
        { name: "calico-ipip-server", role: "server", instanceId: "i-01", privateIp: "10.0.1.10", publicIp: "203.0.113.10", instanceType: "c6i.4xlarge", availabilityZone: "eu-west-1a" },
        { name: "calico-ipip-agent", role: "agent", instanceId: "i-02", privateIp: "10.0.1.11", publicIp: "203.0.113.11", instanceType: "c6i.4xlarge", availabilityZone: "eu-west-1a" },
    ],
    podCidr: "10.42.0.0/16",
    mtu: { node: 9001, pod: 8981 },
    versions: { k3s: "v1.31.4+k3s1", cni: "calico", cniVersion: "v3.29.1", ubuntu: "24.04" },
    kubeconfig: "apiVersion: v1\nkind: Config\n",
    sshUser: "ubuntu",
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n",
    loadGenerator: { publicIp: "203.0.113.20", privateIp: "10.0.1.20" },
};

describe("stack outputs → Target", () => {
    it("maps every output, names the target after the stack, platform aws-k3s", () => {
        const t = targetFromStackOutputs("calico-ipip", fakeOutputs as unknown as Record<string, unknown>);
        expect(t).toEqual({ name: "calico-ipip", platform: "aws-k3s", ...fakeOutputs });
        // The load generator is inside the VPC: NodePort via the node's private address.
        expect(awsHttpEndpoints(t)).toEqual({ loadBalancer: fakeOutputs.endpoint, nodePort: "http://10.0.1.10:30080" });
    });

    it("names the stack and the key when an output is missing or wrong", () => {
        const { kubeconfig: _k, ...noKubeconfig } = fakeOutputs;
        expect(() => targetFromStackOutputs("s1", noKubeconfig)).toThrow('stack "s1" outputs: "kubeconfig" is missing; expected the kubeconfig text (secret)');
        expect(() => targetFromStackOutputs("s1", { ...fakeOutputs, mode: "weave" })).toThrow(/"mode" is "weave"; expected one of vxlan, host-gw, calico, calico-ipip, calico-vxlan/);
        expect(() => targetFromStackOutputs("s1", { ...fakeOutputs, nodePort: "30080" })).toThrow(/"nodePort" is "30080"; expected a port number/);
    });
});

describe("the Automation API's errors", () => {
    it("are reduced to their reason (the real message without a Pulumi CLI, and a backend error)", () => {
        // Verbatim from LocalWorkspace.selectStack on this machine (no Pulumi CLI).
        const noCli = "code: -2\n stdout: \n stderr: Command failed with ENOENT: pulumi version\nspawn pulumi ENOENT\n err?: Error: Command failed with ENOENT: pulumi version\nspawn pulumi ENOENT\n";
        expect(automationErrorReason(noCli)).toBe("the Pulumi CLI is not installed: spawn pulumi ENOENT");
        expect(automationErrorReason("code: 255\n stdout: \n stderr: error: no stack named 'dev' found\n")).toBe("error: no stack named 'dev' found");
    });
});

describe("targets files", () => {
    const write = (data: unknown) => {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-targets-")), "targets.json");
        fs.writeFileSync(file, JSON.stringify(data));
        return file;
    };

    it("reads a Target[] and checks each entry", () => {
        const lab = { name: "lab-vxlan", platform: "lab", mode: "vxlan", nodePort: 30080, nodes: [], podCidr: "10.42.0.0/16", mtu: { node: 1500, pod: 1450 }, lab: { hosts: [], pods: [], loadGenerator: { netns: "lg", ip: "10.0.0.3" }, frontendUrls: [] } };
        expect(loadTargetsFile(write([lab]))).toEqual([lab]);
        expect(() => loadTargetsFile(write([{ ...lab, platform: "gke" }]))).toThrow(/entry 0: "platform" is "gke"; expected "aws-k3s" or "lab"/);
        expect(() => loadTargetsFile(write([{ ...lab, lab: undefined }]))).toThrow(/entry 0: "lab" is missing; expected the lab layout/);
        expect(() => loadTargetsFile(write({ targets: [] }))).toThrow(/expected a JSON array of targets/);
    });
});

describe("command line", () => {
    it("maps flags to BenchOptions", () => {
        const cmd = parseCommandLine(["vxlan", "host-gw", "--baseline", "host-gw", "--max-overhead", "10", "--repetitions", "5", "--measurements", "iperf3,latency", "--scaling-pods", "2,4", "--out", "/tmp/r"]);
        expect(cmd.command).toBe("run");
        expect(cmd.stacks).toEqual(["vxlan", "host-gw"]);
        expect(cmd.options).toMatchObject({ outDir: "/tmp/r", baseline: "host-gw", maxOverheadPct: 10, repetitions: 5, measurements: ["iperf3", "latency"], scalingPods: [2, 4] });
        expect(parseCommandLine(["report", "results/x"])).toMatchObject({ command: "report", folder: "results/x" });
    });

    it("rejects bad flags with the flag's name and value", () => {
        expect(() => parseCommandLine(["vxlan", "--repetitions", "three"])).toThrow('--repetitions: "three" is not a number');
        expect(() => parseCommandLine([])).toThrow(/no targets/);
        expect(() => parseCommandLine(["vxlan", "--bogus"])).toThrow(/bogus/);
    });
});

describe("bench CLI exit codes", () => {
    it("2 for bad usage and bad options, 0 for an offline re-render of a saved run", async () => {
        const errors: string[] = [];
        vi.spyOn(console, "error").mockImplementation((m: string) => void errors.push(m));
        vi.spyOn(console, "log").mockImplementation(() => undefined);
        try {
            expect(await main(["vxlan", "--repetitions", "x"])).toBe(2);
            expect(errors.at(-1)).toMatch(/--repetitions: "x" is not a number/);
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-cli-"));
            const lab = { name: "lab-a", platform: "lab", mode: "vxlan", nodePort: 1, nodes: [], podCidr: "10.0.0.0/16", mtu: { node: 1500, pod: 1450 }, lab: {} };
            fs.writeFileSync(path.join(dir, "t.json"), JSON.stringify([lab]));
            expect(await main(["--targets", path.join(dir, "t.json"), "--baseline", "nope", "--dry-run"])).toBe(2);
            expect(errors.at(-1)).toBe('bench: baseline: "nope" is not one of the targets (lab-a)');
            // A saved run (the sample report's summary.json) re-renders offline.
            fs.copyFileSync(path.join(__dirname, "..", "docs", "sample-report", "summary.json"), path.join(dir, "summary.json"));
            expect(await main(["report", dir])).toBe(0);
            expect(fs.readFileSync(path.join(dir, "report.md"), "utf8")).toContain("Loopback sample — not a network comparison");
            fs.rmSync(dir, { recursive: true, force: true });
        } finally {
            vi.restoreAllMocks();
        }
    });
});
