/**
 * TEST ONLY: an in-process ssh2 server on 127.0.0.1 that runs each exec request as a local
 * `sh -c`, behind a TCP relay the test can cut to drop every connection (stock sshd is tested
 * too: test/real-sshd.ts). Like OpenSSH's sshd it answers a command killed by a signal with
 * "exit-signal" (RFC 4254 §6.10), does not signal a command when its channel closes (no pty),
 * and refuses a connection's 11th concurrent session with sshd's answer (ssh.ts, opensshMaxSessions).
 * Never imported by production code.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Server, utils, type Connection } from "ssh2";
import { opensshMaxSessions } from "../../bench/sessions/ssh";

export function rsaPem(): string {
    return generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } }).privateKey;
}

/**
 * An ed25519 host key made by OpenSSH's ssh-keygen, as Ubuntu's first boot makes
 * /etc/ssh/ssh_host_ed25519_key{,.pub}: the private key and the .pub line ("ssh-ed25519 AAAA… comment").
 */
export function opensshEd25519HostKey(): { privateKey: string; publicLine: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cni-bench-hostkey-"));
    try {
        const file = path.join(dir, "ssh_host_ed25519_key");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "root@ip-10-0-1-10", "-f", file]);
        return { privateKey: fs.readFileSync(file, "utf8"), publicLine: fs.readFileSync(`${file}.pub`, "utf8").trim() };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** "ssh-rsa AAAA…": the OpenSSH public key line of a private key. */
export function publicLine(privatePem: string): string {
    const key = utils.parseKey(privatePem);
    if (key instanceof Error || Array.isArray(key)) throw new Error("not one key");
    return `${key.type} ${key.getPublicSSH().toString("base64")}`;
}

export interface SshStandinOptions {
    readonly username: string;
    /** The only client key the server accepts (OpenSSH public line). */
    readonly authorizedKey: string;
    readonly hostKey?: string;
    /** Directories put first on PATH for every command (stub `curl`, `k3s` …). */
    readonly pathPrefix?: string;
}

/** The parts of ssh2's server-side protocol object the stand-in reaches past ssh2's API for. */
interface StandinProtocol {
    channelOpenFail(remote: number, reason: number, text: string): void;
    exitStatus(remote: number, status: number): void;
    exitSignal(remote: number, name: string, coreDumped: boolean, message: string): void;
}

export class SshStandin {
    readonly hostKey: string;
    private readonly server: Server;
    private sshPort = 0;
    private readonly relay: net.Server;
    private readonly relayed = new Set<net.Socket>();
    /** The client-facing side of each relayed connection. */
    private readonly inbound = new Set<net.Socket>();
    private readonly children = new Set<ChildProcess>();
    private readonly connections = new Set<Connection>();
    /** Logins accepted, by method ("publickey"), for assertions. */
    readonly logins: string[] = [];
    /** Every exec request's command, in order, for assertions. */
    readonly commands: string[] = [];
    /** Session channels refused for being past MaxSessions on their connection. */
    refusedSessions = 0;
    port = 0;

    constructor(options: SshStandinOptions) {
        this.hostKey = options.hostKey ?? rsaPem();
        const allowed = utils.parseKey(options.authorizedKey);
        if (allowed instanceof Error || Array.isArray(allowed)) throw new Error("authorizedKey: not one key");
        this.server = new Server({ hostKeys: [this.hostKey] }, (client) => {
            this.connections.add(client);
            client.on("close", () => this.connections.delete(client));
            // ssh2's reject() sends an empty description; sshd says "open failed" (serverloop.c).
            const protocol = (client as unknown as { _protocol: StandinProtocol })._protocol;
            const openFail = protocol.channelOpenFail.bind(protocol);
            protocol.channelOpenFail = (remote, reason, text) => openFail(remote, reason, text || "open failed");
            let sessions = 0;
            client.on("authentication", (ctx) => {
                if (ctx.method !== "publickey" || ctx.username !== options.username || !ctx.key.data.equals(allowed.getPublicSSH())) return ctx.reject(["publickey"]);
                // Without a signature the client only asks whether the key would do (RFC 4252 §7).
                if (!ctx.signature) return ctx.accept();
                if (allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(["publickey"]);
                this.logins.push(ctx.method);
                ctx.accept();
            });
            client.on("ready", () => {
                client.on("session", (acceptSession, rejectSession) => {
                    // sshd's session_new() past MaxSessions (see opensshMaxSessions).
                    if (sessions >= opensshMaxSessions) {
                        this.refusedSessions++;
                        return rejectSession(); // ssh2 gives a reserved channel's refusal reason CONNECT_FAILED, as sshd does
                    }
                    // sshd frees a session when its channel is gone AND its command has exited
                    // (session.c session_close_by_channel returns early while s->pid is set).
                    sessions++;
                    let channelOpen = true;
                    let commandRunning = false;
                    const freeWhenDone = () => !channelOpen && !commandRunning && sessions--;
                    const session = acceptSession();
                    session.once("close", () => {
                        channelOpen = false;
                        freeWhenDone();
                    });
                    session.on("exec", (accept, _reject, info) => {
                        commandRunning = true;
                        const stream = accept();
                        // sshd answers the client's close only once the command has exited (its output
                        // closes), after the exit status; ssh2 would answer at once, so hold it back.
                        const closeNow = stream.close.bind(stream);
                        let closeAsked = false;
                        stream.close = () => {
                            if (commandRunning) closeAsked = true;
                            else closeNow();
                        };
                        this.commands.push(info.command);
                        const env = options.pathPrefix ? { ...process.env, PATH: `${options.pathPrefix}:${process.env.PATH}` } : process.env;
                        const child = spawn("sh", ["-c", info.command], { detached: true, stdio: ["ignore", "pipe", "pipe"], env });
                        this.children.add(child);
                        child.stdout!.pipe(stream, { end: false });
                        child.stderr!.pipe(stream.stderr, { end: false });
                        child.on("close", (code, signal) => {
                            this.children.delete(child);
                            commandRunning = false;
                            freeWhenDone();
                            if (closeAsked) {
                                // ssh2 has ended the stream already, so its exit() would send nothing.
                                const remote = (stream as unknown as { outgoing: { id: number } }).outgoing.id;
                                if (signal) protocol.exitSignal(remote, signal.replace(/^SIG/, ""), false, "");
                                else protocol.exitStatus(remote, code ?? 255);
                                return closeNow();
                            }
                            if (signal) stream.exit(signal.replace(/^SIG/, ""), false, "");
                            else stream.exit(code ?? 255);
                            stream.end();
                        });
                    });
                });
            });
            client.on("error", () => undefined); // the relay's cut resets connections on purpose
        });
        this.relay = net.createServer((inbound) => {
            this.inbound.add(inbound);
            inbound.on("close", () => this.inbound.delete(inbound));
            const outbound = net.connect(this.sshPort, "127.0.0.1");
            for (const s of [inbound, outbound]) {
                this.relayed.add(s);
                s.on("close", () => this.relayed.delete(s));
                s.on("error", () => undefined);
            }
            inbound.pipe(outbound).pipe(inbound);
        });
    }

    /** SSH connections the server still holds. */
    get openConnections(): number {
        return this.connections.size;
    }

    /** The host key's OpenSSH public line (what a stack would export as sshHostKey). */
    get hostKeyLine(): string {
        return publicLine(this.hostKey);
    }

    async start(): Promise<void> {
        await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
        this.sshPort = (this.server.address() as net.AddressInfo).port;
        await new Promise<void>((r) => this.relay.listen(0, "127.0.0.1", r));
        this.port = (this.relay.address() as net.AddressInfo).port;
    }

    /** Drops every connection at the TCP level, as a reset on the path would. */
    cut(): void {
        for (const s of this.relayed) s.destroy();
    }

    /** Sends the clients bytes that are not SSH packets (a corrupted path): ssh2 fails the connection with an error. */
    corrupt(): void {
        for (const s of this.inbound) s.write(Buffer.alloc(64, 0xff));
    }

    async stop(): Promise<void> {
        this.cut();
        for (const c of this.connections) c.end();
        for (const c of this.children)
            if (c.pid)
                try {
                    process.kill(-c.pid, "SIGKILL");
                } catch {
                    /* gone */
                }
        await new Promise((r) => this.relay.close(r));
        await new Promise((r) => this.server.close(r));
    }
}
