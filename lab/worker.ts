import { spawn } from "node:child_process";

/**
 * Running the lab out of reach of tsx's signal relay. `npm run lab` starts lab/cli.ts under tsx,
 * whose parent process relays Ctrl-C to it and SIGKILLs it when it does not acknowledge the
 * signal within 30 ms (tsx 4's relaySignalToChild) — which a busy event loop on a loaded 2-core
 * machine can miss, and then nothing would be cleaned up. So under tsx the started process only
 * forwards signals to a worker in its own session that does the work; the worker also stops when
 * its parent disappears.
 */
export function runAsWorker(script: string, argv: readonly string[]): Promise<number> {
    const loader = process.execArgv.flatMap((arg, i, all) => (arg === "--import" ? ["--import", all[i + 1]] : []));
    const worker = spawn(process.execPath, [...loader, script, ...argv], {
        detached: true,
        stdio: "inherit",
        env: { ...process.env, [workerEnv]: String(process.pid) },
    });
    // A terminal's Ctrl-C reaches this process twice (directly and relayed by tsx): forward it once.
    let last = { sig: "", at: 0 };
    const forward = (sig: NodeJS.Signals) => {
        if (sig === last.sig && Date.now() - last.at < 500) return;
        last = { sig, at: Date.now() };
        worker.kill(sig);
    };
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    return new Promise((resolve) => worker.once("exit", (code, signal) => resolve(code ?? (signal === "SIGTERM" ? 143 : 130))));
}

/** Set in the worker's environment to the pid of the process that forwards signals to it. */
export const workerEnv = "CNI_LAB_FORWARDER_PID";

/** In the worker: a vanished forwarder (SIGKILLed, terminal closed) counts as SIGTERM. */
export function watchForwarder(): void {
    const forwarder = Number(process.env[workerEnv]);
    if (!forwarder) return;
    const timer = setInterval(() => {
        if (process.ppid !== forwarder) {
            clearInterval(timer);
            process.emit("SIGTERM", "SIGTERM");
        }
    }, 1000);
    timer.unref();
}

/** The tsx CLI starts its child with its preflight script (which reports signals to the parent);
 * a plain `node --import tsx` run (the tests) has no such parent. */
export function isTsxChild(): boolean {
    return process.execArgv.some((a) => /tsx[\\/]dist[\\/]preflight\.cjs$/.test(a));
}
