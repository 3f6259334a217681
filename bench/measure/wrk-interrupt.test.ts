/**
 * The wrk command leaves nothing on the machine, however it ends: finished, Ctrl-C to its
 * process group, SIGTERM to it, or the runner's own stop (ProcessShell: TERM, then KILL).
 * Runs the real wrk on loopback against a small HTTP server in this process.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnGroup } from "../../core/process";
import { useTempDirs } from "../../test/temp-dirs";
import { wrkCommand, wrkJsonMarker } from "./commands";
import { ProcessShell } from "../sessions/shell";

const hasWrk = spawnSync("sh", ["-c", "command -v wrk"]).status === 0;

describe.skipIf(!hasWrk)("wrk command: nothing left behind (real wrk on loopback)", () => {
    const newDir = useTempDirs("wrk-interrupt-");
    let server: http.Server;
    let url = "";
    let requests = 0;
    beforeAll(async () => {
        server = http.createServer((_req, res) => {
            requests++;
            res.end("ok");
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    /** Resolves once the server has answered wrk (wrk is past loading its script). */
    async function wrkIsRunning(): Promise<void> {
        const before = requests;
        const deadline = Date.now() + 10_000;
        while (requests === before) {
            if (Date.now() > deadline) throw new Error("wrk never sent a request");
            await new Promise((r) => setTimeout(r, 50));
        }
    }

    const command = (durationSeconds: number) => wrkCommand({ url, durationSeconds, connections: 4, threads: 2, requestTimeoutSeconds: 2 });

    it("a finished run prints the JSON summary (the report script reached wrk with two threads) and leaves no file", async () => {
        const tmp = newDir();
        const proc = spawnGroup("sh", ["-c", command(1)], { env: { ...process.env, TMPDIR: tmp } });
        const r = await proc.result;
        expect(r.code, r.stderr).toBe(0);
        const line = r.stdout.split("\n").find((l) => l.startsWith(wrkJsonMarker));
        expect(line, r.stdout).toBeDefined();
        expect(JSON.parse(line!.slice(wrkJsonMarker.length)).requests).toBeGreaterThan(0);
        expect(fs.readdirSync(tmp)).toEqual([]);
    });

    for (const sig of ["SIGINT", "SIGTERM", "SIGKILL"] as const) {
        it(`${sig} to the command's process group while wrk runs leaves no file`, async () => {
            const tmp = newDir();
            const proc = spawnGroup("sh", ["-c", command(20)], { env: { ...process.env, TMPDIR: tmp } });
            await wrkIsRunning();
            proc.signalGroup(sig);
            await proc.result;
            expect(fs.readdirSync(tmp), `left in TMPDIR after ${sig}`).toEqual([]);
        });
    }

    it("the runner's stop (an aborted ProcessShell.run: TERM, then KILL) leaves no file", async () => {
        const tmp = newDir();
        const previous = process.env.TMPDIR;
        process.env.TMPDIR = tmp; // ProcessShell's commands inherit this process's environment
        try {
            const shell = ProcessShell.local("load generator");
            const abort = new AbortController();
            const run = shell.run(command(20), { timeoutMs: 60_000, signal: abort.signal });
            await wrkIsRunning();
            abort.abort();
            await expect(run).rejects.toThrow(/aborted/);
            await shell.close();
        } finally {
            process.env.TMPDIR = previous;
        }
        expect(fs.readdirSync(tmp)).toEqual([]);
    });
});

describe.skipIf(hasWrk)("wrk command: nothing left behind", () => {
    it.skip("skipped: wrk is not installed (apt-get install wrk)", () => {});
});
