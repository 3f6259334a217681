/**
 * TEST ONLY: stock OpenSSH sshd (Debian/Ubuntu `openssh-server`, scripts/install-deps.sh) on a
 * loopback port, with its own config, host key and authorized key in a temp dir, as root. The
 * limits under test (MaxSessions, MaxStartups) are left at their defaults.
 * Never imported by production code.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { pollUntil } from "../core/wait";

export const sshdPath = "/usr/sbin/sshd";

/** Why stock sshd cannot run here, or undefined when it can. */
export function sshdUnavailable(): string | undefined {
    if (process.getuid?.() !== 0) return "needs root (sshd reads its host key and switches users as root)";
    if (!fs.existsSync(sshdPath)) return `${sshdPath} is missing (scripts/install-deps.sh installs openssh-server)`;
    return undefined;
}

async function freePort(): Promise<number> {
    const server = net.createServer().listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((r) => server.close(r));
    return port;
}

export class Sshd {
    private child?: ChildProcess;
    private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "cni-bench-sshd-"));
    /** What sshd logged (-e: to stderr), for a failing test's message. */
    log = "";
    port = 0;
    hostKeyLine = "";

    /** `authorizedKey`: the one client key accepted for root (OpenSSH public line). */
    constructor(private readonly authorizedKey: string) {}

    get configFile(): string {
        return path.join(this.dir, "sshd_config");
    }

    async start(): Promise<void> {
        const hostKey = path.join(this.dir, "ssh_host_ed25519_key");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
        this.hostKeyLine = fs.readFileSync(`${hostKey}.pub`, "utf8").trim();
        fs.writeFileSync(path.join(this.dir, "authorized_keys"), `${this.authorizedKey}\n`, { mode: 0o600 });
        this.port = await freePort();
        fs.writeFileSync(
            this.configFile,
            [
                "ListenAddress 127.0.0.1",
                `Port ${this.port}`,
                `HostKey ${hostKey}`,
                `PidFile ${path.join(this.dir, "sshd.pid")}`,
                `AuthorizedKeysFile ${path.join(this.dir, "authorized_keys")}`,
                // The temp dir is under /tmp, which is world-writable: StrictModes would refuse the key file there.
                "StrictModes no",
                "UsePAM no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "",
            ].join("\n"),
        );
        // sshd refuses to start without its privilege-separation directory (sshd.c, "Missing
        // privilege separation directory"). It is the packaged service's own runtime directory,
        // empty and root's: it stays, since another sshd of these tests may be using it.
        fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
        // -D: stay in the foreground (our child); -e: log to stderr.
        const child = spawn(sshdPath, ["-D", "-e", "-f", this.configFile], { stdio: ["ignore", "ignore", "pipe"] });
        this.child = child;
        child.stderr!.on("data", (d: Buffer) => (this.log += d));
        let exited: string | undefined;
        child.on("exit", (code, signal) => (exited = `sshd exited (${code ?? signal}): ${this.log.trim()}`));
        await pollUntil(
            `sshd on 127.0.0.1:${this.port}`,
            () => {
                if (exited) throw new Error(exited);
                return this.log.includes(`Server listening on 127.0.0.1 port ${this.port}`) || `not listening yet; log: ${this.log.trim() || "empty"}`;
            },
            { timeoutMs: 10_000, intervalMs: 50 },
        );
    }

    /** `sshd -T`: the effective configuration, lower-case keywords (sshd(8) -T). */
    effectiveConfig(): string {
        return execFileSync(sshdPath, ["-T", "-f", this.configFile], { encoding: "utf8" });
    }

    async stop(): Promise<void> {
        const child = this.child;
        if (child && child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((r) => child.once("exit", r));
            child.kill("SIGTERM");
            await exited;
        }
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
