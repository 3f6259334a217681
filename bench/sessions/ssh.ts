/**
 * The SSH transport: a RemoteShell over ssh2, to the load generator and the nodes of an AWS
 * stack (aws-k3s.ts).
 *
 * - Authentication: the stack's private key when it exported one (it does only when it
 *   generated the pair), else the user's ssh-agent (SSH_AUTH_SOCK), as `ssh` itself would.
 * - Host keys: pinned when the stack exports the instance's host key (`nodes[i].sshHostKey`,
 *   `loadGenerator.sshHostKey`); otherwise trust on first use, and the fingerprint goes into the
 *   results so a reader can check it. A reconnect must meet the same key.
 * - A dropped connection (keepalive timeout, reset) is redialled once by the next command; the
 *   command that was running when it dropped fails with the connection's own error.
 */
import { createHash } from "node:crypto";
import { Client, utils, type ConnectConfig } from "ssh2";
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

export class SshShell extends RemoteShell {
    private client?: Client;
    /** Why the connection was lost, for the next command's message. */
    private lost?: string;
    private redial?: Promise<Client>;
    private closing = false;
    /** Times the connection was re-established after a drop. */
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

    /** Watches a connection for the rest of its life: an error after `ready` is kept, never dropped. */
    private attach(client: Client): void {
        this.client = client;
        let lastError: string | undefined;
        client.on("error", (err: Error) => (lastError = err.message));
        client.on("close", () => {
            if (this.client === client) this.client = undefined;
            if (!this.closing) this.lost = lastError ?? "the server closed the connection";
        });
    }

    /** The live connection, redialled once when it dropped. */
    private async connection(): Promise<Client> {
        if (this.client) return this.client;
        if (this.closing) throw new Error(`${this.name}: SSH session closed`);
        this.redial ??= this.dialAgain()
            .then((d) => {
                this.attach(d.client);
                this.reconnects++;
                this.lost = undefined;
                return d.client;
            })
            .finally(() => (this.redial = undefined));
        try {
            return await this.redial;
        } catch (e) {
            throw new Error(`${this.name}: the SSH connection dropped (${this.lost ?? "closed"}) and reconnecting failed: ${(e as Error).message}`);
        }
    }

    protected async runStreaming(command: string, onStdout: (text: string) => void, timeoutMs: number, signal?: AbortSignal): Promise<CommandResult> {
        const client = await this.connection();
        return new Promise((resolve, reject) => {
            client.exec(command, (err, stream) => {
                if (err) return reject(new Error(`${this.name}: SSH exec failed: ${err.message}${this.lost ? ` (connection lost: ${this.lost})` : ""}`));
                let stdout = "";
                let stderr = "";
                let failure: Error | undefined;
                const timer = setTimeout(() => {
                    failure = timeoutError(this.name, command, timeoutMs);
                    stream.close();
                }, timeoutMs);
                const onAbort = () => {
                    failure = abortError(this.name, command);
                    stream.close();
                };
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
                    clearTimeout(timer);
                    signal?.removeEventListener("abort", onAbort);
                    if (failure) return reject(failure);
                    if (typeof code === "number") return resolve({ stdout, stderr, code });
                    if (signalName) return resolve({ stdout, stderr, code: null, signal: signalName });
                    reject(new Error(`${this.name}: the SSH connection was lost while running: ${command.slice(0, 200)} (${this.lost ?? "no exit status"})`));
                });
            });
        });
    }

    /** Runs `command` as is (no process-group wrapper), for shells layered on this connection (pod-netns.ts). */
    stream(command: string, onStdout: (text: string) => void, timeoutMs: number, signal?: AbortSignal): Promise<CommandResult> {
        return this.runStreaming(command, onStdout, timeoutMs, signal);
    }

    protected async disconnect(): Promise<void> {
        this.closing = true;
        this.client?.end();
    }
}
