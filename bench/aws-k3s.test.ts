/**
 * The AWS/k3s session against a stand-in Kubernetes API (testing/kube-api-standin.ts) and the
 * in-process SSH server: pods that fail are replaced under fresh names, the API's error body
 * reaches the message, measurement pods carry no probes, a second runner's pods survive a new
 * session, and the environment records the digests the guestbook ran.
 */
import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { benchPodManifest, requireAwsFields, managedByLabel, openAwsK3sSession, podLifetimeSeconds, roleLabelKey, runLabelKey, runLease, runLeaseName, type AwsK3sSession } from "./aws-k3s";
import { k3sVersionCommand } from "./commands";
import { networkBandwidth } from "./environment";
import { reportMarkdown } from "./report";
import { benchDefaults, plannedToolSeconds, resolveSettings } from "./run";
import { aggregate, summarySchema } from "./summary";
import { AwsK3sFixture, guestbookPods, stubInstance } from "./testing/aws-k3s-fixture";
import type { PodFate } from "./testing/kube-api-standin";
import { comparisonInstanceTypes } from "../components/settings";

const fixtures: AwsK3sFixture[] = [];
const sessions: AwsK3sSession[] = [];

async function fixture(kube: ConstructorParameters<typeof AwsK3sFixture>[0] = {}): Promise<AwsK3sFixture> {
    const f = new AwsK3sFixture(kube);
    fixtures.push(f);
    await f.start();
    return f;
}

async function open(f: AwsK3sFixture): Promise<AwsK3sSession> {
    const s = await openAwsK3sSession(f.target());
    sessions.push(s);
    return s;
}

afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => undefined)));
    await Promise.all(fixtures.splice(0).map((f) => f.stop()));
});

const aptFailure: PodFate = { kind: "failed", reason: "Error", exitCode: 100, log: "E: Unable to locate package sockperf" };
const role = (pod: { metadata?: { labels?: Record<string, string> } }) => pod.metadata?.labels?.[roleLabelKey];

describe("AWS/k3s session: measurement pods", () => {
    it("a pod that fails once is deleted and replaced under a fresh name, and the run continues in the new pod", async () => {
        const f = await fixture({ fate: (pod, nth) => (nth === 0 && role(pod) === "net" ? aptFailure : { kind: "ready" }) });
        const s = await open(f);
        const [pod] = await s.pods({ role: "net", node: 0, count: 1 });
        const [failed, replacement] = f.kube.created.map((p) => p.metadata.name);
        expect(pod.name).toBe(replacement);
        expect(replacement).not.toBe(failed);
        expect(f.kube.podNames()).not.toContain(failed); // the failed pod was deleted
        expect(f.kube.requests).toContain(`DELETE /api/v1/namespaces/default/pods/${failed}`);
        expect((await pod.shell.run("echo in-pod", { timeoutMs: 10_000 })).stdout).toBe("in-pod\n");
        // The same request again reuses the pod that came up.
        expect((await s.pods({ role: "net", node: 0, count: 1 }))[0].name).toBe(replacement);
        expect(f.kube.created).toHaveLength(2);
    });

    it("a role whose pods fail twice fails that request with the pod's reason and log; the next repetition creates fresh pods and succeeds", async () => {
        const f = await fixture({ fate: (pod, nth) => (nth < 2 && role(pod) === "net" ? aptFailure : { kind: "ready" }) });
        const s = await open(f);
        const err = await s.pods({ role: "net", node: 0, count: 1 }).catch((e: Error) => e);
        expect((err as Error).message).toMatch(/net pod on node 1 failed 2 times: pod cni-bench-\w+-net-n1-0 ended \(Failed: Error, exit 100\); log: E: Unable to locate package sockperf/);
        // Before the fix, the deterministic name made every later create answer HTTP 409.
        const [pod] = await s.pods({ role: "net", node: 0, count: 1 });
        expect(pod.name).toMatch(/-net-n1-2$/);
        expect(new Set(f.kube.created.map((p) => p.metadata.name)).size).toBe(3);
        // environment() needs the net pods; it works again in the next repetition.
        const env = await s.environment();
        expect(env.podInterface).toBeDefined();
    });

    it("of several pods requested together, the ones that came up are kept when one fails", async () => {
        const f = await fixture({ fate: (pod, nth) => (nth === 1 || nth === 3 ? aptFailure : { kind: "ready" }) });
        const s = await open(f);
        await expect(s.pods({ role: "scale", node: 0, count: 3 })).rejects.toThrow(/1 of 3 pod\(s\) did not come up/);
        const kept = f.kube.podNames().filter((n) => n.includes("-scale-"));
        expect(kept).toHaveLength(2);
        const pods = await s.pods({ role: "scale", node: 0, count: 3 });
        expect(pods.map((p) => p.name)).toEqual(expect.arrayContaining(kept));
        expect(f.kube.created).toHaveLength(5); // 3 + 1 replacement (failed again) + 1 now
    });

    it("a kept pod that ended (its deadline, an eviction) is replaced on the next request", async () => {
        const f = await fixture();
        const s = await open(f);
        const [first] = await s.pods({ role: "net", node: 1, count: 1 });
        const stored = f.kube.pods.get(`default/${first.name}`)!;
        f.kube.pods.set(`default/${first.name}`, { ...stored, fate: { kind: "failed", reason: "DeadlineExceeded", exitCode: 137, log: "" } });
        const [second] = await s.pods({ role: "net", node: 1, count: 1 });
        expect(second.name).not.toBe(first.name);
        expect(f.kube.podNames()).not.toContain(first.name);
    });

    it("pod exec: exit codes come from the API's final Status; a Status without one is an error, never 'exit 1'", async () => {
        const f = await fixture();
        const s = await open(f);
        const [pod] = await s.pods({ role: "net", node: 0, count: 1 });
        expect(await pod.shell.run("echo out; exit 7", { timeoutMs: 10_000 })).toEqual({ stdout: "out\n", stderr: "", code: 7 });
        const stored = f.kube.pods.get(`default/${pod.name}`)!;
        f.kube.pods.set(`default/${pod.name}`, { ...stored, fate: { kind: "pending", waitingReason: "ContainerCreating", message: "" } });
        await expect(pod.shell.run("echo never", { timeoutMs: 10_000 })).rejects.toThrow(/pod .*: exec failed \(NotFound: pod not running\) while running/);
    });

    it("the Kubernetes API's error body reaches the message, not just the status code", async () => {
        const message = 'pods is forbidden: User "system:serviceaccount:default:bench" cannot create resource "pods" in API group "" in the namespace "default"';
        const f = await fixture({ rejectCreate: () => ({ code: 403, reason: "Forbidden", message }) });
        const s = await open(f);
        const err = await s.pods({ role: "net", node: 0, count: 1 }).catch((e: Error) => e);
        expect((err as Error).message).toContain(`could not create it: HTTP 403 Forbidden: ${message}`);
    });

    it("measurement pods carry no probes, and their deadline outlasts a long run (five stacks, 20 repetitions, default plan)", async () => {
        const f = await fixture();
        const s = await open(f);
        await s.pods({ role: "net", node: 0, count: 1 });
        await s.pods({ role: "baseline", node: 1, count: 1, hostNetwork: true });
        expect(f.kube.created).toHaveLength(2);
        for (const pod of f.kube.created) {
            for (const c of pod.spec.containers) {
                expect(c, `container ${c.name} of ${pod.metadata.name}`).not.toHaveProperty("readinessProbe");
                expect(c).not.toHaveProperty("livenessProbe");
                expect(c).not.toHaveProperty("startupProbe");
            }
        }
        // Readiness was read from the log while waiting, once per pod; nothing polls it afterwards.
        const logReads = () => f.kube.requests.filter((r) => r.endsWith("/log")).length;
        const before = logReads();
        await s.pods({ role: "net", node: 0, count: 1 });
        expect(logReads()).toBe(before);
        const targets = Array.from({ length: 5 }, (_, i) => f.target({ name: `stack${i}` }));
        const longRun = plannedToolSeconds(targets, resolveSettings(targets, { outDir: "unused", repetitions: 20 }));
        expect(f.kube.created[0].spec.activeDeadlineSeconds).toBe(podLifetimeSeconds);
        expect(podLifetimeSeconds).toBeGreaterThan(2 * longRun);
        expect(benchDefaults.repetitions).toBeLessThan(20);
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
        // Asking again creates new ones (the released pods are forgotten, not reused).
        const again = await s.pods({ role: "scale", node: 0, count: 1 });
        expect(f.kube.podNames()).toContain(again[0].name);
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
        const pod = benchPodManifest({ name: "p", nodeName: "n", hostNetwork: false, runId: "ab12cd", role: "scale" });
        expect(pod.metadata?.labels).toEqual({ [managedByLabel.key]: managedByLabel.value, [runLabelKey]: "ab12cd", [roleLabelKey]: "scale" });
    });
});
