/**
 * Concurrent commands over SSH against stock OpenSSH sshd (test/real-sshd.ts; root, openssh-server)
 * and the in-process stand-in, which must refuse what sshd refuses. sshd allows MaxSessions (10
 * by default) open sessions per connection and answers the 11th channel open with a failure
 * (openssh-portable servconf.h DEFAULT_SESSIONS_MAX; session.c session_new; serverloop.c
 * server_input_channel_open). SshShell keeps fewer than that open per connection and opens
 * another connection when it needs more, so the scaling run's dozens of concurrent commands
 * per node all get a channel, and none waits behind long-lived servers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, type ClientChannel } from "ssh2";
import { pollUntil } from "../../core/wait";
import { descendantProcesses } from "../../test/descendants";
import { channelsPerConnection, connectSsh, opensshMaxSessions, type SshShell } from "./ssh";
import { publicLine, rsaPem, SshStandin } from "../../test/standins/sshd";
import { Sshd, sshdUnavailable } from "../../test/real-sshd";

const clientKey = rsaPem();

interface Server {
    readonly name: string;
    readonly skip?: string;
    readonly username: string;
    start(): Promise<number>;
    stop(): Promise<void>;
    /** sshd's effective configuration (`sshd -T`), for the real one. */
    effectiveConfig?(): string;
}

const standin = (() => {
    const server = new SshStandin({ username: "ubuntu", authorizedKey: publicLine(clientKey) });
    return { name: "the stand-in (test/standins/sshd.ts)", username: "ubuntu", start: async () => (await server.start(), server.port), stop: () => server.stop() };
})();

const stock = (() => {
    const sshd = new Sshd(publicLine(clientKey));
    const skip = sshdUnavailable();
    return {
        name: "stock OpenSSH sshd",
        skip,
        username: "root",
        start: async () => (await sshd.start(), sshd.port),
        stop: () => sshd.stop(),
        effectiveConfig: () => sshd.effectiveConfig(),
    };
})();

/** One plain ssh2 connection (no SshShell). */
async function rawConnection(port: number, username: string): Promise<Client> {
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
        client.once("ready", () => resolve()).once("error", reject);
        client.connect({ host: "127.0.0.1", port, username, privateKey: clientKey, hostVerifier: () => true });
    });
    return client;
}

/** Opens a channel running `command`; resolves with the stream, or the refusal. */
function openExec(client: Client, command: string): Promise<ClientChannel | Error> {
    return new Promise((resolve) => client.exec(command, (err, stream) => resolve(err ?? stream)));
}

/** Opens `count` exec channels at once on one plain connection: what each got. */
async function rawConcurrentExecs(port: number, username: string, count: number): Promise<{ ok: number; refused: { message: string; reason: unknown }[] }> {
    const client = await rawConnection(port, username);
    try {
        const results = await Promise.all(
            Array.from(
                { length: count },
                () =>
                    new Promise<{ ok: true } | { ok: false; message: string; reason: unknown }>((resolve) =>
                        client.exec("sleep 2", (err, stream) => {
                            if (err) return resolve({ ok: false, message: err.message, reason: (err as Error & { reason?: unknown }).reason });
                            stream.resume().on("close", () => resolve({ ok: true }));
                        }),
                    ),
            ),
        );
        return { ok: results.filter((r) => r.ok).length, refused: results.flatMap((r) => (r.ok ? [] : [{ message: r.message, reason: r.reason }])) };
    } finally {
        client.end();
    }
}

for (const server of [stock, standin] as Server[]) {
    describe.skipIf(server.skip !== undefined)(`SSH sessions per connection: ${server.name}${server.skip ? ` (skipped: ${server.skip})` : ""}`, () => {
        let port: number;
        let shell: SshShell;

        beforeAll(async () => {
            port = await server.start();
            shell = await connectSsh("node 1", { host: "127.0.0.1", port, username: server.username, privateKey: clientKey });
        }, 20_000);

        afterAll(async () => {
            await shell?.close();
            await server.stop();
            await new Promise((r) => setTimeout(r, 300));
            expect(descendantProcesses().filter((p) => /sleep/.test(p.args))).toEqual([]);
        });

        it.runIf(server.effectiveConfig)("runs with OpenSSH's defaults: MaxSessions 10 per connection, MaxStartups 10:30:100 (sshd -T)", () => {
            const config = server.effectiveConfig!();
            expect(config).toMatch(new RegExp(`^maxsessions ${opensshMaxSessions}$`, "m"));
            expect(config).toMatch(/^maxstartups 10:30:100$/m);
        });

        it(`the premise: one plain connection gets ${opensshMaxSessions} concurrent sessions; the 11th and 12th are refused with "Channel open failure: open failed"`, async () => {
            const got = await rawConcurrentExecs(port, server.username, opensshMaxSessions + 2);
            expect(got.ok).toBe(opensshMaxSessions);
            // reason 2: SSH_OPEN_CONNECT_FAILED (RFC 4254 §5.1), as serverloop.c sends it.
            expect(got.refused).toEqual([
                { message: "(SSH) Channel open failure: open failed", reason: 2 },
                { message: "(SSH) Channel open failure: open failed", reason: 2 },
            ]);
        });

        it("closing the channel of a running command: sshd answers only once the command has exited, and the session counts until then", async () => {
            const client = await rawConnection(port, server.username);
            try {
                const opened = await Promise.all(Array.from({ length: opensshMaxSessions }, () => openExec(client, "sleep 3")));
                expect(opened.filter((o) => o instanceof Error)).toEqual([]);
                const asked = Date.now();
                const closed = (opened as ClientChannel[]).map(
                    (c) =>
                        new Promise<number>((r) =>
                            c
                                .resume()
                                .once("close", () => r(Date.now() - asked))
                                .close(),
                        ),
                );
                const refused = await openExec(client, "true");
                expect(refused).toBeInstanceOf(Error);
                expect((refused as Error).message).toBe("(SSH) Channel open failure: open failed");
                // The closes arrive when the sleeps end (3 s after they started), not at once.
                for (const ms of await Promise.all(closed)) expect(ms).toBeGreaterThan(1_000);
                const again = await openExec(client, "true");
                expect(again).not.toBeInstanceOf(Error);
                await new Promise((r) => (again as ClientChannel).resume().once("close", r));
            } finally {
                client.end();
            }
        }, 20_000);

        it("a timed-out or aborted command fails at its limit and is ended, not waited for", async () => {
            const sleeping = () => descendantProcesses().filter((p) => p.args === "sleep 20");
            let started = Date.now();
            await expect(shell.run("sleep 20", { timeoutMs: 1_000 })).rejects.toThrow("node 1: no answer within 1 s from: sleep 20");
            expect(Date.now() - started).toBeLessThan(5_000);
            const abort = new AbortController();
            setTimeout(() => abort.abort(), 1_000);
            started = Date.now();
            await expect(shell.run("sleep 20", { timeoutMs: 60_000, signal: abort.signal })).rejects.toThrow("node 1: aborted while running: sleep 20");
            expect(Date.now() - started).toBeLessThan(5_000);
            await pollUntil("the timed-out commands ended", () => sleeping().length === 0 || `${sleeping().length} still running`, { timeoutMs: 5_000 });
        }, 30_000);

        it("25 concurrent commands on one SshShell all succeed, over as many connections as needed", async () => {
            const results = await Promise.all(Array.from({ length: 25 }, (_, i) => shell.run(`sleep 1; echo ${i}`, { timeoutMs: 20_000 })));
            expect(results.map((r) => [r.code, r.stdout])).toEqual(Array.from({ length: 25 }, (_, i) => [0, `${i}\n`]));
            expect(shell.connectionCount).toBe(Math.ceil(25 / channelsPerConnection));
        });

        it("long-lived background commands beyond one connection's sessions do not hold up a short command, and all of them stop", async () => {
            // 2 × MaxSessions servers that stay up, as the scaling run's iperf3 servers do on one node.
            const servers = Array.from({ length: 2 * opensshMaxSessions }, () => shell.start("sleep 60"));
            const sleeping = () => descendantProcesses().filter((p) => p.args === "sleep 60"); // sshd is our child, so its commands are ours too
            await pollUntil("every server running", () => sleeping().length === 2 * opensshMaxSessions || `${sleeping().length} running`, { timeoutMs: 20_000 });
            const started = Date.now();
            expect((await shell.run("echo short", { timeoutMs: 10_000 })).stdout).toBe("short\n");
            expect(Date.now() - started).toBeLessThan(5_000);
            // Each stop is one more command while its server still holds a channel.
            const stopped = await Promise.all(servers.map((s) => s.stop()));
            expect(stopped.filter((r) => r.stderr.startsWith("stop: no exit"))).toEqual([]);
            expect(sleeping()).toEqual([]);
        }, 60_000);
    });
}
