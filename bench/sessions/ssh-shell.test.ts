/**
 * SshShell over a real SSH connection: the in-process ssh2 server of test/standins/sshd.ts on
 * 127.0.0.1 (it can cut and corrupt the connection; stock sshd is in ssh-sessions.test.ts). Proves run, exit codes, signals, timeouts, background
 * start/stop through the process-group wrapper, authentication by key and by a real OpenSSH
 * ssh-agent, host-key pinning and trust on first use, and one reconnect after a dropped
 * connection.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descendantProcesses } from "../../test/descendants";
import { CommandError, runChecked } from "./shell";
import { connectSsh, fingerprintOf, hostKeyBlob, sshAuthFrom, type SshShell } from "./ssh";
import { opensshEd25519HostKey, publicLine, rsaPem, SshStandin } from "../../test/standins/sshd";

const clientKey = rsaPem();
let server: SshStandin;
let shell: SshShell;
const target = () => ({ host: "127.0.0.1", port: server.port, username: "ubuntu" });

beforeAll(async () => {
    server = new SshStandin({ username: "ubuntu", authorizedKey: publicLine(clientKey) });
    await server.start();
    shell = await connectSsh("node 1", { ...target(), privateKey: clientKey });
});

afterAll(async () => {
    await shell?.close();
    await server?.stop();
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

    it("a command whose session is killed by a signal is reported as that signal, not as an exit code", async () => {
        // The remote side kills the process sshd started (the wrapper's parent); sshd then sends
        // exit-signal "KILL" (RFC 4254 §6.10), which ssh2 hands over as (null, "SIGKILL").
        const result = await shell.run("kill -KILL $PPID; sleep 0.2", { timeoutMs: 10_000 });
        expect(result).toMatchObject({ code: null, signal: "SIGKILL" });
        const err = await runChecked(shell, "kill -KILL $PPID; sleep 0.2", { timeoutMs: 10_000 }).catch((e: CommandError) => e);
        expect(err).toBeInstanceOf(CommandError);
        expect((err as Error).message).toMatch(/^node 1: command was killed by SIGKILL: kill -KILL/);
    });

    it("a wrong user fails with the user and host named, never the key", async () => {
        const err: Error = await connectSsh("node 2", { ...target(), username: "nobody", privateKey: clientKey }).then(
            () => new Error("connected"),
            (e) => e,
        );
        expect(err.message).toMatch(new RegExp(`^node 2: SSH to nobody@127\\.0\\.0\\.1:${server.port} failed: All configured authentication methods failed`));
        expect(err.message).not.toContain("PRIVATE KEY");
    });
});

describe("SSH host keys", () => {
    it("without a recorded host key: trust on first use, with OpenSSH's own fingerprint of the key", () => {
        // ssh-keygen(1) -l prints "<bits> SHA256:<base64> <comment> (<type>)" for a key on stdin.
        const reference = execFileSync("ssh-keygen", ["-l", "-f", "-"], { input: server.hostKeyLine + "\n", encoding: "utf8" }).split(" ")[1];
        expect(shell.hostKey).toEqual({ fingerprint: reference, verification: "trust-on-first-use" });
        expect(fingerprintOf(hostKeyBlob(server.hostKeyLine, "test"))).toBe(reference);
    });

    it("a recorded host key that matches is pinned", async () => {
        const pinned = await connectSsh("node 2", { ...target(), privateKey: clientKey, hostKey: `${server.hostKeyLine} root@node-2` });
        try {
            expect(pinned.hostKey.verification).toBe("pinned");
            expect((await pinned.run("echo ok", { timeoutMs: 10_000 })).stdout).toBe("ok\n");
        } finally {
            await pinned.close();
        }
    });

    it("the line a stack exports (ssh-keygen's ssh_host_ed25519_key.pub, with its comment) pins an ed25519 host", async () => {
        const key = opensshEd25519HostKey();
        const host = new SshStandin({ username: "ubuntu", authorizedKey: publicLine(clientKey), hostKey: key.privateKey });
        await host.start();
        try {
            const s = await connectSsh("node 6", { host: "127.0.0.1", port: host.port, username: "ubuntu", privateKey: clientKey, hostKey: key.publicLine });
            expect(key.publicLine).toMatch(/^ssh-ed25519 AAAA\S+ root@ip-10-0-1-10$/);
            expect(s.hostKey).toEqual({ fingerprint: execFileSync("ssh-keygen", ["-l", "-f", "-"], { input: key.publicLine + "\n", encoding: "utf8" }).split(" ")[1], verification: "pinned" });
            await s.close();
        } finally {
            await host.stop();
        }
    });

    it("a host presenting another key is refused, naming both fingerprints", async () => {
        const other = publicLine(rsaPem());
        const err: Error = await connectSsh("node 2", { ...target(), privateKey: clientKey, hostKey: other }).then(
            () => new Error("connected"),
            (e) => e,
        );
        expect(err.message).toContain(`node 2: SSH to ubuntu@127.0.0.1:${server.port} refused: the host presented key ${shell.hostKey.fingerprint}`);
        expect(err.message).toContain(fingerprintOf(hostKeyBlob(other, "test")));
    });

    it("a recorded host key that is not a public key line fails before connecting, naming the key", async () => {
        await expect(connectSsh("node 2", { ...target(), privateKey: clientKey, hostKey: "not-a-key" })).rejects.toThrow(/^node 2: sshHostKey: "not-a-key…" is not an OpenSSH public key line/);
    });
});

describe("SSH agent", () => {
    let dir: string;
    let agent: ChildProcess;
    let socket: string;

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "cni-bench-agent-"));
        socket = path.join(dir, "agent.sock");
        // A real OpenSSH agent in the foreground (-D) on a socket of our own (-a), holding the key.
        agent = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
        for (let i = 0; i < 50 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
        execFileSync("ssh-add", ["-q", "-"], { input: clientKey, env: { ...process.env, SSH_AUTH_SOCK: socket } });
    });

    afterAll(async () => {
        agent?.kill("SIGTERM");
        await new Promise((r) => agent.once("close", r));
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("with no private key (a stack built with the user's own key), the agent at SSH_AUTH_SOCK logs in", async () => {
        const auth = sshAuthFrom(undefined, socket);
        expect(auth).toEqual({ agent: socket });
        const viaAgent = await connectSsh("node 3", { ...target(), ...auth });
        try {
            expect((await viaAgent.run("echo agent", { timeoutMs: 10_000 })).stdout).toBe("agent\n");
        } finally {
            await viaAgent.close();
        }
    });

    it("neither a key nor an agent: a clear error before any connection", () => {
        expect(() => sshAuthFrom(undefined, undefined)).toThrow("SSH: no private key and SSH_AUTH_SOCK is not set");
    });
});

describe("SSH reconnect", () => {
    it("a dropped connection fails the running command with the cause, and the next command reconnects once", async () => {
        const s = await connectSsh("node 4", { ...target(), privateKey: clientKey });
        try {
            const running = s.run("sleep 3; echo late", { timeoutMs: 10_000 }).then(
                () => "finished",
                (e: Error) => e.message,
            );
            await new Promise((r) => setTimeout(r, 300));
            server.cut();
            // The message names the command (inside the process-group wrapper) and the connection's own cause.
            const message = await running;
            expect(message).toMatch(/^node 4: the SSH connection was lost while running: .*sleep 3; echo late.* \(the server closed the connection\)$/);
            expect((await s.run("echo again", { timeoutMs: 10_000 })).stdout).toBe("again\n");
            expect(s.reconnects).toBe(1);
            expect(s.hostKey.verification).toBe("trust-on-first-use");
        } finally {
            await s.close();
        }
    });

    it("a connection error after login (a corrupted packet) is not swallowed: the running command fails with it, the next one reconnects", async () => {
        const s = await connectSsh("node 7", { ...target(), privateKey: clientKey });
        try {
            const running = s.run("sleep 3", { timeoutMs: 10_000 }).then(
                () => "finished",
                (e: Error) => e.message,
            );
            await new Promise((r) => setTimeout(r, 300));
            server.corrupt();
            const message = await running;
            expect(message).toMatch(/^node 7: the SSH connection was lost while running: .*sleep 3.* \((?!the server closed the connection).+\)$/);
            expect((await s.run("echo again", { timeoutMs: 10_000 })).stdout).toBe("again\n");
        } finally {
            await s.close();
        }
    });

    it("when the host is gone, the next command says the connection dropped and reconnecting failed", async () => {
        const relayOnly = new SshStandin({ username: "ubuntu", authorizedKey: publicLine(clientKey) });
        await relayOnly.start();
        const s = await connectSsh("node 5", { host: "127.0.0.1", port: relayOnly.port, username: "ubuntu", privateKey: clientKey });
        await relayOnly.stop();
        await new Promise((r) => setTimeout(r, 200));
        await expect(s.run("echo never", { timeoutMs: 10_000 })).rejects.toThrow(
            /^node 5: the SSH connection dropped \(.+\) and reconnecting failed: node 5: SSH to ubuntu@127\.0\.0\.1:\d+ failed: connect ECONNREFUSED/,
        );
        await s.close();
    });
});
