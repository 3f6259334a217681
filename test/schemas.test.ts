/**
 * Every Kubernetes object the program and the benchmark runner create, checked against the real
 * schemas rather than our idea of them:
 * - built-in kinds against the Kubernetes OpenAPI schema, through the `kubernetes-models`
 *   validators (its 5.1.0 release is generated from Kubernetes 1.34's OpenAPI; k3s runs 1.33,
 *   and nothing used here changed between them);
 * - the Calico Installation against the CRD of the operator release we pin (tigera/operator
 *   v1.38.6 = Calico v3.30.3, ../shared/upstream/operator.tigera.io_installations.yaml), with
 *   unknown fields rejected the way the API server's strict field validation rejects them
 *   (Kubernetes docs, "Field validation"; structural schemas prune what they do not declare).
 * Each has a negative control, so a validator that accepts everything fails here.
 */
import Ajv, { type ValidateFunction } from "ajv";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, parse } from "yaml";
import { benchPodManifest, publishedMeasurementPorts, publishedRole } from "../bench/sessions/aws-k3s";
import { readProject } from "../components/project";
import { stackNames } from "../render/evaluate";
import { snapshotRoot } from "../render/snapshotFolder";

type KubeObject = { apiVersion: string; kind: string; metadata?: { name?: string }; [key: string]: unknown };

/**
 * kubernetes-models ships ES modules behind an exports map that this project's CommonJS
 * resolution cannot type, so each kind's class is loaded by its apiVersion at run time:
 * "apps/v1" Deployment → kubernetes-models/apps/v1.
 */
async function validateBuiltIn(object: KubeObject): Promise<void> {
    const modulePath = `kubernetes-models/${object.apiVersion}`;
    const module: Record<string, new (data: unknown) => { validate(): void }> = await import(modulePath);
    const Model = module[object.kind];
    if (!Model) throw new Error(`${object.apiVersion} ${object.kind}: no schema in kubernetes-models; is the kind right?`);
    new Model(object).validate();
}

/** The objects of one stack, as the committed snapshot renders them (render/snapshot.test.ts keeps it current). */
function stackObjects(stack: string): KubeObject[] {
    const text = readFileSync(path.join(snapshotRoot, stack, "manifests.yaml"), "utf8");
    return parseAllDocuments(text)
        .map((doc) => doc.toJS() as KubeObject)
        .filter((o) => o && typeof o.apiVersion === "string");
}

const upstreamCrd = path.resolve(__dirname, "../../shared/upstream/operator.tigera.io_installations.yaml");

/** Kubernetes' structural-schema rules: an object schema with `properties` admits nothing else,
 * unless it says x-kubernetes-preserve-unknown-fields. Ajv needs that said explicitly. */
function strict(schema: any): any {
    if (Array.isArray(schema)) return schema.map(strict);
    if (!schema || typeof schema !== "object") return schema;
    const out: any = {};
    for (const [key, value] of Object.entries(schema)) out[key] = strict(value);
    if (out.properties && out.additionalProperties === undefined && !out["x-kubernetes-preserve-unknown-fields"]) out.additionalProperties = false;
    if (out["x-kubernetes-int-or-string"]) {
        delete out.type;
        out.anyOf = [{ type: "integer" }, { type: "string" }];
    }
    return out;
}

function installationValidator(): ValidateFunction {
    const crd = parse(readFileSync(upstreamCrd, "utf8"));
    const version = crd.spec.versions.find((v: any) => v.name === "v1");
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    const schema = strict(version.schema.openAPIV3Schema);
    // apiVersion/kind/metadata are the API server's, not the CRD's to describe.
    return ajv.compile({ ...schema, properties: { ...schema.properties, metadata: { type: "object" } } });
}

describe.each(stackNames())("stack %s: every Kubernetes object is valid", (stack) => {
    const objects = stackObjects(stack);

    it("built-in kinds validate against the Kubernetes OpenAPI schema", async () => {
        const builtIn = objects.filter((o) => !o.apiVersion.includes(".") || o.apiVersion.endsWith(".k8s.io/v1"));
        // The namespace and the three guestbook workloads, plus three Services on a pod network.
        expect(builtIn.length).toBeGreaterThanOrEqual(4);
        expect(
            builtIn
                .filter((o) => ["Deployment", "DaemonSet"].includes(o.kind))
                .map((o) => o.metadata?.name)
                .filter((name) => name !== "extra-service-backend")
                .sort(),
        ).toEqual(["frontend", "redis-follower", "redis-leader"]);
        for (const object of builtIn) await validateBuiltIn(object);
    });

    const installations = objects.filter((o) => o.kind === "Installation");
    if (installations.length === 0) return;
    // A fresh clone has no ../shared beside it: the check then reports itself skipped.
    it.skipIf(!existsSync(upstreamCrd))("the Calico Installation validates against the operator's CRD (../shared/upstream)", () => {
        const validate = installationValidator();
        for (const installation of installations) {
            const ok = validate(installation);
            expect(validate.errors ?? [], `Installation ${installation.metadata?.name}`).toEqual([]);
            expect(ok).toBe(true);
        }
    });
});

describe("negative controls: the validators reject what the API server rejects", () => {
    it("a Deployment with replicas as a string", async () => {
        const deployment = stackObjects("vxlan").find((o) => o.kind === "Deployment")!;
        const broken = structuredClone(deployment) as any;
        broken.spec.replicas = "10";
        await expect(validateBuiltIn(broken)).rejects.toThrow(/replicas must be integer/);
    });

    it("a baseline's DaemonSet with its host port as a string, or hostNetwork as a string", async () => {
        const daemonSet = stackObjects("bridge").find((o) => o.kind === "DaemonSet")! as any;
        const port = structuredClone(daemonSet);
        port.spec.template.spec.containers[0].ports[0].hostPort = "8081";
        await expect(validateBuiltIn(port)).rejects.toThrow(/hostPort must be integer/);
        const host = structuredClone(daemonSet);
        host.spec.template.spec.hostNetwork = "true";
        await expect(validateBuiltIn(host)).rejects.toThrow(/hostNetwork must be boolean/);
    });

    it("a Service port without its required port number", async () => {
        const service = structuredClone(stackObjects("vxlan").find((o) => o.kind === "Service")!) as any;
        delete service.spec.ports[0].port;
        await expect(validateBuiltIn(service)).rejects.toThrow(/spec\/ports\/0 must have required property port\b/);
    });

    it.skipIf(!existsSync(upstreamCrd))("an Installation with an encapsulation, a BGP value or a field Calico does not have", () => {
        const installation = stackObjects("calico").find((o) => o.kind === "Installation")! as any;
        const validate = installationValidator();
        for (const [change, complaint] of [
            [
                (i: any) => {
                    i.spec.calicoNetwork.ipPools[0].encapsulation = "IPinIP";
                },
                "must be equal to one of the allowed values",
            ],
            [
                (i: any) => {
                    i.spec.calicoNetwork.bgp = "On";
                },
                "must be equal to one of the allowed values",
            ],
            [
                (i: any) => {
                    i.spec.calicoNetwork.vxlanPort = 4789;
                },
                "must NOT have additional properties",
            ],
        ] as const) {
            const broken = structuredClone(installation);
            change(broken);
            expect(validate(broken)).toBe(false);
            expect(JSON.stringify(validate.errors)).toContain(complaint);
        }
    });

    it("the CRD on file is the release the program pins", () => {
        // ../shared/upstream/README.md: operator v1.38.6 = Calico v3.30.3.
        expect(readProject().defaults.calicoVersion).toBe("v3.30.3");
    });
});

describe("the benchmark runner's pods", () => {
    const base = { name: "cni-bench-ab12cd-net-n1-0", nodeName: "node-1", runId: "ab12cd", role: "net", image: "rancher/mirrored-pause:3.6" };
    for (const [what, pod] of [
        ["a pause measurement pod", benchPodManifest(base)],
        ["a pause pod publishing the measurement ports (bridge stack)", benchPodManifest({ ...base, role: publishedRole, publishedPorts: publishedMeasurementPorts })],
    ] as const) {
        it(`${what} validates as a Pod`, async () => {
            expect([pod.apiVersion, pod.kind]).toEqual(["v1", "Pod"]);
            await validateBuiltIn(pod as KubeObject);
        });
    }

    it("the published ports are TCP and UDP of iperf3's and sockperf's first port, each hostPort equal to its containerPort", () => {
        const ports = benchPodManifest({ ...base, publishedPorts: publishedMeasurementPorts }).spec!.containers[0].ports!;
        expect(ports.map((p) => `${p.protocol}/${p.containerPort}->${p.hostPort}`).sort()).toEqual(["TCP/11111->11111", "TCP/5201->5201", "UDP/11111->11111", "UDP/5201->5201"]);
    });

    it("negative control: a pod whose container has no name fails", async () => {
        const pod = structuredClone(benchPodManifest(base)) as any;
        delete pod.spec.containers[0].name;
        await expect(validateBuiltIn(pod)).rejects.toThrow(/spec\/containers\/0 must have required property name\b/);
    });

    it("negative control: a published port without its containerPort fails", async () => {
        const pod = structuredClone(benchPodManifest({ ...base, publishedPorts: publishedMeasurementPorts })) as any;
        delete pod.spec.containers[0].ports[0].containerPort;
        await expect(validateBuiltIn(pod)).rejects.toThrow(/containerPort/);
    });
});
