/**
 * Docker Hub gives anonymous clients 10 pulls an hour per IPv4 address (docs.docker.com, Docker Hub
 * "Usage and limits"; a pull is a manifest request, once per image on a node). Every node has its
 * own public address, so the limit is per node. This test counts, from the rendered snapshots
 * (snapshots/<stack>/), the images each node pulls from docker.io in each mode, and keeps
 * docs/images.md's table equal to the count (UPDATE_DOCS=1 rewrites it).
 *
 * What a node pulls:
 * - k3s's own images, unless the node script put the release's archive in k3s's images directory
 *   (components/nodeScripts.ts): with `--disable=traefik,servicelb` those are the pause sandbox of
 *   every pod (also the measurement pods: they are pause pods), CoreDNS, local-path-provisioner and
 *   metrics-server, all docker.io/rancher/… (k3s-io/k3s manifests/coredns.yaml,
 *   local-storage.yaml, metrics-server/; scripts/airgap/image-list.txt, which is the archive).
 *   Flannel is built into k3s: no image.
 * - Calico: the operator's pods, each image `<registry><image>:<tag>` with the Installation's
 *   `spec.registry`, or docker.io/ when unset (tigera/operator v1.38.6 pkg/components/references.go
 *   GetReference, images.go CalicoRegistry): calico-node (node, cni, pod2daemon-flexvol) and
 *   csi-node-driver (csi, node-driver-registrar) on every node, typha and kube-controllers on any
 *   node (pkg/render node.go, csi.go, typha.go, kubecontrollers). The operator itself is
 *   quay.io/tigera/operator (the chart's tigeraOperator.registry).
 * - Cilium: the chart's defaults, quay.io/cilium/cilium, cilium-envoy and operator-generic
 *   (cilium chart values.yaml image, envoy.image, operator.image); the program overrides none.
 * - The guestbook's containers, as rendered: a DaemonSet on every node, a pod pinned by nodeName on
 *   that node, any other Deployment on either node (the worst case is counted).
 * - The load generator runs no containers.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { calicoImageRegistry } from "../components/calicoNetwork";
import { isNetworkMode, networkModes, type NetworkMode } from "../components/modes";
import { k3sAirgapImages, k3sImagesDir, nodeNames } from "../components/nodeScripts";

const repoRoot = path.resolve(__dirname, "..");
const docPath = path.join(repoRoot, "docs", "images.md");

/** Docker Hub's anonymous limit per IPv4 address and hour (docs.docker.com, "Usage and limits"). */
const dockerHubAnonymousPullsPerHour = 10;
/** At most half the limit per node, so a replaced node or a second `up` within the hour still fits. */
const allowedPullsPerNode = dockerHubAnonymousPullsPerHour / 2;

const nodes = [nodeNames.server, nodeNames.agent] as const;
type NodeName = (typeof nodes)[number];

/** k3s's own images (repositories; the tags are the release's). */
const k3sSystemImages = ["rancher/mirrored-pause", "rancher/mirrored-coredns-coredns", "rancher/local-path-provisioner", "rancher/mirrored-metrics-server"];

/** The Calico images the operator runs: on every node, or on any one node. */
const calicoOperatorImages = {
    everyNode: ["calico/node", "calico/cni", "calico/pod2daemon-flexvol", "calico/csi", "calico/node-driver-registrar"],
    anyNode: ["calico/typha", "calico/kube-controllers"],
};

/** The Cilium chart's default images (the program sets no image value). */
const ciliumChartImages = { everyNode: ["quay.io/cilium/cilium", "quay.io/cilium/cilium-envoy"], anyNode: ["quay.io/cilium/operator-generic"] };

/**
 * The registry a reference names, as containerd and Docker read it: the first path component is a
 * registry host when it holds a "." or ":" or is "localhost", else the reference is Docker Hub's
 * (distribution/reference normalize.go, splitDockerDomain).
 */
function registryOf(reference: string): string {
    const slash = reference.indexOf("/");
    const first = slash < 0 ? "" : reference.slice(0, slash);
    const host = first.includes(".") || first.includes(":") || first === "localhost" ? first : "docker.io";
    return host === "index.docker.io" || host === "registry-1.docker.io" ? "docker.io" : host;
}

/** One image a node pulls and who asks for it. */
interface Pull {
    readonly image: string;
    readonly from: "k3s" | "pod network" | "guestbook";
}

interface StackImages {
    readonly perNode: Record<NodeName, Pull[]>;
    readonly airgapArchive: boolean;
    readonly calicoRegistry?: string;
}

function snapshotDir(mode: NetworkMode): string {
    return path.join(repoRoot, "snapshots", mode);
}

/** Whether a node's install script puts the release's image archive where k3s imports it. */
function placesArchive(script: string): boolean {
    return script.includes(`mv "$images_tmp/${k3sAirgapImages.archive}" ${k3sImagesDir}/`) && script.includes("sha256sum --check");
}

type Workload = { kind: string; spec?: any };

function containerImages(podSpec: any): string[] {
    return [...(podSpec?.initContainers ?? []), ...(podSpec?.containers ?? [])].map((c: any) => c.image);
}

/** Every image each node of a stack pulls, read from its snapshot. */
function stackImages(mode: NetworkMode): StackImages {
    const dir = snapshotDir(mode);
    const scripts = readdirSync(path.join(dir, "scripts"));
    const script = (role: string) =>
        readFileSync(
            path.join(
                dir,
                "scripts",
                scripts.find((f) => f.endsWith(`-${role}-install.sh`))!,
            ),
            "utf8",
        );
    const archive = { [nodeNames.server]: placesArchive(script("server")), [nodeNames.agent]: placesArchive(script("agent")) } as Record<NodeName, boolean>;
    const perNode: Record<NodeName, Pull[]> = { [nodeNames.server]: [], [nodeNames.agent]: [] } as Record<NodeName, Pull[]>;
    const onEvery = (image: string, from: Pull["from"]) => nodes.forEach((n) => perNode[n].push({ image, from }));

    for (const node of nodes) {
        if (!archive[node]) for (const image of k3sSystemImages) perNode[node].push({ image, from: "k3s" });
    }

    const docs = parseAllDocuments(readFileSync(path.join(dir, "manifests.yaml"), "utf8"))
        .map((d) => d.toJS() as any)
        .filter(Boolean);
    let calicoRegistry: string | undefined;
    for (const doc of docs) {
        if (doc.kind === "Installation") {
            calicoRegistry = doc.spec?.registry;
            const registry = calicoRegistry && calicoRegistry !== "UseDefault" ? calicoRegistry : "docker.io/";
            for (const image of [...calicoOperatorImages.everyNode, ...calicoOperatorImages.anyNode]) onEvery(`${registry}${image}`, "pod network");
        } else if (doc.chart === "tigera-operator") {
            expect(doc.values?.tigeraOperator, "the program leaves the operator image at the chart's quay.io").toBeUndefined();
            onEvery("quay.io/tigera/operator", "pod network");
        } else if (doc.chart === "cilium") {
            for (const value of [doc.values?.image, doc.values?.envoy?.image, doc.values?.operator?.image]) {
                expect(value, "the program leaves Cilium's images at the chart's quay.io").toBeUndefined();
            }
            for (const image of [...ciliumChartImages.everyNode, ...ciliumChartImages.anyNode]) onEvery(image, "pod network");
        } else if (["Deployment", "DaemonSet", "StatefulSet", "Pod", "Job"].includes(doc.kind)) {
            const workload = doc as Workload;
            const podSpec = workload.kind === "Pod" ? workload.spec : workload.spec?.template?.spec;
            const pinned: string | undefined = podSpec?.nodeName;
            if (pinned !== undefined && !nodes.includes(pinned as NodeName)) throw new Error(`${mode}: ${workload.kind} pinned to unknown node ${pinned}`);
            for (const image of containerImages(podSpec)) {
                if (pinned) perNode[pinned as NodeName].push({ image, from: "guestbook" });
                else onEvery(image, "guestbook");
            }
        }
    }
    return { perNode, airgapArchive: archive[nodeNames.server] && archive[nodeNames.agent], calicoRegistry };
}

/** Distinct docker.io images a node pulls: a node pulls each image once, whatever the replicas. */
function dockerHubPulls(pulls: readonly Pull[], from?: Pull["from"]): string[] {
    return [...new Set(pulls.filter((p) => (from === undefined || p.from === from) && registryOf(p.image) === "docker.io").map((p) => p.image))].sort();
}

const stacks = readdirSync(path.join(repoRoot, "snapshots")).filter(isNetworkMode);

/** The table in docs/images.md, from the counts. */
function pullsTable(): string {
    const rows = networkModes
        .filter((m) => stacks.includes(m))
        .map((mode) => {
            const s = stackImages(mode);
            const cell = (node: NodeName, from: Pull["from"]) => dockerHubPulls(s.perNode[node], from).length;
            const worst = Math.max(...nodes.map((n) => dockerHubPulls(s.perNode[n]).length));
            const perNode = nodes.map((n) => `${n}: ${dockerHubPulls(s.perNode[n]).length}`).join(", ");
            const max = (from: Pull["from"]) => Math.max(...nodes.map((n) => cell(n, from)));
            return `| ${mode} | ${max("k3s")} | ${max("pod network")} | ${max("guestbook")} | ${perNode} | ${dockerHubAnonymousPullsPerHour - worst} |`;
        });
    return ["| mode | k3s's own images | pod network | guestbook | docker.io pulls per node | left of 10 (worst node) |", "|---|---|---|---|---|---|", ...rows].join("\n");
}

const tableStart = "<!-- docker.io pulls table: test/dockerHubPulls.test.ts -->";
const tableEnd = "<!-- end of table -->";

describe("docker.io pulls per node stay under Docker Hub's anonymous limit", () => {
    it("reads references as containerd does: no registry host means Docker Hub", () => {
        expect(registryOf("redis:6.0.5")).toBe("docker.io");
        expect(registryOf("docker.io/redis:6.0.5")).toBe("docker.io");
        expect(registryOf("rancher/mirrored-pause:3.6")).toBe("docker.io");
        expect(registryOf("quay.io/calico/node:v3.30.3")).toBe("quay.io");
        expect(registryOf("us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5")).toBe("us-docker.pkg.dev");
        expect(registryOf("localhost:5000/x")).toBe("localhost:5000");
    });

    it("every stack has a snapshot to count from", () => {
        expect(stacks.sort()).toEqual([...networkModes].sort());
    });

    for (const mode of networkModes) {
        it(`${mode}: each node pulls at most ${allowedPullsPerNode} images from docker.io`, () => {
            const s = stackImages(mode);
            expect(s.airgapArchive, `${mode}: both node scripts place k3s's image archive`).toBe(true);
            for (const node of nodes) {
                const pulls = dockerHubPulls(s.perNode[node]);
                expect(pulls.length, `${mode} ${node} pulls from docker.io: ${pulls.join(", ")}`).toBeLessThanOrEqual(allowedPullsPerNode);
            }
        });
    }

    it("the Calico modes take the operator's images from the Installation's registry, not docker.io", () => {
        expect(calicoImageRegistry.endsWith("/"), "spec.registry must end with a slash (Installation CRD)").toBe(true);
        const calicoModes = networkModes.filter((m) => stackImages(m).calicoRegistry !== undefined);
        expect(calicoModes).toEqual(["calico", "calico-ipip", "calico-vxlan"]);
        for (const mode of calicoModes) {
            const s = stackImages(mode);
            expect(s.calicoRegistry).toBe(calicoImageRegistry);
            const calico = nodes.flatMap((n) => s.perNode[n]).filter((p) => p.image.includes("/calico/"));
            for (const pull of calico) expect(registryOf(pull.image), `${mode}: ${pull.image}`).not.toBe("docker.io");
        }
    });

    it("docs/images.md shows the counts", () => {
        const table = pullsTable();
        if (process.env.UPDATE_DOCS) {
            const text = readFileSync(docPath, "utf8");
            const start = text.indexOf(tableStart);
            const end = text.indexOf(tableEnd);
            writeFileSync(docPath, `${text.slice(0, start + tableStart.length)}\n${table}\n${text.slice(end)}`);
        }
        const doc = readFileSync(docPath, "utf8");
        expect(doc, `docs/images.md is out of date; run UPDATE_DOCS=1 npx vitest run test/dockerHubPulls.test.ts. Expected table:\n${table}`).toContain(`${tableStart}\n${table}\n${tableEnd}`);
    });
});
