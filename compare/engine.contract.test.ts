/**
 * The StackEngine contract (compare/engine.ts), run against every implementation available here:
 *  - the stand-in (in memory, and with its state in files as the CLI tests use it);
 *  - the Pulumi adapter (compare/pulumi-engine.ts) through the Automation API, against the fake
 *    `pulumi` on PATH (test/compare/fake-pulumi.ts): the adapter's side of the protocol;
 *  - the Pulumi adapter against a real `pulumi` CLI with the Automation API's local backend
 *    (file://) and a tiny project of its own, when a CLI is installed. None can be installed on
 *    the development machines (no Pulumi CLI here), so that row is skipped with the reason.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFromStackOutputs } from "../bench/stack-outputs";
import { GroupPulumiCommand, OperationCancelledError, StackNotFoundError } from "../core/pulumi";
import type { StackEngine } from "./engine";
import { PulumiEngine } from "./pulumi-engine";
import { writeFakePulumi } from "../test/compare/fake-pulumi";
import { fakeOutputs, StandInEngine } from "../test/compare/stand-in-engine";

/** The `pulumi` on PATH, if any (`command -v`, POSIX). */
function installedPulumi(): string | undefined {
    try {
        return execFileSync("sh", ["-c", "command -v pulumi"], { encoding: "utf8" }).trim() || undefined;
    } catch {
        return undefined;
    }
}

interface Implementation {
    readonly name: string;
    /** Why this implementation cannot run here (the row is skipped with it). */
    readonly unavailable?: string;
    /** How long an up of this implementation takes, so the abort case can land mid-update. */
    readonly upMs: number;
    make(dir: string): StackEngine;
}

const outputs = fakeOutputs("vxlan", 3);

/** A project whose program only exports outputs shaped like index.ts's: no cloud resources. */
function writeProbeProject(dir: string): string {
    const project = path.join(dir, "project");
    fs.mkdirSync(path.join(project, "stacks"), { recursive: true });
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: engine-contract-probe\nruntime: nodejs\nstackConfigDir: stacks\n");
    fs.writeFileSync(
        path.join(project, "index.js"),
        `// Waits a little so an abort can land mid-update, then exports the outputs.\nconst outputs = ${JSON.stringify(outputs)};\nmodule.exports = new Promise((r) => setTimeout(() => r(outputs), 3000));\n`,
    );
    return project;
}

const implementations: Implementation[] = [
    { name: "stand-in (in memory)", upMs: 1_000, make: () => new StandInEngine(undefined, { upMs: 1_000, resources: 10, destroyMs: 50 }) },
    { name: "stand-in (state in files)", upMs: 1_000, make: (dir) => new StandInEngine(path.join(dir, "state"), { upMs: 1_000, resources: 10, destroyMs: 50 }) },
    {
        name: "Pulumi adapter + Automation API against a fake pulumi CLI",
        upMs: 1_000,
        make: (dir) => {
            const bin = writeFakePulumi(path.join(dir, "fake"), { upMs: 1_000, destroyMs: 100, upOnSigint: "stop", upOnSigterm: "stop", exitAfterSignalMs: 200, outputs: { ...outputs } });
            const command = new GroupPulumiCommand(path.join(bin, "pulumi"), { afterInterruptMs: 2_000, afterTerminateMs: 1_000, afterKillMs: 2_000 });
            return new PulumiEngine(path.resolve(__dirname, ".."), `file://${path.join(dir, "backend")}`, path.join(dir, "ledger"), command);
        },
    },
    {
        name: "Pulumi adapter + Automation API, local backend, real pulumi CLI",
        unavailable: installedPulumi() ? undefined : "no `pulumi` CLI on PATH (it cannot be installed on this machine)",
        upMs: 3_000,
        make: (dir) => {
            process.env.PULUMI_CONFIG_PASSPHRASE ??= "engine-contract-test";
            return new PulumiEngine(writeProbeProject(dir), `file://${path.join(dir, "backend")}`, path.join(dir, "ledger"));
        },
    },
];

for (const impl of implementations) {
    describe.skipIf(impl.unavailable !== undefined)(`StackEngine contract: ${impl.name}${impl.unavailable ? ` — SKIPPED: ${impl.unavailable}` : ""}`, () => {
        let dir: string;
        let engine: StackEngine;
        beforeAll(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "engine-contract-"));
            engine = impl.make(dir);
        });
        afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

        it("create makes a stack exist; creating it again fails; selecting a missing one is a StackNotFoundError", async () => {
            expect(await engine.exists("vxlan")).toBe(false);
            await expect(engine.select("vxlan")).rejects.toBeInstanceOf(StackNotFoundError);
            const stack = await engine.create("vxlan");
            expect(stack.name).toBe("vxlan");
            expect(await engine.exists("vxlan")).toBe(true);
            await expect(engine.create("vxlan")).rejects.toThrow(/already exists/);
        });

        it("an aborted up gets one stop request and settles as OperationCancelledError once it has stopped", async () => {
            const stack = await engine.select("vxlan");
            await stack.setConfig({ operatorCidr: "203.0.113.7/32" });
            const abort = new AbortController();
            setTimeout(() => abort.abort(), impl.upMs / 3);
            await expect(stack.up({ signal: abort.signal })).rejects.toBeInstanceOf(OperationCancelledError);
        });

        it("up deploys: the outputs are what the runner reads as a target; the CLI's pid is reported", async () => {
            const stack = await engine.select("vxlan");
            const pids: number[] = [];
            await stack.up({ onProcess: (pid) => pids.push(pid) });
            const target = targetFromStackOutputs("vxlan", await stack.outputs());
            expect(target).toMatchObject({ name: "vxlan", platform: "aws-k3s", mode: "vxlan", nodePort: outputs.nodePort });
            if (impl.name.startsWith("Pulumi")) expect(pids.length, "the CLI process of the update").toBe(1);
        });

        it("a stack that still has resources is not removed; destroy then remove makes it disappear", async () => {
            const stack = await engine.select("vxlan");
            await expect(stack.remove()).rejects.toThrow(/resources/);
            await stack.destroy({});
            await stack.remove();
            expect(await engine.exists("vxlan")).toBe(false);
        });
    });
}
