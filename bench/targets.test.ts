/**
 * A targets file is input from outside: its addresses, URLs, namespace names and cgroup folder
 * end up in commands that run as root on nodes and in namespaces (issue 19 defect 7), and a
 * misspelt optional field must not vanish (issue 20 row 7). Every such file is refused with
 * exit 2, naming the field and the value, before anything runs; what the project itself writes
 * (the lab's targets, a stack's outputs) passes the same schema.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { exitCodeOfMain, exitCodes } from "../core/cli";
import { cpuAccountingRoot, cpuGroupOf } from "../lab/cpuGroup";
import { labTarget } from "../lab/lab";
import { labModes } from "../lab/modes";
import { labTopology } from "../lab/topology";
import { main } from "./cli";
import { targetSchema } from "./targets";

const projectDir = path.resolve(__dirname, "..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-targets-"));
const canary = path.join(dir, "canary");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A lab target with every optional field that reaches a shell present and valid. */
const good = {
    name: "lab-a",
    platform: "lab",
    mode: "vxlan",
    endpoint: "http://10.201.0.1:30080",
    nodePort: 30080,
    nodes: [
        { name: "h1", privateIp: "10.201.0.1", publicIp: "10.201.0.1" },
        { name: "h2", privateIp: "10.201.0.2", publicIp: "10.201.0.2" },
    ],
    podCidr: "10.202.0.0/16",
    mtu: { node: 1500, pod: 1450 },
    loadGenerator: { publicIp: "10.201.0.3", privateIp: "10.201.0.3" },
    lab: {
        hosts: [
            { netns: "cnilab-h1", ip: "10.201.0.1" },
            { netns: "cnilab-h2", ip: "10.201.0.2" },
        ],
        pods: [{ netns: "cnilab-p1", ip: "10.202.1.2", node: 0 }],
        loadGenerator: { netns: "cnilab-lg", ip: "10.201.0.3" },
        frontendUrls: ["http://10.201.0.1:30080"],
        loadBalancerUrl: "http://10.201.0.1:8080",
        cpuCgroup: { dir: "/sys/fs/cgroup/cnilab-1a2b3c-vxlan", version: 2 },
    },
};

/** Every field of a target whose value reaches a shell (commands.ts, lab-session.ts, aws-k3s.ts). */
const shellFields: readonly (readonly (string | number)[])[] = [
    ["endpoint"],
    ["nodes", 0, "privateIp"],
    ["nodes", 1, "publicIp"],
    ["loadGenerator", "privateIp"],
    ["loadGenerator", "publicIp"],
    ["podCidr"],
    ["lab", "hosts", 0, "netns"],
    ["lab", "hosts", 1, "ip"],
    ["lab", "pods", 0, "netns"],
    ["lab", "pods", 0, "ip"],
    ["lab", "loadGenerator", "netns"],
    ["lab", "loadGenerator", "ip"],
    ["lab", "frontendUrls", 0],
    ["lab", "loadBalancerUrl"],
    ["lab", "cpuCgroup", "dir"],
];

/** Appended to the field's good value: each would run `touch` if it reached a shell unquoted. */
const payloads = [`$(touch ${canary})`, `\`touch ${canary}\``, `; touch ${canary}`, `' ; touch ${canary} ; '`, `\ntouch ${canary}`, ` && touch ${canary}`, ` | touch ${canary}`];

function withValue(target: unknown, at: readonly (string | number)[], value: unknown): unknown {
    const copy = structuredClone(target) as Record<string | number, unknown>;
    let node = copy;
    for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
    node[at[at.length - 1]] = value;
    return copy;
}
function valueAt(target: unknown, at: readonly (string | number)[]): unknown {
    return at.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], target);
}
const fieldPath = (at: readonly (string | number)[]) => at.reduce<string>((text, key) => (typeof key === "number" ? `${text}[${key}]` : `${text}.${key}`), "[0]");
let n = 0;
function write(targets: unknown): string {
    const file = path.join(dir, `targets-${n++}.json`);
    fs.writeFileSync(file, JSON.stringify(targets));
    return file;
}

describe("a hostile targets file", () => {
    const errors: string[] = [];
    beforeEach(() => {
        errors.length = 0;
        vi.spyOn(console, "error").mockImplementation((m: string) => void errors.push(m));
        vi.spyOn(console, "log").mockImplementation(() => undefined);
    });
    afterEach(() => vi.restoreAllMocks());
    // No wiring reaches Pulumi: a targets file alone.
    // --out in the test's folder: a file the schema wrongly let through must not leave results in the project.
    const bench = (file: string) => exitCodeOfMain("bench", () => main(["--targets", file, "--repetitions", "1", "--out", path.join(dir, "out")], { readStackOutputs: async () => ({}) }));

    it("the good file is accepted as it is (the control)", () => {
        expect(targetSchema.parse(good)).toEqual(good);
    });

    it.each(shellFields.map((at) => [fieldPath(at), at] as const))("%s: every injection is refused with exit 2 naming the field and the value; nothing runs", async (name, at) => {
        for (const payload of payloads) {
            const value = `${valueAt(good, at) as string}${payload}`;
            expect(await bench(write([withValue(good, at, value)])), `${name} = ${JSON.stringify(value)}`).toBe(exitCodes.usage);
            expect(errors.at(-1)).toContain(`${name}: ${JSON.stringify(value)} is not`);
            expect(fs.existsSync(canary)).toBe(false);
        }
    });

    it("numbers must be numbers: a port or node index given as text is refused", async () => {
        for (const at of [["nodePort"], ["sshPort"], ["lab", "pods", 0, "node"], ["mtu", "pod"]] as const) {
            expect(await bench(write([withValue(good, at, `1; touch ${canary}`)]))).toBe(exitCodes.usage);
            expect(errors.at(-1)).toMatch(new RegExp(`${fieldPath(at).replace(/[[\].]/g, "\\$&")}: Invalid input: expected number, received string`));
        }
        expect(fs.existsSync(canary)).toBe(false);
    });

    it("the real CLI (npm run bench -- --targets FILE) exits 2 and names the fields, with payloads in all of them at once", () => {
        let hostile: unknown = good;
        shellFields.forEach((at, i) => (hostile = withValue(hostile, at, `${valueAt(good, at) as string}${payloads[i % payloads.length]}`)));
        const file = write([hostile]);
        const r = spawnSync(process.execPath, ["--import", "tsx", "bench/cli.ts", "--targets", file, "--repetitions", "1", "--out", path.join(dir, "out")], {
            cwd: projectDir,
            env: { ...process.env, PULUMI_BACKEND_URL: "" },
            encoding: "utf8",
            timeout: 60_000,
        });
        expect(r.status, r.stdout + r.stderr).toBe(exitCodes.usage);
        expect(r.stderr).toContain(`bench: --targets ${file}: \n  [0].endpoint: `);
        // The first ten issues are listed, then the count of the rest.
        for (const at of shellFields.slice(0, 10)) expect(r.stderr).toContain(`  ${fieldPath(at)}: ${JSON.stringify(valueAt(hostile, at))} is not`);
        expect(r.stderr).toContain(`… and ${shellFields.length - 10} more`);
        expect(r.stdout).toBe("");
        expect(fs.existsSync(canary)).toBe(false);
        expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
    });
});

describe("unknown fields in a targets file", () => {
    it.each([
        [
            ["extraField"],
            "[0].extraField: unknown field; allowed: name, platform, mode, endpoint, nodePort, frontends, nodes, podCidr, mtu, versions, kubeconfig, kubeconfigPath, sshUser, sshPrivateKey, sshPrivateKeyPath, sshPort, loadGenerator, serviceProxy, services, lab",
        ],
        [["lab", "bogus"], "[0].lab.bogus: unknown field; allowed: hosts, pods, loadGenerator, frontendUrls, loadBalancerUrl, cpuCgroup, serviceProxy"],
        // Misspelt optional fields: without the strict schema these vanished and the defaults ran.
        [["sshport"], "[0].sshport: unknown field; allowed: name, platform,"],
        [["nodes", 0, "privateIP"], "[0].nodes[0].privateIP: unknown field; allowed: name, role, instanceId, privateIp, publicIp, instanceType, availabilityZone, sshHostKey"],
        [["lab", "pods", 0, "nodes"], "[0].lab.pods[0].nodes: unknown field; allowed: netns, ip, node"],
        [["lab", "cpuCgroup", "versions"], "[0].lab.cpuCgroup.versions: unknown field; allowed: dir, version"],
        [["mtu", "nic"], "[0].mtu.nic: unknown field; allowed: node, pod"],
    ] as const)("%j is refused naming its path and the allowed fields", async (at, message) => {
        const errors: string[] = [];
        vi.spyOn(console, "error").mockImplementation((m: string) => void errors.push(m));
        try {
            const code = await exitCodeOfMain("bench", () => main(["--targets", write([withValue(good, at, 1)]), "--dry-run"], { readStackOutputs: async () => ({}) }));
            expect(code).toBe(exitCodes.usage);
            expect(errors.at(-1)).toContain(message);
        } finally {
            vi.restoreAllMocks();
        }
    });
});

describe("what the project writes passes the strict schema", () => {
    it("the lab's target of every mode (lab/lab.ts labTarget), with and without its CPU group", () => {
        const root = cpuAccountingRoot() ?? { dir: "/sys/fs/cgroup", version: 2 as const };
        for (const mode of labModes) {
            const topology = labTopology(mode, "1a2b3c");
            // As lab/lab.ts builds a mode: the group seen through the lab process's root (cpuGroupOf).
            for (const target of [labTarget(topology), labTarget(topology, cpuGroupOf(root, "1a2b3c", mode))]) {
                const parsed = targetSchema.safeParse(JSON.parse(JSON.stringify(target)));
                expect(parsed.error?.issues, mode).toBeUndefined();
            }
        }
    });
});
