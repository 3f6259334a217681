/**
 * The SSH transport: a RemoteShell over ssh2, to the load generator and the nodes of an AWS
 * stack (aws-k3s.ts).
 */
import { Client, type ConnectConfig } from "ssh2";
import { abortError, RemoteShell, timeoutError, type CommandResult } from "./shell";

export interface SshTarget {
    readonly host: string;
    readonly port?: number;
    readonly username: string;
    /** PEM private key text. Never logged. */
    readonly privateKey: string;
}

/** How long to wait for the SSH handshake: a dead host should fail fast. */
export const sshReadyTimeoutMs = 10_000;

/** Opens an SSH connection, or fails with a message naming the host (never the key). */
export async function connectSsh(name: string, target: SshTarget, signal?: AbortSignal): Promise<SshShell> {
    const client = new Client();
    const config: ConnectConfig = {
        host: target.host,
        port: target.port ?? 22,
        username: target.username,
        privateKey: target.privateKey,
        readyTimeout: sshReadyTimeoutMs,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
    };
    await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
            client.end();
            reject(new Error(`${name}: aborted while connecting over SSH to ${target.host}`));
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        client.once("ready", () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
        });
        client.once("error", (err) => {
            signal?.removeEventListener("abort", onAbort);
            client.end();
            reject(new Error(`${name}: SSH to ${target.username}@${target.host}:${config.port} failed: ${err.message}`));
        });
        client.connect(config);
    });
    return new SshShell(name, client);
}

export class SshShell extends RemoteShell {
    constructor(
        readonly name: string,
        private readonly client: Client,
    ) {
        super();
    }

    protected runStreaming(command: string, onStdout: (text: string) => void, timeoutMs: number, signal?: AbortSignal): Promise<CommandResult> {
        return new Promise((resolve, reject) => {
            this.client.exec(command, (err, stream) => {
                if (err) return reject(new Error(`${this.name}: SSH exec failed: ${err.message}`));
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
                stream.on("close", (code: number | null) => {
                    clearTimeout(timer);
                    signal?.removeEventListener("abort", onAbort);
                    if (failure) reject(failure);
                    else resolve({ stdout, stderr, code: code ?? null });
                });
            });
        });
    }

    protected async disconnect(): Promise<void> {
        this.client.end();
    }
}
