/**
 * SshShell over a real SSH connection: an in-process ssh2 server on 127.0.0.1 that runs each
 * exec request as a local `sh -c` (no sshd on these machines). Proves run, exit codes, timeouts,
 * background start/stop through the process-group wrapper, and authentication errors.
 */
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Server } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descendantProcesses } from "./descendants";
import { connectSsh, type SshShell } from "./ssh";

const pem = () => generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } }).privateKey;
const hostKey = pem();
const clientKey = pem();

let server: Server;
let port: number;
let shell: SshShell;

beforeAll(async () => {
    server = new Server({ hostKeys: [hostKey] }, (client) => {
        client.on("authentication", (ctx) => (ctx.method === "publickey" && ctx.username === "ubuntu" ? ctx.accept() : ctx.reject(["publickey"])));
        client.on("ready", () => {
            client.on("session", (acceptSession) => {
                acceptSession().on("exec", (accept, _reject, info) => {
                    const stream = accept();
                    const child = spawn("sh", ["-c", info.command], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
                    child.stdout.pipe(stream, { end: false });
                    child.stderr.pipe(stream.stderr, { end: false });
                    child.on("close", (code) => {
                        stream.exit(code ?? 255);
                        stream.end();
                    });
                    // Like sshd without a pty: closing the channel does not signal the command.
                });
            });
        });
        client.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    shell = await connectSsh("node 1", { host: "127.0.0.1", port, username: "ubuntu", privateKey: clientKey });
});

afterAll(async () => {
    await shell?.close();
    await new Promise((r) => server.close(r));
    await new Promise((r) => setTimeout(r, 300)); // the hung-up commands' exit
    expect(descendantProcesses()).toEqual([]);
});

describe("SshShell", () => {
    it("runs a command and returns its output and exit code", async () => {
        expect(await shell.run("echo out; echo err >&2; exit 3", { timeoutMs: 10_000 })).toEqual({ stdout: "out\n", stderr: "err\n", code: 3 });
    });

    it("times out with the shell's name and the command, and ends the remote command", async () => {
        await expect(shell.run("sleep 20", { timeoutMs: 500 })).rejects.toThrow("node 1: no answer within 0.5 s from: sleep 20");
        // Closing the channel alone would not end it (sshd sends no SIGHUP without a pty).
        expect(descendantProcesses().filter((p) => p.args === "sleep 20")).toEqual([]);
    });

    it("starts a background server and stops it and its children by process group", async () => {
        const proc = shell.start("echo started; sleep 30 & sleep 30; echo never");
        await new Promise((r) => setTimeout(r, 500));
        const sleeping = () => descendantProcesses().filter((p) => p.args === "sleep 30");
        expect(sleeping()).toHaveLength(2);
        const started = Date.now();
        const result = await proc.stop();
        expect(Date.now() - started).toBeLessThan(5000);
        expect(result.stdout).toBe("started\n"); // the bench-pgid line is stripped
        expect(sleeping()).toEqual([]);
    });

    it("a wrong user fails with the user and host named, never the key", async () => {
        const err: Error = await connectSsh("node 2", { host: "127.0.0.1", port, username: "nobody", privateKey: clientKey }).then(
            () => new Error("connected"),
            (e) => e,
        );
        expect(err.message).toMatch(new RegExp(`^node 2: SSH to nobody@127\\.0\\.0\\.1:${port} failed: All configured authentication methods failed`));
        expect(err.message).not.toContain("PRIVATE KEY");
    });
});
