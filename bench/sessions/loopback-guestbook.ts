/**
 * The guestbook on loopback, for the tests and the sample report: a redis-server and
 * `php -S` serving testdata/guestbook.php, both on free 127.0.0.1 ports, both stopped by `stop()`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";
import { signalGroup } from "../../core/process";
import { debianTool, type Tool } from "../../core/tools";
import { pollUntil } from "../../core/wait";

/** A free TCP port on 127.0.0.1 (the kernel picks it). */
export async function freeLoopbackPort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

function canListen(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.once("error", () => resolve(false));
        // The servers (iperf3 -s) listen on every address, so check the wildcard address.
        srv.listen(port, () => srv.close(() => resolve(true)));
    });
}

/**
 * The first of `count` consecutive free ports, below Linux's ephemeral range (32768+) so that
 * no outgoing connection takes one between this check and the servers' start.
 */
export async function freePortBlock(count: number): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
        const base = 20000 + Math.floor(Math.random() * (12000 - count));
        let free = true;
        for (let p = base; p < base + count && free; p++) free = await canListen(p);
        if (free) return base;
    }
    throw new Error(`no block of ${count} free ports found between 20000 and 32000`);
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
    await pollUntil(
        `127.0.0.1:${port}`,
        () =>
            new Promise<boolean | string>((resolve) => {
                const s = net.connect(port, "127.0.0.1");
                s.once("connect", () => (s.destroy(), resolve(true)));
                s.once("error", () => resolve("nothing listens"));
            }),
        { timeoutMs, intervalMs: 100 },
    );
}

export interface LoopbackGuestbook {
    /** Frontend base URL, e.g. http://127.0.0.1:40123 */
    readonly url: string;
    readonly processes: readonly ChildProcess[];
    stop(): Promise<void>;
}

function stopProcess(p: ChildProcess): Promise<void> {
    if (p.pid === undefined) return Promise.resolve();
    const exited = p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => p.once("exit", () => resolve()));
    // The whole group even when the master has exited: `php -S` workers outlive it.
    signalGroup(p.pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(p.pid, "SIGKILL"), 3000);
    return exited.then(() => clearTimeout(timer));
}

/** What `startLoopbackGuestbook` starts (the php-redis extension it loads comes with scripts/install-deps.sh too). */
export const loopbackGuestbookTools: readonly Tool[] = [debianTool("redis-server"), debianTool("php")];

/** Starts redis-server and the PHP frontend; rejects (after stopping both) if either does not come up. */
export async function startLoopbackGuestbook(): Promise<LoopbackGuestbook> {
    const redisPort = await freeLoopbackPort();
    const httpPort = await freeLoopbackPort();
    // Each in its own process group (detached), so that stop() reaches everything they fork.
    const redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore", detached: true });
    const php = spawn("php", ["-S", `127.0.0.1:${httpPort}`, path.join(__dirname, "..", "testdata", "guestbook.php")], {
        stdio: "ignore",
        detached: true,
        // Workers so that wrk's parallel connections are served in parallel (php -S forks them).
        env: { ...process.env, REDIS_HOST: "127.0.0.1", REDIS_PORT: String(redisPort), PHP_CLI_SERVER_WORKERS: "2" },
    });
    const processes = [redis, php];
    const stop = async () => {
        await Promise.all(processes.map(stopProcess));
    };
    try {
        await waitForPort(redisPort, 10_000);
        await waitForPort(httpPort, 10_000);
    } catch (err) {
        await stop();
        throw err;
    }
    return { url: `http://127.0.0.1:${httpPort}`, processes, stop };
}
