/**
 * The committed snapshots/ must be what the program renders now: every pull request then shows
 * its infrastructure diff in the changed files, without cloud credentials. The stack
 * evaluations (each its own process, two at a time) are shared by every test in this file.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { runAsRoot } from "../components/nodeScripts";
import { mockKubeconfig, stackNames, type Evaluation } from "./evaluate";
import { stackMode } from "../components/project";
import { UsageError } from "../core/errors";
import { main, parseRenderArgs, staleMessage } from "./cli";
import { generatedNotice, maskPaths, nodeScript, remoteCommandType, renderSnapshot, scriptFileName, secretMask, shortUrn, sortedKeys } from "./snapshot";
import { evaluateMany, evaluateStacks, readTree, renderTree, snapshotRoot, treeDiff, writeTree, type SnapshotTree } from "./snapshotFolder";

const stacks = stackNames();
/** The deliberate change the staleness tests make: another NodePort for the vxlan stack. */
const changedStack = "vxlan";
const changedNodePort = "30100";

let evaluations: Map<string, Evaluation>;
let changed: Evaluation;
let rendered: SnapshotTree;
const tempDirs: string[] = [];

function tempDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "render-test-"));
    tempDirs.push(dir);
    return dir;
}

/** Serves the evaluations made once in beforeAll, so the CLI tests spawn no process. */
function cached(replace: Evaluation | undefined = undefined) {
    return async (stack: string): Promise<Evaluation> => (replace?.stack === stack ? replace : evaluations.get(stack)!);
}

beforeAll(async () => {
    // Five stacks and the variant in one pool of two: three rounds of two processes.
    const all = await evaluateMany([...stacks.map((stack) => ({ stack })), { stack: changedStack, overrides: { nodePort: changedNodePort } }]);
    evaluations = new Map(stacks.map((stack, index) => [stack, all[index]]));
    changed = all[stacks.length];
    rendered = renderTree(evaluations.values());
});

afterAll(() => {
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe("the committed snapshot", () => {
    it("is what the program renders now (if not: run `npm run render`, review the diff, commit snapshots/)", () => {
        for (const [stack, evaluation] of evaluations) expect(evaluation.error, `stack ${stack}`).toBeUndefined();
        const diff = treeDiff(readTree(snapshotRoot), rendered, "snapshots");
        if (diff !== "") throw new Error(staleMessage(snapshotRoot, diff));
        expect(diff).toBe("");
    });

    it("has one folder per stack file, each with resources, outputs, manifests and the node scripts", () => {
        const folders = [...new Set([...readTree(snapshotRoot).keys()].map((file) => file.split("/")[0]))].sort();
        expect(folders).toEqual(stacks);
        for (const [stack, evaluation] of evaluations) {
            const files = [...rendered.keys()].filter((file) => file.startsWith(`${stack}/`)).map((file) => file.slice(stack.length + 1));
            const commands = evaluation.resources.filter((r) => r.type === remoteCommandType).map((r) => scriptFileName(r.name));
            expect(commands.length, stack).toBeGreaterThanOrEqual(5);
            expect(files.sort(), stack).toEqual(["manifests.yaml", "outputs.yaml", "resources.yaml", ...commands].sort());
        }
    });
});

describe("a change to the program", () => {
    it("makes the committed snapshot stale, and the diff names the change in resources, manifests and outputs", () => {
        const variant = renderTree([...stacks.map((s) => (s === changedStack ? changed : evaluations.get(s)!))]);
        const diff = treeDiff(readTree(snapshotRoot), variant, "snapshots");
        const changedFiles = [...diff.matchAll(/^\+\+\+ b\/snapshots\/(\S+)/gm)].map((m) => m[1]).sort();
        expect(changedFiles).toEqual([`${changedStack}/manifests.yaml`, `${changedStack}/outputs.yaml`, `${changedStack}/resources.yaml`]);
        // The frontend Service, the target group, the health check and the security-group rules.
        expect(diff).toMatch(/^-\s+nodePort: 30099$/m);
        expect(diff).toMatch(/^\+\s+nodePort: 30100$/m);
        expect(diff).toMatch(/^\+\s+port: "30100"$/m);
        expect(diff).toMatch(/^\+\s+fromPort: 30100$/m);
        expect(diff).toMatch(/^\+\s+cni-compare:nodePort: "30100"$/m);
        expect(diff).not.toMatch(/^\+\+\+ b\/snapshots\/(?!vxlan\/)/m);
        // Each hunk names the resource it is in, like git's function context.
        expect(diff).toMatch(/^@@ -\d+,\d+ \+\d+,\d+ @@ frontend \(kubernetes:core\/v1:Service\)$/m);
        expect(diff).toMatch(/^@@ -\d+,\d+ \+\d+,\d+ @@ cni-vxlan-tg \(aws:lb\/targetGroup:TargetGroup\)$/m);
        expect(diff).toMatch(/^@@ -\d+,\d+ \+\d+,\d+ @@ nodePort$/m);
    });

    it("`render --check` exits 1 with that diff; `render` rewrites the folder; then `--check` passes", async () => {
        const out = tempDir();
        writeTree(out, rendered);
        fs.mkdirSync(path.join(out, "removed-stack"));
        fs.writeFileSync(path.join(out, "removed-stack", "resources.yaml"), `# Resources of stack removed-stack\n${generatedNotice}\nstack: removed-stack\n`);
        const log: string[] = [];
        const deps = (replace?: Evaluation) => ({ stacks, evaluate: cached(replace), log: (line: string) => log.push(line) });

        expect(await main(["--check", "--out", out], deps(changed))).toBe(1);
        const printed = log.join("\n");
        expect(printed).toContain("is stale");
        expect(printed).toContain(`+++ b/${out}/vxlan/manifests.yaml`);
        expect(printed).toMatch(/^\+\s+nodePort: 30100$/m);
        expect(printed).toContain("--- a/" + out + "/removed-stack/resources.yaml");
        expect(printed).toContain("+++ /dev/null");
        // --check writes nothing.
        expect(readTree(out).get("vxlan/outputs.yaml")).toBe(rendered.get("vxlan/outputs.yaml"));

        log.length = 0;
        expect(await main(["--out", out], deps(changed))).toBe(0);
        expect(log).toContain(`wrote   ${out}/vxlan/resources.yaml`);
        expect(log).toContain(`deleted ${out}/removed-stack/resources.yaml`);
        expect(fs.existsSync(path.join(out, "removed-stack"))).toBe(false);
        expect(readTree(out).get("vxlan/outputs.yaml")).toContain("nodePort: 30100");

        log.length = 0;
        expect(await main(["--check", "--out", out], deps(changed))).toBe(0);
        expect(log.join("\n")).toMatch(new RegExp(`is up to date: ${stackNames().length} stacks, \\d+ files`));
        expect(await main(["--check", "--out", out], deps())).toBe(1);
    });
});

describe("what a reviewer reads", () => {
    it("no secret value appears anywhere in the snapshot; secret inputs and outputs read [secret]", () => {
        const secrets = ["mock-k3s-token", "BEGIN OPENSSH PRIVATE KEY", "client-key-data", mockKubeconfig.slice(0, 40)];
        for (const [file, text] of rendered) {
            for (const secret of secrets) expect(text.includes(secret), `${file} contains ${secret}`).toBe(false);
        }
        for (const stack of stacks) {
            const outputs = parseAllDocuments(rendered.get(`${stack}/outputs.yaml`)!)[0].toJS();
            expect(outputs.kubeconfig).toBe(secretMask);
            expect(outputs.sshPrivateKey).toBe(secretMask);
            const resources = parseAllDocuments(rendered.get(`${stack}/resources.yaml`)!)[0].toJS().resources as any[];
            const install = resources.find((r) => r.name === `cni-${stack}-server-install`);
            expect(install.inputs.stdin).toBe(secretMask);
            expect(install.inputs.connection).toBe(secretMask);
            expect(install.secretInputs).toEqual(["connection", "stdin"]);
            const provider = resources.find((r) => r.type === "pulumi:providers:kubernetes");
            expect(provider.inputs.kubeconfig).toBe(secretMask);
        }
    });

    it("every resource is listed once with its type, name, parent and inputs, in URN order", () => {
        for (const [stack, evaluation] of evaluations) {
            const listed = parseAllDocuments(rendered.get(`${stack}/resources.yaml`)!)[0].toJS().resources as any[];
            const expected = [...evaluation.resources].sort((a, b) => (a.urn < b.urn ? -1 : 1));
            expect(listed.map((r) => `${r.type}::${r.name}`)).toEqual(expected.map((r) => shortUrn(r.urn)));
            const server = listed.find((r) => r.name === `cni-${stack}-server`);
            expect(server.parent).toBe(`cni-compare:aws:NodePair::cni-${stack}`);
            expect(server.inputs.metadataOptions.httpTokens).toBe("required");
        }
    });

    it("the node scripts are the exact text the commands run as root", () => {
        for (const [stack, evaluation] of evaluations) {
            for (const command of evaluation.resources.filter((r) => r.type === remoteCommandType)) {
                const script = nodeScript(String(command.inputs.create));
                expect(runAsRoot(script), command.name).toBe(command.inputs.create);
                // Written with a final newline, so a diff never ends in "\ No newline at end of file".
                expect(rendered.get(`${stack}/${scriptFileName(command.name)}`), command.name).toBe(script.endsWith("\n") ? script : `${script}\n`);
            }
            expect(rendered.get(`${stack}/scripts/cni-${stack}-server-install.sh`)).toMatch(/^#!\/usr\/bin\/env bash\n/);
        }
    });

    it("manifests.yaml holds each Kubernetes resource's inputs as a YAML document", () => {
        for (const [stack, evaluation] of evaluations) {
            const documents = parseAllDocuments(rendered.get(`${stack}/manifests.yaml`)!).map((d) => d.toJS());
            const kubernetes = evaluation.resources.filter((r) => r.type.startsWith("kubernetes:")).sort((a, b) => (a.urn < b.urn ? -1 : 1));
            expect(documents).toEqual(kubernetes.map((r) => r.inputs));
            const kinds = documents
                .filter((d) => d.kind)
                .map((d) => `${d.kind}/${d.metadata.name}`)
                .sort();
            const mode = stackMode(stack);
            const calico = mode.startsWith("calico") ? ["Installation/default"] : [];
            // The Service-proxy axis's backend (issue 23); its Services are made in bulk on the server.
            const extraServices = ["Deployment/extra-service-backend", "Namespace/extra-services"];
            // The baselines (issue #14): one frontend per node, Redis at node addresses, no Service.
            const guestbook = ["host", "bridge"].includes(mode)
                ? ["DaemonSet/frontend", "Deployment/redis-follower", "Deployment/redis-leader"]
                : ["Deployment/frontend", "Deployment/redis-follower", "Deployment/redis-leader", "Service/frontend", "Service/redis-follower", "Service/redis-leader"];
            expect(kinds).toEqual([...guestbook, ...calico, ...extraServices, "Namespace/guestbook"].sort());
        }
    });

    it("the committed Cilium values ask for eBPF host routing: BPF masquerading on, host legacy routing not forced", () => {
        // Cilium 1.18: with IPv4 masquerading done by iptables (the chart's default, bpf.masquerade
        // false) the agent logs "BPF host routing requires enable-bpf-masquerade. Falling back to
        // legacy host routing" (daemon/cmd/kube_proxy_replacement.go, finishKubeProxyReplacementInit);
        // Documentation/operations/performance/tuning.rst "eBPF Host-Routing" lists eBPF
        // kube-proxy replacement and eBPF masquerading as its requirements.
        const ciliumStacks = stacks.filter((stack) => stack.startsWith("cilium"));
        expect(ciliumStacks).toEqual(["cilium", "cilium-native"]);
        for (const stack of ciliumStacks) {
            const committed = readTree(snapshotRoot).get(`${stack}/manifests.yaml`)!;
            const release = parseAllDocuments(committed)
                .map((d) => d.toJS())
                .find((d) => d.chart === "cilium");
            expect(release?.values, stack).toMatchObject({ kubeProxyReplacement: true, enableIPv4Masquerade: true, bpf: { masquerade: true } });
            expect(release.values.bpf.hostLegacyRouting, stack).toBeUndefined();
        }
    });

    it("the rendering does not depend on the order resources registered in", () => {
        const evaluation = evaluations.get("calico")!;
        const reversed = { ...evaluation, resources: [...evaluation.resources].reverse() };
        expect(renderSnapshot(reversed)).toEqual(renderSnapshot(evaluation));
    });
});

describe("building blocks", () => {
    it("maskPaths masks nested paths and array items and leaves the original alone", () => {
        const inputs = { a: { b: "secret", c: "plain" }, list: ["x", "secret"], d: "plain" };
        expect(maskPaths(inputs, ["a.b", "list.1"])).toEqual({ a: { b: secretMask, c: "plain" }, list: ["x", secretMask], d: "plain" });
        expect(inputs.a.b).toBe("secret");
        // A path that does not resolve masks the whole top-level input rather than risk a leak.
        expect(maskPaths(inputs, ["a.missing.deeper"])).toEqual({ a: secretMask, list: ["x", "secret"], d: "plain" });
    });

    it("nodeScript undoes runAsRoot exactly, quotes included", () => {
        const script = "#!/usr/bin/env bash\necho 'it'\\''s' \"$x\"\nawk '{print $1}'\n";
        expect(nodeScript(runAsRoot(script))).toBe(script);
        expect(nodeScript("uname -a")).toBe("uname -a");
    });

    it("shortUrn keeps the resource's own type and name", () => {
        expect(shortUrn("urn:pulumi:vxlan::cni-compare::cni-compare:aws:NodePair$aws:ec2/instance:Instance::cni-vxlan-server")).toBe("aws:ec2/instance:Instance::cni-vxlan-server");
        expect(shortUrn("not-a-urn")).toBe("not-a-urn");
    });

    it("sortedKeys orders object keys at every depth and keeps array order", () => {
        expect(JSON.stringify(sortedKeys({ b: 1, a: [{ z: 1, y: 2 }, 3] }))).toBe('{"a":[{"y":2,"z":1},3],"b":1}');
    });

    it("a program that failed under mocks is not rendered as an empty stack", () => {
        const failed = { ...evaluations.get("vxlan")!, error: 'Invalid configuration:\n  - mode: "weave" is not a network mode' };
        expect(() => renderSnapshot(failed)).toThrow(/stack vxlan: the program failed under mocks[^]*weave/);
    });

    it("render never writes into, or prunes, a folder that is not a snapshot", async () => {
        const dir = tempDir();
        fs.writeFileSync(path.join(dir, "notes.txt"), "mine\n");
        fs.mkdirSync(path.join(dir, "vxlan"));
        fs.writeFileSync(path.join(dir, "vxlan", "resources.yaml"), "hand-written\n");
        expect(() => writeTree(dir, rendered)).toThrow(/is not a snapshot folder: (notes\.txt|vxlan) was not written by `npm run render`/);
        const log: string[] = [];
        await expect(main(["--out", dir], { stacks, evaluate: cached(), log: (line) => log.push(line) })).rejects.toThrow(/not a snapshot folder/);
        expect(fs.readdirSync(dir).sort()).toEqual(["notes.txt", "vxlan"]);
        expect(fs.readFileSync(path.join(dir, "vxlan", "resources.yaml"), "utf8")).toBe("hand-written\n");
    });

    it("evaluations run two at a time and come back in the order asked", async () => {
        let running = 0;
        let peak = 0;
        const fake = async (stack: string, overrides: Record<string, string | null>) => {
            running++;
            peak = Math.max(peak, running);
            await new Promise((resolve) => setTimeout(resolve, stack.length)); // finish out of order
            running--;
            return { ...evaluations.get("vxlan")!, stack: `${stack}${overrides.nodePort ?? ""}` };
        };
        const names = ["calico-vxlan", "vxlan", "host-gw", "calico", "calico-ipip"];
        const byStack = await evaluateStacks(names, { nodePort: "1" }, fake);
        expect([...byStack.keys()]).toEqual(names);
        expect([...byStack.values()].map((e) => e.stack)).toEqual(names.map((n) => `${n}1`));
        expect(peak).toBe(2);
    });

    it("bad render flags name the flag", () => {
        expect(() => parseRenderArgs(["--chek"])).toThrow(UsageError);
        expect(() => parseRenderArgs(["--chek"])).toThrow(/--chek/);
        expect(() => parseRenderArgs(["--out", " "])).toThrow(/--out/);
        expect(parseRenderArgs(["--check", "--out", "x"])).toEqual({ command: "check", out: path.resolve("x") });
        expect(parseRenderArgs([]).out).toBe(snapshotRoot);
    });
});
