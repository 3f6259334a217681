/**
 * The policy pack as the Pulumi CLI runs it, without the CLI: Pulumi's own policy runner
 * (@pulumi/pulumi/cmd/run-policy-pack, which `pulumi preview --policy-pack policy` starts through
 * its nodejs analyzer) loads policy/ with ts-node, serves the analyzer gRPC API on loopback, and
 * we call it the way the engine does. This proves the pack loads (package.json version, the
 * TypeScript imports from components/), reads the stack's mode from the config the engine
 * passes (PULUMI_CONFIG), and reports violations under the rule names.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { projectDir } from "../render/evaluate";
import { snapshotRoot } from "../render/snapshotFolder";
import { resourceRules, stackRules } from "./rules";

/* eslint-disable @typescript-eslint/no-require-imports -- generated protobuf modules ship without types */
const grpc = require("@grpc/grpc-js");
const analyzerGrpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
const analyzerProto = require("@pulumi/pulumi/proto/analyzer_pb");
const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
const { Empty } = require("google-protobuf/google/protobuf/empty_pb");

/** What the engine sends for a value it cannot know during preview (@pulumi/policy proxy.js). */
const unknownString = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** How the engine marks a secret value on the wire (@pulumi/pulumi runtime/rpc.ts specialSigKey, specialSecretSig). */
const secretSigKey = "4dabf18193072939515e22adb298388d";
const secretSig = "1b47061264138c4ac30d75fd1eb44270";
/** ts-node type-checks the pack on start: allow for a slow CI machine. */
const startTimeoutMs = 90_000;

let pack: ChildProcess | undefined;
let client: any;
let stderr = "";

interface Resource {
    type: string;
    name: string;
    inputs: Record<string, any>;
}

function committedResources(stack: string): Resource[] {
    return parse(readFileSync(path.join(snapshotRoot, stack, "resources.yaml"), "utf8")).resources;
}

const urnOf = (stack: string, r: Resource) => `urn:pulumi:${stack}::cni-compare::${r.type}::${r.name}`;

function call<T>(method: string, request: unknown): Promise<T> {
    return new Promise((resolve, reject) => client[method](request, (err: Error | null, response: T) => (err ? reject(err) : resolve(response))));
}

async function analyze(stack: string, resource: Resource): Promise<{ policy: string; message: string }[]> {
    const request = new analyzerProto.AnalyzeRequest();
    request.setType(resource.type);
    request.setName(resource.name);
    request.setUrn(urnOf(stack, resource));
    request.setProperties(Struct.fromJavaScript(resource.inputs));
    request.setOptions(new analyzerProto.AnalyzerResourceOptions()); // the engine always sends options
    const response: any = await call("analyze", request);
    return response.getDiagnosticsList().map((d: any) => ({ policy: d.getPolicyname(), message: d.getMessage() }));
}

async function analyzeStack(stack: string, resources: Resource[]): Promise<{ policy: string; message: string; urn: string }[]> {
    const request = new analyzerProto.AnalyzeStackRequest();
    request.setResourcesList(
        resources.map((r) => {
            const resource = new analyzerProto.AnalyzerResource();
            resource.setType(r.type);
            resource.setName(r.name);
            resource.setUrn(urnOf(stack, r));
            resource.setProperties(Struct.fromJavaScript(r.inputs));
            resource.setOptions(new analyzerProto.AnalyzerResourceOptions());
            return resource;
        }),
    );
    const response: any = await call("analyzeStack", request);
    return response.getDiagnosticsList().map((d: any) => ({ policy: d.getPolicyname(), message: d.getMessage(), urn: d.getUrn() }));
}

beforeAll(async () => {
    const runner = path.join(projectDir, "node_modules", "@pulumi", "pulumi", "cmd", "run-policy-pack");
    // As the engine starts it: cwd = the pack folder, the engine address, ".", the stack's config and
    // name. The stack name is not a mode, so the mode can only come from the config.
    pack = spawn(process.execPath, [runner, "127.0.0.1:0", "."], {
        cwd: path.join(projectDir, "policy"),
        env: { ...process.env, PULUMI_CONFIG: JSON.stringify({ "cni-compare:mode": "host-gw" }), PULUMI_NODEJS_STACK: "dev", PULUMI_NODEJS_PROJECT: "cni-compare" },
        stdio: ["ignore", "pipe", "pipe"],
    });
    pack.stderr!.on("data", (chunk) => {
        stderr += chunk;
    });
    const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`policy pack did not start within ${startTimeoutMs / 1000} s:\n${stderr}`)), startTimeoutMs);
        let stdout = "";
        pack!.stdout!.on("data", (chunk) => {
            stdout += chunk;
            const match = /^(\d+)\s*$/m.exec(stdout);
            if (match) {
                clearTimeout(timer);
                resolve(Number(match[1]));
            }
        });
        pack!.on("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`policy pack exited with ${code} before serving:\n${stderr}`));
        });
    });
    client = new analyzerGrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}, startTimeoutMs + 10_000);

afterAll(() => {
    client?.close();
    pack?.kill("SIGTERM");
});

describe("the policy pack under Pulumi's policy runner", () => {
    it("registers every rule, mandatory", async () => {
        const info: any = await call("getAnalyzerInfo", new Empty());
        expect(info.getName()).toBe("cni-compare");
        expect(info.getVersion()).toBe("0.1.0");
        const policies = info
            .getPoliciesList()
            .map((p: any) => p.getName())
            .sort();
        expect(policies).toEqual([...resourceRules, ...stackRules].map((r) => r.name).sort());
        // EnforcementLevel.MANDATORY in pulumi's analyzer.proto.
        expect(new Set(info.getPoliciesList().map((p: any) => p.getEnforcementlevel()))).toEqual(new Set([analyzerProto.EnforcementLevel.MANDATORY]));
    });

    it("passes the committed host-gw stack, resource by resource and as a whole", async () => {
        const resources = committedResources("host-gw");
        const diagnostics = (await Promise.all(resources.map((r) => analyze("host-gw", r)))).flat();
        expect(diagnostics).toEqual([]);
        expect(await analyzeStack("host-gw", resources)).toEqual([]);
    });

    it("rejects SSH from the internet and an instance without IMDSv2", async () => {
        const resources = committedResources("host-gw");
        const ssh = structuredClone(resources.find((r) => r.name === "cni-host-gw-nodes-ssh-operator")!);
        ssh.inputs.cidrIpv4 = "0.0.0.0/0";
        expect(await analyze("host-gw", ssh)).toEqual([
            {
                policy: "no-admin-ports-from-internet",
                message: expect.stringContaining("cni-host-gw-nodes-ssh-operator: opens SSH (TCP 22) to 0.0.0.0/0"),
            },
        ]);
        const server = structuredClone(resources.find((r) => r.name === "cni-host-gw-server")!);
        server.inputs.metadataOptions.httpTokens = "optional";
        expect(await analyze("host-gw", server)).toEqual([{ policy: "imdsv2-required", message: expect.stringContaining('httpTokens is "optional"') }]);
    });

    it("reports an AWS input limit the provider does not check, as `pulumi preview` would", async () => {
        const resources = committedResources("host-gw");
        const rule = structuredClone(resources.find((r) => r.name === "cni-host-gw-nodes-node-tcp-6443")!);
        rule.inputs.description = "k3s agent to the server's Kubernetes API"; // what every `up` once failed on
        expect(await analyze("host-gw", rule)).toEqual([
            {
                policy: "aws-input-constraints",
                message: expect.stringContaining(`description "k3s agent to the server's Kubernetes API" contains "'"`),
            },
        ]);
    });

    it("checks the node pair and the mode's source/dest check against the stack's config", async () => {
        const resources = structuredClone(committedResources("host-gw"));
        const agent = resources.find((r) => r.name === "cni-host-gw-agent")!;
        agent.inputs.sourceDestCheck = true;
        agent.inputs.instanceType = "c5.4xlarge";
        const diagnostics = await analyzeStack("host-gw", resources);
        expect(diagnostics.map((d) => d.policy).sort()).toEqual(["comparison-node-pair", "source-dest-check-per-mode"]);
        const pair = diagnostics.find((d) => d.policy === "comparison-node-pair")!;
        expect(pair.message).toContain('instanceType differs between the nodes (server "c6i.4xlarge", agent "c5.4xlarge")');
        const sourceDest = diagnostics.find((d) => d.policy === "source-dest-check-per-mode")!;
        expect(sourceDest.message).toContain("mode host-gw routes pod IPs natively");
        expect(sourceDest.urn).toBe(urnOf("host-gw", agent));
    });

    it("treats values unknown during preview as unknown, and reads through secrets, without violations or errors", async () => {
        const resources = structuredClone(committedResources("host-gw"));
        const agent = resources.find((r) => r.name === "cni-host-gw-agent")!;
        agent.inputs.subnetId = unknownString;
        agent.inputs.metadataOptions = unknownString;
        // Secret inputs arrive wrapped (the engine's secret signature); the snapshot masked them.
        for (const r of resources) {
            for (const key of Object.keys(r.inputs ?? {})) {
                if (r.inputs[key] === "[secret]") r.inputs[key] = { [secretSigKey]: secretSig, value: `secret ${key} of ${r.name}` };
            }
        }
        expect(resources.filter((r) => JSON.stringify(r.inputs).includes(secretSig)).length).toBeGreaterThan(3);
        expect(await analyzeStack("host-gw", resources)).toEqual([]);
        expect(await analyze("host-gw", agent)).toEqual([]);
    });
});
