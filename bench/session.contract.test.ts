/**
 * The ClusterSession contract (bench/session.ts), run against every implementation that can run
 * here: the loopback session (always) and the lab session on a lab mode built by lab/ (root
 * only; the lab's own namespaces, removed afterwards). The AWS/k3s session needs a stubbed
 * Kubernetes API and is not covered here (bench/aws-k3s.ts belongs to another change).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../lab/lab";
import { processStartTime } from "../core/process";
import { pollUntil } from "../core/wait";
import { openLabSession } from "./lab-session";
import { LoopbackSession } from "./loopback-session";
import { measurementIds } from "./measurements";
import { loopbackTarget } from "./sample";
import type { ClusterSession } from "./session";

interface Implementation {
    readonly name: string;
    readonly unavailable?: string;
    open(): Promise<{ session: ClusterSession; dispose(): Promise<void> }>;
}

const isRoot = process.getuid?.() === 0;

const implementations: Implementation[] = [
    {
        name: "loopback",
        open: async () => ({ session: new LoopbackSession(loopbackTarget("contract", "vxlan"), { http: {} }), dispose: async () => undefined }),
    },
    {
        name: "lab (host-gw built by lab/)",
        unavailable: isRoot ? undefined : "needs root (network namespaces)",
        open: async () => {
            const ledgerDir = fs.mkdtempSync(path.join(os.tmpdir(), "session-contract-"));
            const lab = Lab.open(ledgerDir);
            try {
                const built = await lab.build("host-gw");
                return {
                    session: await openLabSession(built.target),
                    dispose: async () => {
                        await lab.close();
                        fs.rmSync(ledgerDir, { recursive: true, force: true });
                    },
                };
            } catch (error) {
                await lab.close();
                fs.rmSync(ledgerDir, { recursive: true, force: true });
                throw error;
            }
        },
    },
];

for (const impl of implementations) {
    describe.skipIf(impl.unavailable !== undefined)(`ClusterSession contract: ${impl.name}${impl.unavailable ? ` — SKIPPED: ${impl.unavailable}` : ""}`, () => {
        let session: ClusterSession;
        let dispose: () => Promise<void> = async () => undefined;
        beforeAll(async () => {
            ({ session, dispose } = await impl.open());
        }, 120_000);
        afterAll(async () => {
            await session?.close();
            await dispose();
        });

        it("describes its environment: the target's platform, one entry per node, the configured MTU", async () => {
            const env = await session.environment();
            expect(env.platform).toBe(session.target.platform);
            expect(env.nodes).toHaveLength(session.hosts.length);
            expect(env.configuredMtu).toEqual(session.target.mtu);
            expect(env.sharedKernel).toBe(session.sharedKernel);
        });

        it("answers for every measurement whether it can run it (a reason, or nothing)", () => {
            for (const m of measurementIds) {
                const reason = session.cannotMeasure?.(m);
                expect(reason === undefined || (typeof reason === "string" && reason.length > 0), m).toBe(true);
            }
        });

        it("gives pods on the node asked for, each with a working shell", async () => {
            if (session.cannotMeasure?.("iperf3") !== undefined) return;
            const pods = await session.pods({ role: "contract", node: 1, count: 2 });
            expect(pods).toHaveLength(2);
            for (const pod of pods) {
                expect(pod.node).toBe(1);
                const r = await pod.shell.run("echo contract-ok", { timeoutMs: 10_000 });
                expect(r).toMatchObject({ code: 0, stdout: "contract-ok\n" });
            }
        });

        it("close() stops what its shells started, and may be called twice", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "session-contract-pid-"));
            try {
                const pidFile = path.join(dir, "pid");
                const background = session.hosts[0].start(`echo $$ > ${pidFile}; exec sleep 30`);
                await pollUntil("the background pid", () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim() !== "", { timeoutMs: 5_000, intervalMs: 50 });
                const pid = Number(fs.readFileSync(pidFile, "utf8"));
                expect(processStartTime(pid), "the background process runs").toBeDefined();
                await session.close();
                await session.close();
                await background.done;
                expect(processStartTime(pid), "the background process is gone").toBeUndefined();
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
}
