/**
 * The AWS/k3s session against a stand-in Kubernetes API (testing/kube-api-standin.ts) and the
 * in-process SSH server with stub k3s/sudo/nsenter on the nodes' PATH: measurement pods are
 * pause pods of the node's sandbox image, never pulled; their commands run on the node through
 * `sudo -n nsenter --target <pid> --net` with the pid crictl reports for the pod's container;
 * pods that fail or are replaced are never entered by a stale pid; the bridge stack publishes
 * the measurement ports and answers at node addresses; the host stack answers with the nodes; a
 * second runner's pods survive a new session; the environment records the digests the
 * guestbook ran.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
    benchPodManifest,
    requireAwsFields,
    managedByLabel,
    openAwsK3sSession,
    podLifetimeSeconds,
    publishedMeasurementPorts,
    publishedRole,
    roleLabelKey,
    runLabelKey,
    runLease,
    runLeaseName,
    type AwsK3sSession,
} from "./aws-k3s";
import { ciliumStatusCommand } from "../measure/cilium-status";
import { k3sVersionCommand } from "../measure/commands";
import { networkBandwidth } from "../measure/environment";
import { reportMarkdown } from "../results/report";
import { runnerProfile } from "../profiles";
import { plannedToolSeconds, resolveSettings } from "../run";
import { aggregate, summaryFileSchema, summarySchema, type BenchSummaryFile } from "../results/summary";
import { AwsK3sFixture, guestbookPods, stubInstance, stubPidOf, stubSandboxImage } from "../../test/standins/aws-k3s-fixture";
import { standinContainerId, type PodFate } from "../../test/standins/kube-api";
import { flowMatrix } from "../../components/flows";
import { comparisonInstanceTypes } from "../../components/settings";

const fixtures: AwsK3sFixture[] = [];
const sessions: AwsK3sSession[] = [];

async function fixture(kube: ConstructorParameters<typeof AwsK3sFixture>[0] = {}): Promise<AwsK3sFixture> {
    const f = new AwsK3sFixture(kube);
    fixtures.push(f);
    await f.start();
    return f;
}

async function open(f: AwsK3sFixture, overrides: Parameters<AwsK3sFixture["target"]>[0] = {}): Promise<AwsK3sSession> {
    const s = await openAwsK3sSession(f.target(overrides));
    sessions.push(s);
    return s;
}

afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => undefined)));
    await Promise.all(fixtures.splice(0).map((f) => f.stop()));
});

const crashed: PodFate = { kind: "failed", reason: "Error", exitCode: 128, message: "failed to create containerd task" };
const role = (pod: { metadata?: { labels?: Record<string, string> } }) => pod.metadata?.labels?.[roleLabelKey];
/** The pid the stub crictl reports for a pod the stand-in runs. */
const pidOfPod = (f: AwsK3sFixture, name: string) => stubPidOf(standinContainerId(f.kube.pods.get(`default/${name}`)!.object.metadata.uid));
const nsenterCommands = (f: AwsK3sFixture) => f.ssh.commands.filter((c) => c.includes("nsenter"));

describe("AWS/k3s session: measurement pods without installs (issue #11)", () => {
    it("a pod is the node's sandbox image, never pulled, and its commands run on the node in its network namespace", async () => {
        const f = await fixture();
        const s = await open(f);
        const [pod] = await s.pods({ role: "net", node: 0, count: 1 });
        const [created] = f.kube.created;
        expect(created.spec.containers).toEqual([{ name: "netns", image: stubSandboxImage, imagePullPolicy: "Never" }]);
        expect(created.spec.hostNetwork).toBeUndefined();
        for (const c of created.spec.containers) for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) expect(c).not.toHaveProperty(probe);
        // The pid came from crictl by the container's id, as root.
        const containerId = standinContainerId(f.kube.pods.get(`default/${pod.name}`)!.object.metadata.uid);
        expect(f.sudoCommands()).toContain(`k3s crictl inspect --output go-template --template {{.info.pid}} ${containerId.replace("containerd://", "")}`);
        expect(pod.ip).toBe("127.0.0.1"); // the stand-in's pod IP
        expect((await pod.shell.run("echo in-pod", { timeoutMs: 10_000 })).stdout).toBe("in-pod\n");
        expect(f.nsenterTargets()).toEqual([pidOfPod(f, pod.name)]);
        expect(nsenterCommands(f).at(-1)).toMatch(new RegExp(`^sudo -n nsenter --target ${pidOfPod(f, pod.name)} --net -- sh -c `));
    });

    it("the sandbox image is read once per node, and a missing one fails the request naming the config file", async () => {
        const f = await fixture();
        const s = await open(f);
        await s.pods({ role: "net", node: 0, count: 1 });
        await s.pods({ role: "scale", node: 0, count: 2 });
        expect(f.ssh.commands.filter((c) => c.includes("sandbox_image")).length).toBe(1);
        f.containerdConfig("[plugins]\n");
        const err = await s.pods({ role: "net", node: 1, count: 1 }).catch((e: Error) => e);
        expect((err as Error).message).toMatch(
            /node 2 \(node-b\): could not read the sandbox \(pause\) image from \/var\/lib\/rancher\/k3s\/agent\/etc\/containerd\/config\.toml: no sandbox_image or pinned_images\.sandbox entry/,
        );
        expect(f.kube.created).toHaveLength(3); // nothing created on node 2
    });

    it("an image the node lacks (ErrImageNeverPull) fails at once with the reason, not after the ready timeout", async () => {
        const f = await fixture({ fate: () => ({ kind: "pending", waitingReason: "ErrImageNeverPull", message: `Container image "${stubSandboxImage}" is not present with pull policy of Never` }) });
        const s = await open(f);
        const started = Date.now();
        const err = await s.pods({ role: "net", node: 0, count: 1 }).catch((e: Error) => e);
        expect(Date.now() - started).toBeLessThan(20_000);
        expect((err as Error).message).toMatch(/failed 2 times: pod \S+ cannot start: ErrImageNeverPull: Container image "rancher\/mirrored-pause:3\.6" is not present with pull policy of Never/);
        expect(f.kube.podNames()).toEqual([]); // both attempts deleted
    });

    it("a failing pid lookup is reported with the command and crictl's words, and the pod is not left behind", async () => {
        const f = await fixture();
        const s = await open(f);
        f.failPidLookups('time="2026-11-29T19:00:00Z" level=fatal msg="getting the status of the container: rpc error: code = NotFound"');
        const err = await s.pods({ role: "net", node: 0, count: 1 }).catch((e: Error) => e);
        expect((err as Error).message).toMatch(/pod cni-bench-\w+-net-n1-0: could not read its container's pid on node 1 \(node-a\) \(sudo -n k3s crictl inspect .*: exit 1: .*code = NotFound"\)/);
        expect(f.kube.podNames()).toEqual([]);
        f.failPidLookups(undefined);
        const [pod] = await s.pods({ role: "net", node: 0, count: 1 });
        expect((await pod.shell.run("echo ok", { timeoutMs: 10_000 })).stdout).toBe("ok\n");
    });

    it("a pod that fails once is deleted and replaced under a fresh name, and its commands enter the replacement's pid", async () => {
        const f = await fixture({ fate: (pod, nth) => (nth === 0 && role(pod) === "net" ? crashed : { kind: "ready" }) });
        const s = await open(f);
        const [pod] = await s.pods({ role: "net", node: 0, count: 1 });
        const [failed, replacement] = f.kube.created.map((p) => p.metadata.name);
        expect(pod.name).toBe(replacement);
        expect(f.kube.podNames()).not.toContain(failed);
        expect(f.kube.requests).toContain(`DELETE /api/v1/namespaces/default/pods/${failed}`);
        await pod.shell.run("true", { timeoutMs: 10_000 });
        expect(f.nsenterTargets()).toEqual([pidOfPod(f, replacement)]);
        expect((await s.pods({ role: "net", node: 0, count: 1 }))[0].name).toBe(replacement);
        expect(f.kube.created).toHaveLength(2);
    });

    it("a role whose pods fail twice fails that request with the pod's reason; the next request creates fresh pods and succeeds", async () => {
        const f = await fixture({ fate: (pod, nth) => (nth < 2 && role(pod) === "net" ? crashed : { kind: "ready" }) });
        const s = await open(f);
        const err = await s.pods({ role: "net", node: 0, count: 1 }).catch((e: Error) => e);
        expect((err as Error).message).toMatch(/net pod on node 1 \(node-a\) failed 2 times: pod cni-bench-\w+-net-n1-0 ended \(Failed: Error, exit 128, failed to create containerd task\)/);
        const [pod] = await s.pods({ role: "net", node: 0, count: 1 });
        expect(pod.name).toMatch(/-net-n1-2$/);
        const env = await s.environment();
        expect(env.podInterface).toBeDefined();
    });

    it("a kept pod whose container was replaced (a new containerID) is not entered by the old pid: the pod is replaced", async () => {
        const f = await fixture();
        const s = await open(f);
        const [first] = await s.pods({ role: "net", node: 1, count: 1 });
        const oldPid = pidOfPod(f, first.name);
        const stored = f.kube.pods.get(`default/${first.name}`)!;
        const newId = standinContainerId("another container");
        f.kube.pods.set(`default/${first.name}`, {
            ...stored,
            object: { ...stored.object, status: { containerStatuses: [{ name: "netns", ready: true, containerID: newId, state: { running: {} } }] } },
        });
        const [second] = await s.pods({ role: "net", node: 1, count: 1 });
        expect(second.name).not.toBe(first.name);
        expect(f.kube.podNames()).not.toContain(first.name);
        await second.shell.run("true", { timeoutMs: 10_000 });
        expect(f.nsenterTargets()).toEqual([pidOfPod(f, second.name)]);
        expect(f.nsenterTargets()).not.toContain(oldPid);
    });

    it("a kept pod that ended (its deadline, an eviction) is replaced on the next request", async () => {
        const f = await fixture();
        const s = await open(f);
        const [first] = await s.pods({ role: "net", node: 1, count: 1 });
        const stored = f.kube.pods.get(`default/${first.name}`)!;
        f.kube.pods.set(`default/${first.name}`, { ...stored, fate: { kind: "failed", reason: "DeadlineExceeded", exitCode: 137 } });
        const [second] = await s.pods({ role: "net", node: 1, count: 1 });
        expect(second.name).not.toBe(first.name);
        expect(f.kube.podNames()).not.toContain(first.name);
    });

    it("of several pods requested together, the ones that came up are kept when one fails", async () => {
        const f = await fixture({ fate: (_pod, nth) => (nth === 1 || nth === 3 ? crashed : { kind: "ready" }) });
        const s = await open(f);
        await expect(s.pods({ role: "scale", node: 0, count: 3 })).rejects.toThrow(/1 of 3 pod\(s\) did not come up/);
        const kept = f.kube.podNames().filter((n) => n.includes("-scale-"));
        expect(kept).toHaveLength(2);
        const pods = await s.pods({ role: "scale", node: 0, count: 3 });
        expect(pods.map((p) => p.name)).toEqual(expect.arrayContaining(kept));
        expect(f.kube.created).toHaveLength(5);
    });

    it("the Kubernetes API's error body reaches the message, not just the status code", async () => {
        const message = 'pods is forbidden: User "system:serviceaccount:default:bench" cannot create resource "pods" in API group "" in the namespace "default"';
        const f = await fixture({ rejectCreate: () => ({ code: 403, reason: "Forbidden", message }) });
        const s = await open(f);
        const err = await s.pods({ role: "net", node: 0, count: 1 }).catch((e: Error) => e);
        expect((err as Error).message).toContain(`could not create it: HTTP 403 Forbidden: ${message}`);
    });

    it("the pods' deadline outlasts a long run (five stacks, 20 repetitions, default plan)", async () => {
        const f = await fixture();
        const s = await open(f);
        await s.pods({ role: "net", node: 0, count: 1 });
        const targets = Array.from({ length: 5 }, (_, i) => f.target({ name: `stack${i}` }));
        const longRun = plannedToolSeconds(targets, resolveSettings(targets, { outDir: "unused", repetitions: 20 }));
        expect(f.kube.created[0].spec.activeDeadlineSeconds).toBe(podLifetimeSeconds);
        expect(podLifetimeSeconds).toBeGreaterThan(2 * longRun);
        expect(runnerProfile.repetitions).toBeLessThan(20);
    });

    it("host-network endpoints are the node itself, with no pod; closing one leaves the node's connection to the session", async () => {
        const f = await fixture();
        const s = await open(f);
        const [host] = await s.pods({ role: "baseline", node: 1, count: 1, hostNetwork: true });
        expect(host).toMatchObject({ node: 1, hostNetwork: true, ip: "127.0.0.1" });
        expect(f.kube.created).toEqual([]);
        const before = nsenterCommands(f).length;
        expect((await host.shell.run("echo host", { timeoutMs: 10_000 })).stdout).toBe("host\n");
        expect(nsenterCommands(f).length).toBe(before); // no namespace entered
        const bg = host.shell.start("sleep 41");
        await new Promise((r) => setTimeout(r, 300));
        await host.shell.close();
        expect((await bg.done).code).not.toBe(0); // the endpoint's own process was stopped …
        expect((await s.hosts[1].run("echo still-connected", { timeoutMs: 10_000 })).stdout).toBe("still-connected\n"); // … and the node's connection is open
        const [again] = await s.pods({ role: "baseline", node: 1, count: 1, hostNetwork: true });
        expect((await again.shell.run("echo again", { timeoutMs: 10_000 })).stdout).toBe("again\n");
    });

    it("releasePods removes the scaling pods and leaves the others", async () => {
        const f = await fixture();
        const s = await open(f);
        await s.pods({ role: "net", node: 0, count: 1 });
        await s.pods({ role: "scale", node: 0, count: 2 });
        await s.pods({ role: "scale", node: 1, count: 2 });
        await s.releasePods("scale");
        const left = f.kube.podNames();
        expect(left.filter((n) => n.includes("-scale-"))).toEqual([]);
        expect(left.filter((n) => n.includes("-net-"))).toHaveLength(1);
        const again = await s.pods({ role: "scale", node: 0, count: 1 });
        expect(f.kube.podNames()).toContain(again[0].name);
    });
});

describe("AWS/k3s session: the baselines (issue #14)", () => {
    it("bridge: a pod-network endpoint is a pause pod publishing the measurement ports, reached at its node's address", async () => {
        const f = await fixture();
        const s = await open(f, { name: "bridge", mode: "bridge", nodes: f.target().nodes.map((n, i) => ({ ...n, privateIp: `127.0.0.${i + 1}` })) });
        const [server] = await s.pods({ role: "net", node: 0, count: 1 });
        const [client] = await s.pods({ role: "net", node: 1, count: 1 });
        expect([server.ip, client.ip]).toEqual(["127.0.0.1", "127.0.0.2"]); // node addresses: the portmap DNAT, as Docker's -p
        expect(server.hostNetwork).toBe(false);
        const published = f.kube.created.map((p) => p.spec.containers[0].ports);
        for (const ports of published) {
            expect(ports).toEqual(publishedMeasurementPorts.map((p) => ({ containerPort: p.port, hostPort: p.port, protocol: p.protocol })));
        }
        expect(f.kube.created.map(role)).toEqual([publishedRole, publishedRole]);
        // Every role shares the node's one port-publishing pod: a second would be rejected by the kubelet.
        const [other] = await s.pods({ role: "contract", node: 0, count: 1 });
        expect(other.name).toBe(server.name);
    });

    it("bridge: the same-node case gets the publishing pod as server and a plain pod as client; no host-port conflict arises", async () => {
        const f = await fixture();
        const s = await open(f, { name: "bridge", mode: "bridge" });
        const [server, client] = await s.pods({ role: "net", node: 0, count: 2 });
        expect(server.name).not.toBe(client.name);
        const byName = new Map(f.kube.created.map((p) => [p.metadata.name, p]));
        expect(byName.get(server.name)!.spec.containers[0].ports).toHaveLength(publishedMeasurementPorts.length);
        expect(byName.get(client.name)!.spec.containers[0].ports).toBeUndefined();
        expect(f.kube.requests.filter((r) => r === "POST /api/v1/namespaces/default/pods")).toHaveLength(2); // none rejected and retried
        expect((await client.shell.run("echo client", { timeoutMs: 10_000 })).stdout).toBe("client\n");
    });

    it("bridge: a host-network endpoint on a node first removes that node's publishing pod (its DNAT would capture the node's own servers), which comes back for the next pod request", async () => {
        const f = await fixture();
        const s = await open(f, { name: "bridge", mode: "bridge" });
        const [pod] = await s.pods({ role: "net", node: 0, count: 1 });
        const [host] = await s.pods({ role: "baseline", node: 0, count: 1, hostNetwork: true });
        expect(host.hostNetwork).toBe(true);
        expect(f.kube.podNames()).not.toContain(pod.name);
        const [back] = await s.pods({ role: "net", node: 0, count: 1 });
        expect(back.name).not.toBe(pod.name);
        expect(f.kube.podNames()).toContain(back.name);
    });

    it("negative control for the stand-in: a second pod publishing the same ports on a node is rejected (the kubelet's NodePorts admission)", async () => {
        const f = await fixture();
        const s = await open(f, { name: "bridge", mode: "bridge" });
        await s.pods({ role: "net", node: 0, count: 1 });
        const clash = benchPodManifest({ name: "clash", nodeName: "node-a", runId: s.runId, role: "x", image: stubSandboxImage, publishedPorts: publishedMeasurementPorts });
        f.kube.seedPod(clash, f.kube.pods.values().next().value!.fate);
        // seedPod bypasses admission; a create through the API does not:
        const res = await fetch(`http://127.0.0.1:${f.kube.port}/api/v1/namespaces/default/pods`, {
            method: "POST",
            headers: { authorization: "Bearer standin-token", "content-type": "application/json" },
            body: JSON.stringify({ ...clash, metadata: { ...clash.metadata, name: "clash2" } }),
        });
        expect(((await res.json()) as { status: { phase: string; reason: string } }).status).toMatchObject({ phase: "Failed", reason: "NodePorts" });
    });

    it("bridge: the stack's security group admits every port a measurement pod publishes, from the peer node (clients are masqueraded to their node IP)", () => {
        const flows = flowMatrix({ mode: "bridge", nodePort: 30080 });
        for (const p of publishedMeasurementPorts) {
            const admitted = flows.some((f) => f.from === "peer-node" && f.to === "node" && f.protocol === p.protocol.toLowerCase() && f.port === p.port);
            expect(admitted, `${p.protocol} ${p.port} from the peer node`).toBe(true);
        }
    });

    it("bridge and host decline the scaling curve with a reason; pod-network stacks measure everything", async () => {
        const f = await fixture();
        const bridge = await open(f, { name: "bridge", mode: "bridge" });
        const host = await open(f, { name: "host", mode: "host" });
        const vxlan = await open(f);
        expect(bridge.cannotMeasure("scaling")).toMatch(/one pod per node can hold a host port/);
        expect(host.cannotMeasure("scaling")).toMatch(/no container network/);
        for (const m of ["http", "guestbook", "iperf3", "latency"] as const) {
            expect(bridge.cannotMeasure(m)).toBeUndefined();
            expect(host.cannotMeasure(m)).toBeUndefined();
        }
        for (const m of ["http", "guestbook", "iperf3", "latency", "scaling"] as const) expect(vxlan.cannotMeasure(m)).toBeUndefined();
    });

    it("host: pod requests are answered with the node itself (no container network), so the pod rows measure the host path", async () => {
        const f = await fixture();
        const s = await open(f, { name: "host", mode: "host", nodes: f.target().nodes.map((n, i) => ({ ...n, privateIp: `127.0.0.${i + 1}` })) });
        const [a, b] = await s.pods({ role: "net", node: 0, count: 2 });
        const [c] = await s.pods({ role: "net", node: 1, count: 1 });
        expect([a.ip, b.ip, c.ip]).toEqual(["127.0.0.1", "127.0.0.1", "127.0.0.2"]);
        expect([a, b, c].every((e) => e.hostNetwork)).toBe(true);
        expect(f.kube.created).toEqual([]);
        const env = await s.environment();
        expect(env.podInterface).toBe(env.nodes[0].nicInterface);
    });

    it("a target whose mode is not a stack mode is refused naming the value and the allowed ones", async () => {
        const f = await fixture();
        expect(() => requireAwsFields(f.target({ mode: "flannel" }), undefined)).toThrow(/^target "vxlan": mode "flannel" is not a network mode of the stacks; allowed: vxlan, host-gw, .*bridge$/);
    });
});

describe("AWS/k3s session: opening", () => {
    it("a Kubernetes API that does not answer fails the open naming the target and the cause, and leaves no SSH connection", async () => {
        const f = await fixture();
        const port = f.kube.port;
        await f.kube.stop(); // the port is closed now
        const err = await openAwsK3sSession(f.target({ kubeconfig: f.kube.kubeconfig() })).catch((e: Error) => e);
        expect((err as Error).message).toMatch(new RegExp(`^target "vxlan": the Kubernetes API did not list the benchmark (pods|run leases): .*ECONNREFUSED.*127\\.0\\.0\\.1:${port}`));
        await new Promise((r) => setTimeout(r, 200));
        expect(f.ssh.logins.length).toBe(3); // load generator and two nodes logged in …
        expect(f.ssh.openConnections).toBe(0); // … and were closed again
        await f.kube.start(); // for the fixture's own stop()
    });
});

describe("AWS/k3s session: runs that share a cluster", () => {
    it("a second runner's pods survive a new session; pods of a run whose Lease lapsed, or that has none, are removed", async () => {
        const f = await fixture();
        const first = await open(f);
        const [mine] = await first.pods({ role: "net", node: 0, count: 1 });
        // An older runner killed with SIGKILL: pods without a Lease.
        f.kube.seedPod({ metadata: { name: "cni-bench-dead00-net-n1-0", labels: { [managedByLabel.key]: managedByLabel.value, [runLabelKey]: "dead00" } }, spec: {} });
        const second = await open(f);
        expect(f.kube.podNames()).toContain(mine.name);
        expect(f.kube.podNames()).not.toContain("cni-bench-dead00-net-n1-0");
        expect(f.kube.leases.has(`default/${runLeaseName(first.runId)}`)).toBe(true);
        expect(f.kube.leases.has(`default/${runLeaseName(second.runId)}`)).toBe(true);
        // The first runner dies without renewing: its Lease lapses.
        const lease = f.kube.leases.get(`default/${runLeaseName(first.runId)}`)!;
        const lapsed = new Date(Date.now() - (runLease.durationSeconds + 60) * 1000).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
        f.kube.leases.set(`default/${runLeaseName(first.runId)}`, { ...lease, spec: { ...lease.spec, renewTime: lapsed } });
        const [theirs] = await second.pods({ role: "net", node: 1, count: 1 });
        await open(f);
        expect(f.kube.podNames()).not.toContain(mine.name);
        expect(f.kube.leases.has(`default/${runLeaseName(first.runId)}`)).toBe(false);
        expect(f.kube.podNames()).toContain(theirs.name);
    });

    it("the Lease is renewed with the API server's MicroTime format (six fractional digits), and close() removes the run's pods and Lease", async () => {
        const f = await fixture();
        const s = await open(f);
        const key = `default/${runLeaseName(s.runId)}`;
        const before = f.kube.leases.get(key)!.spec.renewTime as string;
        expect(before).toMatch(/\.\d{6}Z$/);
        await new Promise((r) => setTimeout(r, 20));
        await s.renewLease();
        expect(f.kube.leases.get(key)!.spec.renewTime).not.toBe(before);
        await s.pods({ role: "net", node: 0, count: 1 });
        await s.close();
        expect(f.kube.podNames()).toEqual([]);
        expect(f.kube.leases.size).toBe(0);
        expect(f.kube.podNames("guestbook")).toHaveLength(guestbookPods.length);
    });
});

describe("AWS/k3s session: environment", () => {
    it("records the digest each guestbook container ran, the instance's documented bandwidth, k3s's version and the SSH host keys", async () => {
        const f = await fixture();
        const s = await open(f);
        const env = await s.environment();
        expect(env.images).toEqual(guestbookPods.map((p) => ({ pod: p.name, node: p.node, container: p.container, image: p.image, imageID: p.imageID })));
        expect(env.nodes.map((n) => n.instanceType)).toEqual([stubInstance.instanceType, stubInstance.instanceType]);
        expect(env.nodes[0].networkBandwidth).toEqual(networkBandwidth["c6i.4xlarge"]);
        expect(env.nodes[0].k3sVersion).toBe(stubInstance.k3s);
        expect(env.nodes[0].sshHostKey).toEqual({ fingerprint: expect.stringMatching(/^SHA256:[A-Za-z0-9+/]{43}$/), verification: "trust-on-first-use" });
        expect(env.loadGeneratorHostKey?.fingerprint).toBe(env.nodes[0].sshHostKey?.fingerprint);
    });

    it("the report's environment section shows each digest the guestbook ran, the bandwidth class and why both matter", async () => {
        const f = await fixture();
        const s = await open(f);
        const environment = await s.environment();
        const t = f.target();
        const { stats, gate } = aggregate([], [], [t.name]);
        const md = reportMarkdown({
            schema: summarySchema,
            startedAt: "2026-01-01T00:00:00Z",
            finishedAt: "2026-01-01T00:10:00Z",
            settings: resolveSettings([t], { outDir: "unused" }),
            targets: [{ name: t.name, mode: t.mode, platform: t.platform }],
            order: [[t.name]],
            environments: [{ target: t.name, repetition: 1, environment }],
            figures: [],
            samples: [],
            stats,
            gate,
            notes: [],
            errors: [],
        });
        for (const p of guestbookPods) expect(md).toContain(`| vxlan | ${p.name} | ${p.container} | ${p.image} | ${p.imageID} |`);
        expect(md).toContain("| vxlan | c6i.4xlarge | 6.25 / up to 12.5 |");
        expect(md).toMatch(/tags that upstream re-pushes/);
        expect(md).toMatch(/network I\/O credits last/);
        expect(md).toContain(`| vxlan | node-a | ${environment.nodes[0].sshHostKey!.fingerprint} | trust-on-first-use |`);
    });

    it("pins the host keys the stack exports", async () => {
        const f = await fixture();
        const t = f.target();
        const pinned = { ...t, nodes: t.nodes.map((n) => ({ ...n, sshHostKey: f.ssh.hostKeyLine })), loadGenerator: { ...t.loadGenerator!, sshHostKey: f.ssh.hostKeyLine } };
        const s = await openAwsK3sSession(pinned);
        sessions.push(s);
        expect(s.hosts.map((h) => h.hostKey.verification)).toEqual(["pinned", "pinned"]);
        expect(s.loadGenerator.hostKey.verification).toBe("pinned");
    });

    it("every instance type the stacks allow has a documented bandwidth class", () => {
        expect(Object.keys(networkBandwidth).sort()).toEqual([...comparisonInstanceTypes].sort());
    });

    it("k3s's version falls back to 'k3s version unknown' when k3s prints nothing (a pipeline's status is head's)", () => {
        const run = (path: string) => execFileSync("sh", ["-c", k3sVersionCommand()], { encoding: "utf8", env: { PATH: path } }).trim();
        expect(run("/usr/bin:/bin")).toBe("k3s version unknown");
    });

    it("a stack without a generated key is accepted when an agent is there, and refused naming both options when not", async () => {
        const f = await fixture();
        const own = f.target({ sshPrivateKey: undefined });
        expect(() => requireAwsFields(own, undefined)).toThrow(
            /^target "vxlan": no SSH key: neither sshPrivateKey nor sshPrivateKeyPath is set \(the stack exports sshPrivateKey only when it generated the key\) and SSH_AUTH_SOCK is not set/,
        );
        expect(requireAwsFields(own, "/run/user/1000/ssh-agent.sock").sshUser).toBe("ubuntu");
    });

    it("the pod manifest names its run and role (what cleanup selects by)", () => {
        const pod = benchPodManifest({ name: "p", nodeName: "n", runId: "ab12cd", role: "scale", image: stubSandboxImage });
        expect(pod.metadata?.labels).toEqual({ [managedByLabel.key]: managedByLabel.value, [runLabelKey]: "ab12cd", [roleLabelKey]: "scale" });
    });
});

/**
 * Cilium stacks record what each node's agent reports (issue 19, defect 4). The stand-in agent
 * prints testdata/cilium-dbg-status-{bpf,legacy}.txt: cilium 1.18's `cilium-dbg status` layout,
 * the lines of pkg/client/client.go `FormatStatusResponse` ("Routing:" with "Network: …" and
 * "Host: BPF|Legacy"; "Masquerading:" with "BPF\t[devices]\tcidr" or "IPTables", then
 * "[IPv4: …, IPv6: …]") through cilium-dbg/cmd/status.go's tabwriter (padding 3, spaces). The
 * Legacy pair is what the 1.18 chart's defaults gave: iptables masquerading, so the agent fell back
 * ("BPF host routing requires enable-bpf-masquerade", daemon/cmd/kube_proxy_replacement.go).
 */
describe("AWS/k3s session: the Cilium datapath each agent reports", () => {
    const statusOutput = (which: "bpf" | "legacy") => fs.readFileSync(path.join(__dirname, "..", "testdata", `cilium-dbg-status-${which}.txt`), "utf8");
    const ciliumTarget = (mode: "cilium" | "cilium-native") => ({ name: mode, mode, versions: { k3s: "v1.31.4+k3s1", cni: "cilium", cniVersion: "1.18.12", ubuntu: "24.04" } });

    it.each([
        [
            "cilium",
            "bpf",
            {
                hostRouting: "BPF",
                masquerading: "BPF",
                network: "Tunnel [vxlan]",
                routingLine: "Routing: Network: Tunnel [vxlan] Host: BPF",
                masqueradingLine: "Masquerading: BPF [ens5] 10.42.0.0/24 [IPv4: Enabled, IPv6: Disabled]",
            },
        ],
        [
            "cilium-native",
            "legacy",
            {
                hostRouting: "Legacy",
                masquerading: "IPTables",
                network: "Native",
                routingLine: "Routing: Network: Native Host: Legacy",
                masqueradingLine: "Masquerading: IPTables [IPv4: Enabled, IPv6: Disabled]",
            },
        ],
    ] as const)("%s: each node's environment carries its agent's host routing and masquerading (%s), read as root in the node's cilium-agent container", async (mode, which, want) => {
        const f = await fixture();
        f.ciliumStatus(statusOutput(which));
        const s = await open(f, ciliumTarget(mode));
        const env = await s.environment();
        expect(env.nodes.map((n) => n.cilium)).toEqual([want, want]);
        expect(f.sudoCommands().filter((c) => c.includes("cilium-dbg"))).toHaveLength(2);
        expect(f.sudoCommands()).toContain(`sh -c ${ciliumStatusCommand()}`);
    });

    it("a flannel or Calico stack asks no Cilium agent (none runs there)", async () => {
        const f = await fixture();
        const env = await open(f).then((s) => s.environment());
        expect(env.nodes.map((n) => n.cilium)).toEqual([undefined, undefined]);
        expect(f.sudoCommands().some((c) => c.includes("crictl ps"))).toBe(false);
    });

    it("a Cilium stack whose agent is not running fails the environment naming the node and the command, instead of recording nothing", async () => {
        const f = await fixture();
        const s = await open(f, ciliumTarget("cilium"));
        // Both nodes are asked at once; whichever answers first names itself.
        await expect(s.environment()).rejects.toThrow(
            /target "cilium": node (1 \(node-a\)|2 \(node-b\)): could not read the Cilium agent's status \(sudo -n sh -c .*cilium-dbg status.*\): exit 1: no running cilium-agent container on this node/,
        );
    });

    it("the report shows each agent's host routing and masquerading, and warns for legacy host routing", async () => {
        const f = await fixture();
        const runs: { target: string; repetition: number; environment: Awaited<ReturnType<AwsK3sSession["environment"]>> }[] = [];
        for (const [mode, which] of [
            ["cilium", "bpf"],
            ["cilium-native", "legacy"],
        ] as const) {
            f.ciliumStatus(statusOutput(which));
            const s = await open(f, ciliumTarget(mode));
            runs.push({ target: mode, repetition: 1, environment: await s.environment() });
        }
        const targets = runs.map((r) => f.target(ciliumTarget(r.target as "cilium" | "cilium-native")));
        const { stats, gate } = aggregate(
            [],
            [],
            targets.map((t) => t.name),
        );
        const summary: BenchSummaryFile = {
            schema: summarySchema,
            startedAt: "2026-01-01T00:00:00Z",
            finishedAt: "2026-01-01T00:10:00Z",
            settings: resolveSettings(targets, { outDir: "unused" }),
            targets: targets.map((t) => ({ name: t.name, mode: t.mode, platform: t.platform })),
            order: [targets.map((t) => t.name)],
            environments: runs,
            figures: [],
            samples: [],
            stats,
            gate,
            notes: [],
            errors: [],
        };
        // summary.json as written and read back keeps the record.
        expect(summaryFileSchema.parse(JSON.parse(JSON.stringify(summary))).environments[1].environment.nodes[0]).toMatchObject({ cilium: { hostRouting: "Legacy", masquerading: "IPTables" } });
        const md = reportMarkdown(summary);
        expect(md).toContain(
            "| cilium | 1 | node-a | BPF | BPF | Tunnel [vxlan] | Routing: Network: Tunnel [vxlan] Host: BPF | Masquerading: BPF [ens5] 10.42.0.0/24 [IPv4: Enabled, IPv6: Disabled] |",
        );
        expect(md).toContain("| cilium-native | 1 | node-b | Legacy | IPTables | Native | Routing: Network: Native Host: Legacy | Masquerading: IPTables [IPv4: Enabled, IPv6: Disabled] |");
        expect(md).toContain("**Legacy host routing** (cilium-native repetition 1 on node-a; cilium-native repetition 1 on node-b)");
        expect(md).not.toMatch(/Legacy host routing\*\* \([^)]*cilium repetition/);
    });
});
