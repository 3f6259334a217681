/**
 * The SSH transport: a RemoteShell over ssh2 to the load generator and the nodes of an AWS stack
 * (aws-k3s.ts). Logs in with the stack's key or the user's ssh-agent; pins host keys the stack
 * exports, else trusts on first use and records the fingerprint; redials a dropped connection
 * once; and opens another connection rather than exceed sshd's MaxSessions. The why of each:
 * docs/benchmark.md, "What the runner needs on the machines".
 */
import { createHash } from "node:crypto";
import { Client, utils, type ClientChannel, type ConnectConfig } from "ssh2";
import { Semaphore } from "../../core/semaphore";
import { abortError, RemoteShell, timeoutError, type CommandResult } from "./shell";

/** How the runner logs in: a private key (PEM/OpenSSH text, never logged) or an agent socket. */
export type SshAuth = { readonly privateKey: string; readonly agent?: undefined } | { readonly agent: string; readonly privateKey?: undefined };

export type SshTarget = {
    readonly host: string;
    readonly port?: number;
    readonly username: string;
    /** The host's public key as an OpenSSH line ("ssh-ed25519 AAAA… comment"); undefined: trust on first use. */
    readonly hostKey?: string;
} & SshAuth;

/** The key a connection accepted, for the results. */
export interface HostKeyRecord {
    /** OpenSSH's fingerprint format (`ssh-keygen -l`): "SHA256:" and unpadded base64. */
    readonly fingerprint: string;
    /** "pinned": matched the stack's output; "trust-on-first-use": accepted unverified. */
    readonly verification: "pinned" | "trust-on-first-use";
}

/** How long to wait for the SSH handshake: a dead host should fail fast. */
export const sshReadyTimeoutMs = 10_000;

/**
 * sshd's MaxSessions default: open sessions per connection (openssh-portable servconf.h
 * DEFAULT_SESSIONS_MAX, V_9_2_P1 to master). Past it `session_new()` (session.c) fails and
 * `server_input_channel_open()` (serverloop.c) answers CHANNEL_OPEN_FAILURE, reason
 * SSH_OPEN_CONNECT_FAILED, text "open failed": ssh2 reports "(SSH) Channel open failure: open failed".
 */
export const opensshMaxSessions = 10;

/**
 * Commands open at once on one connection: two below MaxSessions, because sshd frees a session
 * only once its channel is gone and its command has exited (session.c session_close_by_channel),
 * a moment after ssh2 reports the close, and a timed-out command runs on until its stop.
 * Long-lived commands (servers, CPU samplers) hold their slot, so more commands than this open
 * another connection rather than wait: none waits behind a server that a later command stops.
 */
export const channelsPerConnection = opensshMaxSessions - 2;

/** The private key when there is one, else the agent; fails naming both when neither is there. */
export function sshAuthFrom(privateKey: string | undefined, agentSocket: string | undefined): SshAuth {
    if (privateKey) return { privateKey };
    if (agentSocket) return { agent: agentSocket };
    throw new Error("SSH: no private key and SSH_AUTH_SOCK is not set; add the key to ssh-agent or pass a key file");
}

/**
 * The key blob of an OpenSSH public key line. ssh2's `utils.parseKey` reads the line and
 * `getPublicSSH()` gives the wire-format blob, which is what `hostVerifier` receives.
 */
export function hostKeyBlob(line: string, where: string): Buffer {
    const parsed = utils.parseKey(line.trim());
    if (parsed instanceof Error || Array.isArray(parsed)) {
        throw new Error(`${where}: "${line.slice(0, 40)}…" is not an OpenSSH public key line ("ssh-ed25519 AAAA…"): ${parsed instanceof Error ? parsed.message : "several keys"}`);
    }
    return parsed.getPublicSSH();
}

/**
 * OpenSSH's SHA256 fingerprint: base64 of the SHA-256 of the key blob, '=' padding removed
 * (openssh-portable sshkey.c, sshkey_fingerprint with SSH_FP_BASE64).
 */
export function fingerprintOf(blob: Buffer): string {
    return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

interface Dialled {
    readonly client: Client;
    /** The host key blob the server presented. */
    readonly blob: Buffer;
    readonly hostKey: HostKeyRecord;
}

/** One connection attempt; `expected` is the pinned blob or the key seen on the first dial. */
function dial(name: string, target: SshTarget, expected: Buffer | undefined, pinned: boolean, signal?: AbortSignal): Promise<Dialled> {
    const client = new Client();
    let seen: Buffer | undefined;
    const config: ConnectConfig = {
        host: target.host,
        port: target.port ?? 22,
        username: target.username,
        ...(target.privateKey !== undefined ? { privateKey: target.privateKey } : { agent: target.agent }),
        readyTimeout: sshReadyTimeoutMs,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
            seen = key;
            return expected === undefined || key.equals(expected);
        },
    };
    const where = `${name}: SSH to ${target.username}@${target.host}:${config.port}`;
    return new Promise<Dialled>((resolve, reject) => {
        const onAbort = () => {
            client.end();
            reject(new Error(`${name}: aborted while connecting over SSH to ${target.host}`));
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        const onError = (err: Error) => {
            signal?.removeEventListener("abort", onAbort);
            client.end();
            if (seen && expected && !seen.equals(expected)) {
                const wanted = pinned ? "the stack's recorded host key" : "the key seen when this session first connected";
                return reject(new Error(`${where} refused: the host presented key ${fingerprintOf(seen)}, not ${wanted} ${fingerprintOf(expected)} (a different machine, or the host was rebuilt)`));
            }
            reject(new Error(`${where} failed: ${err.message}`));
        };
        client.once("error", onError);
        client.once("ready", () => {
            signal?.removeEventListener("abort", onAbort);
            client.removeListener("error", onError);
            resolve({ client, blob: seen!, hostKey: { fingerprint: fingerprintOf(seen!), verification: pinned ? "pinned" : "trust-on-first-use" } });
        });
        client.connect(config);
    });
}

/** Opens an SSH connection, or fails with a message naming the host (never the key). */
export async function connectSsh(name: string, target: SshTarget, signal?: AbortSignal): Promise<SshShell> {
    const pinned = target.hostKey !== undefined ? hostKeyBlob(target.hostKey, `${name}: sshHostKey`) : undefined;
    const first = await dial(name, target, pinned, pinned !== undefined, signal);
    // Later dials must meet the same key: the pinned one, or the one trusted on first use.
    const expected = pinned ?? first.blob;
    return new SshShell(name, first, () => dial(name, target, expected, pinned !== undefined));
}

/** One SSH connection of a shell, and the command slots it has left. */
interface Link {
    readonly client: Client;
    readonly slots: Semaphore;
    /** Why it closed, for the message of a command that was running on it. */
    lost?: string;
}

export class SshShell extends RemoteShell {
    private readonly links: Link[] = [];
    /** Why the last connection was lost, for the reconnect's message. */
    private lost?: string;
    private dialling?: Promise<Link | undefined>;
    private closing = false;
    /** Times the connection was re-established after every one had dropped. */
    reconnects = 0;
    readonly hostKey: HostKeyRecord;

    constructor(
        readonly name: string,
        first: Dialled,
        private readonly dialAgain: () => Promise<Dialled>,
    ) {
        super();
        this.hostKey = first.hostKey;
        this.attach(first.client);
    }

    /** Open connections (one more each time all carry `channelsPerConnection` commands). */
    get connectionCount(): number {
        return this.links.length;
    }

    /** Watches a connection for the rest of its life: an error after `ready` is kept, never dropped. */
    private attach(client: Client): Link {
        const link: Link = { client, slots: new Semaphore(channelsPerConnection) };
        this.links.push(link);
        let lastError: string | undefined;
        client.on("error", (err: Error) => (lastError = err.message));
        client.on("close", () => {
            const i = this.links.indexOf(link);
            if (i >= 0) this.links.splice(i, 1);
            if (!this.closing) this.lost = link.lost = lastError ?? "the server closed the connection";
        });
        return link;
    }

    /**
     * A command slot on a live connection. When every connection is busy, one more is dialled
     * (one dial at a time: sshd drops connections beyond MaxStartups, 10 unauthenticated by
     * default, sshd_config(5)); when none is left, that dial is the reconnect.
     */
    private async slot(): Promise<Link> {
        let stillborn = 0;
        for (;;) {
            if (this.closing) throw new Error(`${this.name}: SSH session closed`);
            const free = this.links.find((l) => l.slots.tryAcquire());
            if (free) return free;
            this.dialling ??= this.dialAnother().finally(() => (this.dialling = undefined));
            const added = await this.dialling;
            // A connection that closes as soon as it opens would make this loop dial forever.
            if (added && !this.links.includes(added) && ++stillborn === 3) {
                throw new Error(`${this.name}: SSH connections close as soon as they open (${added.lost ?? "no reason given"})`);
            }
        }
    }

    /** Dials one more connection; undefined when the shell closed meanwhile. */
    private async dialAnother(): Promise<Link | undefined> {
        const reconnecting = this.links.length === 0;
        let dialled: Dialled;
        try {
            dialled = await this.dialAgain();
        } catch (e) {
            const why = (e as Error).message;
            if (reconnecting) throw new Error(`${this.name}: the SSH connection dropped (${this.lost ?? "closed"}) and reconnecting failed: ${why}`);
            throw new Error(`${this.name}: ${this.links.length} SSH connection(s) each run ${channelsPerConnection} commands, and opening another failed: ${why}`);
        }
        if (this.closing) return void dialled.client.end();
        if (reconnecting) {
            this.reconnects++;
            this.lost = undefined;
        }
        return this.attach(dialled.client);
    }

    protected async runStreaming(command: string, onStdout: (text: string) => void, timeoutMs: number, signal?: AbortSignal): Promise<CommandResult> {
        return this.exec(await this.slot(), command, onStdout, timeoutMs, signal);
    }

    /** Runs `command` on `link`, whose slot it holds until the channel closes. */
    private exec(link: Link, command: string, onStdout: (text: string) => void, timeoutMs: number, signal?: AbortSignal): Promise<CommandResult> {
        let released = false;
        const release = () => {
            if (!released) link.slots.release();
            released = true;
        };
        return new Promise<CommandResult>((resolve, reject) => {
            const opened = (err: Error | undefined, stream: ClientChannel) => {
                if (err) {
                    release();
                    // Past MaxSessions on this connection: a server configured below the default.
                    const refused = /Channel open failure/.test(err.message)
                        ? ` (sshd allows MaxSessions sessions per connection, ${opensshMaxSessions} by default; this shell opens at most ${channelsPerConnection})`
                        : "";
                    return reject(new Error(`${this.name}: SSH exec failed: ${err.message}${refused}${link.lost ? ` (connection lost: ${link.lost})` : ""}`));
                }
                let stdout = "";
                let stderr = "";
                let failure: Error | undefined;
                // sshd answers our close only once the command has exited (its output closes): fail
                // now, so the caller can stop the command, and keep the slot until that close.
                const fail = (e: Error) => {
                    if (failure) return;
                    failure = e;
                    stream.close();
                    reject(e);
                };
                const timer = setTimeout(() => fail(timeoutError(this.name, command, timeoutMs)), timeoutMs);
                const onAbort = () => fail(abortError(this.name, command));
                signal?.addEventListener("abort", onAbort, { once: true });
                stream.on("data", (d: Buffer) => {
                    stdout += d;
                    onStdout(d.toString());
                });
                stream.stderr.on("data", (d: Buffer) => (stderr += d));
                // ssh2 closes an exec channel with the exit-status (code) or, for a command killed
                // by a signal, exit-signal (null, "SIGKILL"); neither when the connection died
                // (ssh2 lib/utils.js onCHANNEL_CLOSE, lib/client.js 'exit-signal').
                stream.on("close", (code: number | null | undefined, signalName?: string) => {
                    release();
                    clearTimeout(timer);
                    signal?.removeEventListener("abort", onAbort);
                    if (failure) return;
                    if (typeof code === "number") return resolve({ stdout, stderr, code });
                    if (signalName) return resolve({ stdout, stderr, code: null, signal: signalName });
                    reject(new Error(`${this.name}: the SSH connection was lost while running: ${command.slice(0, 200)} (${link.lost ?? "no exit status"})`));
                });
            };
            try {
                link.client.exec(command, opened);
            } catch (e) {
                opened(e as Error, undefined as never); // ssh2 throws "Not connected" when the connection just went
            }
        });
    }

    /** Runs `command` as is (no process-group wrapper), for shells layered on this connection (pod-netns.ts). */
    stream(command: string, onStdout: (text: string) => void, timeoutMs: number, signal?: AbortSignal): Promise<CommandResult> {
        return this.runStreaming(command, onStdout, timeoutMs, signal);
    }

    protected async disconnect(): Promise<void> {
        this.closing = true;
        for (const link of this.links) link.client.end();
    }
}
