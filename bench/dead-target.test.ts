/**
 * Runs that cannot start, or are stopped: they fail fast, say why, and leave nothing running.
 */
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { InterruptedError } from "../core/errors";
import { requireAwsFields } from "./sessions/aws-k3s";
import { descendantProcesses } from "../test/descendants";
import { freeLoopbackPort } from "./sessions/loopback-guestbook";
import { runBenchmark } from "./run";
import { loopbackTarget, runLoopbackBenchmark } from "./sample";
import { readSummaryFile } from "./results/summary";
import type { Target } from "./targets";

const dirs: string[] = [];
const tmpOut = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "bench-dead-"));
    dirs.push(d);
    return d;
};
afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    expect(descendantProcesses()).toEqual([]);
});

const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } }).privateKey;

function awsTarget(sshPort: number): Target {
    return {
        name: "dead-stack",
        platform: "aws-k3s",
        mode: "vxlan",
        endpoint: "http://127.0.0.1:1",
        nodePort: 30080,
        nodes: [
            { name: "n1", publicIp: "127.0.0.1", privateIp: "127.0.0.1" },
            { name: "n2", publicIp: "127.0.0.1", privateIp: "127.0.0.1" },
        ],
        podCidr: "10.42.0.0/16",
        mtu: { node: 9001, pod: 8951 },
        kubeconfig: "apiVersion: v1\nkind: Config\n",
        sshUser: "ubuntu",
        sshPrivateKey: privateKey,
        sshPort,
        loadGenerator: { publicIp: "127.0.0.1", privateIp: "127.0.0.1" },
    };
}

describe("a dead target", () => {
    it("SSH to a closed port on 127.0.0.1 fails within seconds, naming the host, never the key", async () => {
        const port = await freeLoopbackPort(); // free = nothing listens there
        const started = Date.now();
        const outDir = path.join(tmpOut(), "results");
        const err: Error = await runBenchmark([awsTarget(port)], { outDir, repetitions: 1 }).then(
            () => {
                throw new Error("expected the run to fail");
            },
            (e) => e,
        );
        expect(Date.now() - started).toBeLessThan(5000);
        expect(err.message).toMatch(new RegExp(`SSH to ubuntu@127\\.0\\.0\\.1:${port} failed: .*ECONNREFUSED`));
        expect(err.message).not.toContain("PRIVATE KEY");
        expect(fs.existsSync(outDir), "no results folder before the first measurement").toBe(false);
    });

    it("a lab target whose network namespace does not exist fails with the namespace's name", async (ctx) => {
        if (process.getuid?.() !== 0) ctx.skip(); // `ip netns exec` needs root (CI runs as root)
        const missing = "cni-bench-no-such-netns";
        const target: Target = {
            ...loopbackTarget("lab-dead", "vxlan"),
            platform: "lab",
            lab: {
                hosts: [
                    { netns: missing, ip: "10.0.0.1" },
                    { netns: missing, ip: "10.0.0.2" },
                ],
                pods: [],
                loadGenerator: { netns: missing, ip: "10.0.0.3" },
                frontendUrls: ["http://10.0.0.1:30080"],
            },
        };
        const started = Date.now();
        const outDir = path.join(tmpOut(), "results");
        await expect(runBenchmark([target], { outDir, repetitions: 1 })).rejects.toThrow(new RegExp(`target "lab-dead": network namespace "${missing}" is not usable: Cannot open network namespace`));
        expect(Date.now() - started).toBeLessThan(5000);
        expect(fs.existsSync(outDir), "no results folder before the first measurement").toBe(false);
    });

    it("missing outputs are named before anything connects", () => {
        const { loadGenerator: _lg, ...noLoadGen } = awsTarget(22);
        expect(() => requireAwsFields(noLoadGen as Target)).toThrow(/target "dead-stack": loadGenerator\.publicIp is missing/);
        expect(() => requireAwsFields({ ...awsTarget(22), kubeconfig: undefined })).toThrow(/neither kubeconfig nor kubeconfigPath/);
        expect(() => requireAwsFields({ ...awsTarget(22), nodes: [{ name: "n1" }] })).toThrow(/nodes has 1 entries; 2 are needed/);
    });

    it("bad options name the option, the value and what is allowed", async () => {
        const t = [loopbackTarget("a", "vxlan")];
        await expect(runBenchmark(t, { outDir: tmpOut(), repetitions: 0 })).rejects.toThrow("repetitions: 0 is not allowed; use an integer ≥ 1");
        await expect(runBenchmark(t, { outDir: tmpOut(), baseline: "b" })).rejects.toThrow('baseline: "b" is not one of the targets (a)');
        await expect(runBenchmark(t, { outDir: tmpOut(), maxOverheadPct: 10 })).rejects.toThrow(/maxOverheadPct: needs a baseline/);
        await expect(runBenchmark(t, { outDir: tmpOut(), measurements: ["iperf"] })).rejects.toThrow(/measurements: "iperf" is not a measurement; allowed: http, guestbook, iperf3, latency, scaling/);
        await expect(runBenchmark(t, { outDir: tmpOut(), scalingPods: [3] })).rejects.toThrow(/scalingPods: 3 is not allowed; each count must be an even integer/);
        await expect(runBenchmark(t, { outDir: tmpOut(), cases: ["iperf3.pod"] })).rejects.toThrow(/cases: "iperf3.pod" is not a case/);
        const file = path.join(tmpOut(), "a-file");
        fs.writeFileSync(file, "");
        await expect(runBenchmark(t, { outDir: path.join(file, "results") })).rejects.toThrow(`outDir: "${path.join(file, "results")}" cannot be created or written: ${file} is not a folder`);
    });
});

describe("an interrupted run", () => {
    it("abort (what Ctrl-C does) stops the tools at once, writes what it has, and leaves nothing running", async () => {
        const controller = new AbortController();
        const outDir = tmpOut();
        const started = Date.now();
        const timer = setTimeout(() => controller.abort(), 1500);
        const err: Error = await runLoopbackBenchmark([loopbackTarget("a", "vxlan")], {
            outDir,
            repetitions: 1,
            durationSeconds: 30,
            warmupSeconds: 0,
            measurements: ["iperf3"],
            signal: controller.signal,
        }).then(
            () => {
                throw new Error("expected an abort");
            },
            (e) => e,
        );
        clearTimeout(timer);
        expect(err, "an abort is recognised by its class").toBeInstanceOf(InterruptedError);
        expect(Date.now() - started).toBeLessThan(8000); // not the 30 s the tool was asked to run
        const summary = readSummaryFile(path.join(outDir, "summary.json"));
        expect(summary.aborted).toBe(true);
        expect(fs.readFileSync(path.join(outDir, "report.md"), "utf8")).toContain("Interrupted run");
    });
});
