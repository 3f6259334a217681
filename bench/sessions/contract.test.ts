/**
 * The ClusterSession contract (session.ts), run against every implementation available here:
 * loopback (local processes), the lab (network namespaces this test creates; needs root) and
 * the AWS/k3s session (a pod-network stack and the bridge baseline) against the stand-in
 * Kubernetes API and the in-process SSH server. What
 * the runner relies on: shells that run commands, pods on the node asked for and reused,
 * hostNetwork endpoints, releasing a role, an environment that describes the target, and a
 * close() that ends what the session started and may be called twice.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openAwsK3sSession } from "./aws-k3s";
import { descendantProcesses } from "../../test/descendants";
import { openLabSession } from "./lab";
import { LoopbackSession } from "./loopback";
import type { ClusterSession } from "./session";
import type { Target } from "../targets";
import { AwsK3sFixture } from "../../test/standins/aws-k3s-fixture";
import { routedLab } from "../../test/standins/lab-topology";

interface Implementation {
    readonly name: string;
    /** Why it cannot run here, if it cannot. */
    readonly skip?: string;
    setUp(): Promise<{ session: ClusterSession; target: Target }>;
    tearDown(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;
const loopbackTarget: Target = { name: "loop", platform: "loopback", mode: "vxlan", nodePort: 1, nodes: [], podCidr: "10.0.0.0/16", mtu: { node: 65536, pod: 65536 } };

const implementations: Implementation[] = [
    {
        name: "loopback",
        async setUp() {
            return { session: new LoopbackSession(loopbackTarget, { http: {} }), target: loopbackTarget };
        },
        async tearDown() {},
    },
    (() => {
        const lab = routedLab(`cnib-${randomBytes(3).toString("hex")}`);
        return {
            name: "lab (network namespaces)",
            skip: isRoot ? undefined : "needs root to create network namespaces",
            async setUp() {
                lab.build();
                return { session: await openLabSession(lab.target), target: lab.target };
            },
            async tearDown() {
                lab.destroy();
            },
        };
    })(),
    (() => {
        // The bridge baseline: pod endpoints publish ports and answer at node addresses.
        const fixture = new AwsK3sFixture();
        return {
            name: "aws-k3s, bridge stack (published ports; stand-in Kubernetes API + in-process SSH)",
            async setUp() {
                await fixture.start();
                const target = fixture.target({ name: "bridge", mode: "bridge" });
                return { session: await openAwsK3sSession(target), target };
            },
            async tearDown() {
                await fixture.stop();
            },
        };
    })(),
    (() => {
        const fixture = new AwsK3sFixture();
        return {
            name: "aws-k3s (stand-in Kubernetes API + in-process SSH)",
            async setUp() {
                await fixture.start();
                const target = fixture.target();
                return { session: await openAwsK3sSession(target), target };
            },
            async tearDown() {
                await fixture.stop();
            },
        };
    })(),
];

for (const impl of implementations) {
    describe.skipIf(impl.skip !== undefined)(`ClusterSession contract: ${impl.name}${impl.skip ? ` (skipped: ${impl.skip})` : ""}`, () => {
        let session: ClusterSession;
        let target: Target;

        beforeAll(async () => {
            ({ session, target } = await impl.setUp());
        });

        afterAll(async () => {
            await session?.close();
            await impl.tearDown();
        });

        it("the load generator and every host run commands; one host address per host, at least two hosts", async () => {
            expect(session.hosts.length).toBeGreaterThanOrEqual(2);
            expect(session.hostIps).toHaveLength(session.hosts.length);
            for (const shell of [session.loadGenerator, ...session.hosts]) {
                expect((await shell.run("echo $((6 * 7))", { timeoutMs: 15_000 })).stdout, shell.name).toBe("42\n");
            }
        });

        it("pods are on the node asked for, as many as asked, reused by a repeated request, and run commands", async () => {
            for (const node of [0, 1]) {
                const pods = await session.pods({ role: "contract", node, count: 2 });
                expect(pods).toHaveLength(2);
                expect(pods.every((p) => p.node === node && !p.hostNetwork && p.ip.length > 0)).toBe(true);
                const again = await session.pods({ role: "contract", node, count: 2 });
                expect(again.map((p) => p.name)).toEqual(pods.map((p) => p.name));
                expect((await pods[0].shell.run("echo pod", { timeoutMs: 15_000 })).stdout).toBe("pod\n");
            }
        });

        it("hostNetwork endpoints are marked as such, on the node asked for", async () => {
            const [host] = await session.pods({ role: "baseline", node: 1, count: 1, hostNetwork: true });
            expect(host).toMatchObject({ node: 1, hostNetwork: true });
            expect((await host.shell.run("echo host", { timeoutMs: 15_000 })).stdout).toBe("host\n");
        });

        it("releasing a role succeeds, and the role can be asked for again", async () => {
            await session.pods({ role: "released", node: 0, count: 1 });
            await session.releasePods("released");
            const [again] = await session.pods({ role: "released", node: 0, count: 1 });
            expect((await again.shell.run("echo back", { timeoutMs: 15_000 })).stdout).toBe("back\n");
        });

        it("the environment describes this target: platform, one node per host, the configured MTU, a measured pod MTU", async () => {
            const env = await session.environment();
            expect(env.mode).toBe(target.mode);
            expect(env.nodes).toHaveLength(session.hosts.length);
            expect(env.configuredMtu).toEqual(target.mtu);
            expect(env.podMtu).toBeGreaterThan(0);
            expect(env.sharedKernel).toBe(session.sharedKernel);
            expect(["loopback", "lab", "aws-k3s"]).toContain(env.platform);
        });

        it("close() ends what the session started and may be called twice", async () => {
            const [pod] = await session.pods({ role: "contract", node: 0, count: 1 });
            const marker = `sleep 3${Math.floor(Math.random() * 1000) + 1000}`;
            pod.shell.start(marker);
            await new Promise((r) => setTimeout(r, 500));
            expect(descendantProcesses().some((p) => p.args === marker)).toBe(true);
            await session.close();
            await session.close();
            await new Promise((r) => setTimeout(r, 300));
            expect(descendantProcesses().filter((p) => p.args === marker)).toEqual([]);
        });
    });
}
