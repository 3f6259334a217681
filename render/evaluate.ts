/**
 * Evaluates the Pulumi program offline, under `pulumi.runtime.setMocks`, for one stack file:
 * config is merged the way the CLI does it (Pulumi.yaml defaults, then the stack file, then
 * overrides), the program is imported, and every resource it declares is recorded with its
 * type, name, parent, dependencies, deletedWith and inputs (secret inputs marked). The tests assert on this
 * record and `npm run render` snapshots it.
 *
 * Pulumi's runtime state is process-global, so one process evaluates one stack:
 * `evaluateStackInChild` runs this file as a child process and reads the JSON it prints.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { projectDir, readProject, readStackFile, stackFilePath } from "../components/project";

export { projectDir, stackNames } from "../components/project";

/** The operator CIDR the offline evaluations use (TEST-NET-3, documentation range). */
export const testOperatorCidr = "203.0.113.7/32";

export interface RecordedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    /** Parent URN; undefined for top-level resources. */
    readonly parent?: string;
    /** URNs named in dependsOn (explicit) and in the inputs' Output dependencies. */
    readonly dependencies: readonly string[];
    readonly custom: boolean;
    /** URN of the resource whose deletion makes this one's delete moot (the `deletedWith` option). */
    readonly deletedWith?: string;
    /** Former URNs the engine treats as this resource (the `aliases` option), so a rename or a new
     * parent updates the resource instead of replacing it. */
    readonly aliases?: readonly string[];
    /** Provider reference (`urn::id`) for custom resources with an explicit provider. */
    readonly provider?: string;
    readonly inputs: Record<string, unknown>;
    /** Dotted paths of inputs that were Pulumi secrets. */
    readonly secretInputs: readonly string[];
}

export interface Evaluation {
    readonly stack: string;
    readonly config: Record<string, string>;
    readonly resources: RecordedResource[];
    readonly outputs: Record<string, unknown>;
    /** Names of outputs that are Pulumi secrets. */
    readonly secretOutputs: string[];
    /** Set when the program threw (e.g. invalid config); resources then lists what was declared before. */
    readonly error?: string;
}

/**
 * Config as the CLI would hand it to the program: project defaults, the stack file, then
 * overrides. Override keys without a namespace belong to the project; `null` removes a key.
 */
export function stackConfig(stack: string, overrides: Record<string, string | null> = {}): Record<string, string> {
    const project = readProject();
    const stackFile = readStackFile(project, stack);
    if (!stackFile) throw new Error(`no stack file ${stackFilePath(project, stack)}`);
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(project.defaults)) config[`${project.name}:${key}`] = value;
    Object.assign(config, stackFile);
    config[`${project.name}:operatorCidr`] ??= testOperatorCidr;
    for (const [key, value] of Object.entries(overrides)) {
        const fullKey = key.includes(":") ? key : `${project.name}:${key}`;
        if (value === null) delete config[fullKey];
        else config[fullKey] = value;
    }
    return config;
}

const secretSigKey = "4dabf18193072939515e22adb298388d";
const secretSig = "1b47061264138c4ac30d75fd1eb44270";

/** Paths of values wrapped as secrets in a raw (serialized) property object. */
function secretPaths(value: unknown, at: string, found: string[]): string[] {
    if (value && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[secretSigKey] === secretSig) {
            found.push(at);
        } else {
            for (const [key, child] of Object.entries(record)) secretPaths(child, at ? `${at}.${key}` : key, found);
        }
    }
    return found;
}

/** The same object with secret wrappers replaced by their values (paths are kept separately). */
function unwrapSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[secretSigKey] === secretSig) return unwrapSecrets(record.value);
        return Object.fromEntries(Object.entries(record).map(([key, child]) => [key, unwrapSecrets(child)]));
    }
    return value;
}

/** Deterministic fake identifiers, so snapshots are stable. */
function fakeId(prefix: string, seed: string): string {
    let hash = 2166136261;
    for (const char of seed) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
    return `${prefix}-${hash.toString(16).padStart(8, "0")}`;
}

export const mockKubeconfig = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: TU9DSw==
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
users:
- user:
    client-certificate-data: TU9DSw==
    client-key-data: TU9DSw==
  name: default
`;

/** A host key line as sshd's key generation writes it, distinct per instance. */
export function mockHostKey(resourceName: string): string {
    return `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5${fakeId("", resourceName).replace(/^-/, "")} root@${resourceName}`;
}

/** What AWS and the other providers would compute, for the fields the program reads. */
function providerState(type: string, name: string, inputs: Record<string, any>, region: string): Record<string, unknown> {
    switch (type) {
        case "aws:ec2/instance:Instance": {
            const index = { server: 11, agent: 12 }[inputs.tags?.role as string] ?? 13;
            return {
                privateIp: `10.0.0.${index}`,
                publicIp: `198.51.100.${index}`,
                availabilityZone: `${region}a`,
                arn: `arn:aws:ec2:${region}:123456789012:instance/${fakeId("i", name)}`,
            };
        }
        case "aws:lb/loadBalancer:LoadBalancer":
            return { dnsName: `${name}-0123456789.elb.${region}.amazonaws.com`, arn: `arn:aws:elasticloadbalancing:${region}:123456789012:loadbalancer/net/${name}` };
        case "aws:lb/targetGroup:TargetGroup":
            return { arn: `arn:aws:elasticloadbalancing:${region}:123456789012:targetgroup/${name}` };
        case "aws:ec2/keyPair:KeyPair":
            return { keyName: fakeId("key", name) };
        case "aws:ec2/placementGroup:PlacementGroup":
            return { name: fakeId("pg", name) };
        case "random:index/randomPassword:RandomPassword":
            return { result: "mock-k3s-token-0123456789abcdef0123456789abcdef" };
        case "tls:index/privateKey:PrivateKey":
            return {
                privateKeyOpenssh: "-----BEGIN OPENSSH PRIVATE KEY-----\nbW9jaw==\n-----END OPENSSH PRIVATE KEY-----\n",
                publicKeyOpenssh: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockMockMockMockMockMockMockMockMockMockMock",
            };
        case "command:remote:Command": {
            const create = String(inputs.create ?? "");
            if (create.includes("/etc/rancher/k3s/k3s.yaml")) return { stdout: mockKubeconfig, stderr: "" };
            if (create.includes("ssh_host_ed25519_key.pub")) return { stdout: `${mockHostKey(name)}\n`, stderr: "" };
            return { stdout: "", stderr: "" };
        }
        default:
            return {};
    }
}

/**
 * A registration's aliases: URNs as given, or an alias spec's fields. Specs naming only a type are
 * left out: the provider SDKs add those to every resource of a renamed type (aws:lb's
 * elasticloadbalancingv2 types, Kubernetes' older API versions), and they say nothing of this program.
 */
function aliasesOf(req: any): string[] | undefined {
    const aliases: string[] = [];
    for (const alias of req.getAliasesList()) {
        if (alias.getUrn()) {
            aliases.push(alias.getUrn());
            continue;
        }
        const spec = alias.getSpec()?.toObject() ?? {};
        if (spec.name || spec.noparent || (spec.parenturn && spec.parenturn !== req.getParent())) aliases.push(`spec ${JSON.stringify(spec)}`);
    }
    return aliases.length > 0 ? aliases : undefined;
}

/** Evaluates the program in this process. Call once per process. */
export async function evaluateStack(stack: string, overrides: Record<string, string | null> = {}): Promise<Evaluation> {
    const project = readProject();
    const config = stackConfig(stack, overrides);
    const region = config["aws:region"] ?? "us-east-1";
    const resources: RecordedResource[] = [];

    // Record what the mock API drops: parent, dependencies and which inputs were secret.
    const original = MockMonitor.prototype.registerResource;
    MockMonitor.prototype.registerResource = function (this: MockMonitor, req: any, callback: (err: any, res: any) => void) {
        return original.call(this, req, (err: any, response: any) => {
            if (!err) {
                const raw = req.getObject()?.toJavaScript() ?? {};
                const dependencies = new Set<string>(req.getDependenciesList());
                const propertyDependencies = req.getPropertydependenciesMap();
                propertyDependencies.forEach((deps: any) => deps.getUrnsList().forEach((urn: string) => dependencies.add(urn)));
                resources.push({
                    urn: response.getUrn(),
                    type: req.getType(),
                    name: req.getName(),
                    parent: req.getParent() || undefined,
                    dependencies: [...dependencies].sort(),
                    custom: req.getCustom(),
                    deletedWith: req.getDeletedwith() || undefined,
                    aliases: aliasesOf(req),
                    provider: req.getProvider() || undefined,
                    inputs: unwrapSecrets(pulumi.runtime.deserializeProperties(req.getObject())) as Record<string, unknown>,
                    secretInputs: secretPaths(raw, "", []),
                });
            }
            callback(err, response);
        });
    } as typeof original;

    await pulumi.runtime.setMocks(
        {
            newResource: (args) => ({
                id: args.custom ? fakeId(args.type.split(":").pop()!.toLowerCase(), args.name) : undefined,
                state: { ...args.inputs, ...providerState(args.type, args.name, args.inputs, region) },
            }),
            call: (args) => {
                switch (args.token) {
                    case "aws:ssm/getParameter:getParameter":
                        return { name: args.inputs.name, value: "ami-0123456789abcdef0", type: "String" };
                    case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
                        return { locations: [`${region}b`, `${region}a`], instanceTypes: [], locationTypes: [] };
                    default:
                        return args.inputs;
                }
            },
        },
        project.name,
        stack,
        false,
    );
    pulumi.runtime.setAllConfig(config);

    const outputs: Record<string, unknown> = {};
    const secretOutputs: string[] = [];
    let error: string | undefined;
    try {
        const program: Record<string, unknown> = await import(path.join(projectDir, "index.ts"));
        for (const [key, value] of Object.entries(program)) {
            const output = pulumi.output(value) as pulumi.Output<unknown>;
            if (await pulumi.isSecret(output)) secretOutputs.push(key);
            outputs[key] = await new Promise((resolve) => output.apply(resolve));
        }
        // Let registrations still in flight (e.g. children of components) finish.
        await new Promise((resolve) => setTimeout(resolve, 100));
    } catch (e) {
        error = e instanceof Error ? e.message : String(e);
    }
    return { stack, config, resources, outputs, secretOutputs, error };
}

/** Runs `evaluateStack` in a fresh process (Pulumi's runtime is process-global). */
export function evaluateStackInChild(stack: string, overrides: Record<string, string | null> = {}): Promise<Evaluation> {
    const tsx = path.join(projectDir, "node_modules", ".bin", "tsx");
    return new Promise((resolve, reject) => {
        execFile(tsx, [__filename, stack, JSON.stringify(overrides)], { cwd: projectDir, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
            if (err) {
                reject(new Error(`evaluating stack ${stack} failed: ${err.message}\n${stderr}`));
                return;
            }
            resolve(JSON.parse(stdout) as Evaluation);
        });
    });
}

if (require.main === module) {
    const [stack, overrides] = process.argv.slice(2);
    // The program's own console output must not corrupt the JSON on stdout.
    const write = process.stdout.write.bind(process.stdout);
    console.log = console.info = (...args: unknown[]) => process.stderr.write(args.join(" ") + "\n");
    evaluateStack(stack, overrides ? JSON.parse(overrides) : {}).then(
        (evaluation) => {
            write(JSON.stringify(evaluation));
            process.exit(0);
        },
        (e) => {
            process.stderr.write(String(e?.stack ?? e));
            process.exit(1);
        },
    );
}
