/**
 * From stack names and targets files to `Target`s. The Pulumi Automation API (which needs the
 * Pulumi CLI) is isolated in `readStackOutputs`; the mapping is the pure `targetFromStackOutputs`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isNetworkMode, networkModes } from "../components/modes";
import type { Target } from "./targets";

/** The project folder (holds Pulumi.yaml): the Automation API's workDir. */
export const projectDir = path.resolve(__dirname, "..");

/** Output values of a stack, secrets included (plain values, the Automation API's `.value`). */
export type OutputValues = Readonly<Record<string, unknown>>;

/** Reads a stack's outputs with the Automation API (needs the Pulumi CLI and the state backend). */
export async function readStackOutputs(stackName: string, workDir: string = projectDir): Promise<OutputValues> {
    let automation: typeof import("@pulumi/pulumi/automation");
    try {
        automation = await import("@pulumi/pulumi/automation");
    } catch (err) {
        throw new Error(`stack "${stackName}": cannot load the Pulumi Automation API: ${(err as Error).message}`);
    }
    try {
        const stack = await automation.LocalWorkspace.selectStack({ stackName, workDir });
        const outputs = await stack.outputs();
        return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
    } catch (err) {
        throw new Error(
            `stack "${stackName}": cannot read its outputs with the Pulumi Automation API in ${workDir} (${automationErrorReason((err as Error).message)}). ` +
                "It needs the Pulumi CLI on PATH and a logged-in backend; without them pass --targets <file.json>.",
        );
    }
}

/** The telling line of an Automation API error ("code: -2 … stderr: …spawn pulumi ENOENT"). */
export function automationErrorReason(message: string): string {
    if (/spawn pulumi ENOENT/.test(message)) return "the Pulumi CLI is not installed: spawn pulumi ENOENT";
    const stderr = /stderr:\s*([^\n]+)/.exec(message)?.[1]?.trim();
    return stderr || message.split("\n").find((l) => l.trim())?.trim() || "unknown error";
}

function need<T>(where: string, key: string, value: unknown, check: (v: unknown) => boolean, allowed: string): T {
    if (!check(value)) throw new Error(`${where}: "${key}" is ${JSON.stringify(value) ?? "missing"}; expected ${allowed}`);
    return value as T;
}

const isString = (v: unknown) => typeof v === "string" && v.length > 0;
const isPort = (v: unknown) => Number.isInteger(v) && (v as number) > 0 && (v as number) < 65536;
const isMtu = (v: unknown) => typeof v === "object" && v !== null && Number.isInteger((v as any).node) && Number.isInteger((v as any).pod);

/** A stack's outputs (StackOutputs in targets.ts) as a Target named after the stack. */
export function targetFromStackOutputs(stackName: string, outputs: OutputValues): Target {
    const where = `stack "${stackName}" outputs`;
    const mode = need<string>(where, "mode", outputs.mode, (v) => typeof v === "string" && isNetworkMode(v), `one of ${networkModes.join(", ")}`);
    const nodes = need<Target["nodes"]>(where, "nodes", outputs.nodes, (v) => Array.isArray(v) && v.length >= 2, "a list of at least 2 nodes");
    return {
        name: stackName,
        platform: "aws-k3s",
        mode,
        endpoint: need<string>(where, "endpoint", outputs.endpoint, isString, "the load balancer URL"),
        nodePort: need<number>(where, "nodePort", outputs.nodePort, isPort, "a port number"),
        nodes,
        podCidr: need<string>(where, "podCidr", outputs.podCidr, isString, "a CIDR"),
        mtu: need<Target["mtu"]>(where, "mtu", outputs.mtu, isMtu, "{ node, pod } integers"),
        versions: outputs.versions as Target["versions"],
        kubeconfig: need<string>(where, "kubeconfig", outputs.kubeconfig, isString, "the kubeconfig text (secret)"),
        sshUser: need<string>(where, "sshUser", outputs.sshUser, isString, "the login user"),
        sshPrivateKey: outputs.sshPrivateKey as string | undefined,
        loadGenerator: outputs.loadGenerator as Target["loadGenerator"],
    };
}

/** Reads a targets JSON file (`Target[]`), checking what every platform needs. */
export function loadTargetsFile(file: string): Target[] {
    let data: unknown;
    try {
        data = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new Error(`--targets ${file}: cannot read it as JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(data)) throw new Error(`--targets ${file}: expected a JSON array of targets, got ${typeof data}`);
    return data.map((t, i) => {
        const where = `--targets ${file}, entry ${i}`;
        need<string>(where, "name", t?.name, isString, "a name");
        need<string>(where, "platform", t.platform, (v) => v === "aws-k3s" || v === "lab", `"aws-k3s" or "lab"`);
        need<string>(where, "mode", t.mode, isString, "the network mode");
        need<number>(where, "nodePort", t.nodePort, isPort, "a port number");
        need<unknown[]>(where, "nodes", t.nodes, Array.isArray, "a list of nodes");
        need<string>(where, "podCidr", t.podCidr, isString, "a CIDR");
        need<object>(where, "mtu", t.mtu, isMtu, "{ node, pod } integers");
        if (t.platform === "lab") need<object>(where, "lab", t.lab, (v) => typeof v === "object" && v !== null, "the lab layout (hosts, pods, loadGenerator, frontendUrls)");
        return t as Target;
    });
}
