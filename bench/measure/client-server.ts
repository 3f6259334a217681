/**
 * A server and its client on two endpoints (iperf3, sockperf): the pair a case runs on, and a
 * client run against a server started just before.
 */
import type { Endpoint } from "../sessions/session";
import { lastWords, type CommandResult } from "../sessions/shell";
import { checkAborted, type MeasureContext } from "./context";

const connectRetries = 8;
export const connectRetryDelayMs = 300;
/** iperf3 and sockperf listen within tens of milliseconds of starting. */
const firstConnectDelayMs = 150;

/** The server was not listening yet. iperf3 -J reports it in its JSON ("error") and may still
 * exit 0 under `timeout --foreground`, so the text decides, not the exit code. */
function refusedToConnect(r: CommandResult): boolean {
    return /unable to connect|connection refused|server is busy|ERROR: Failed to connect|errno=111/i.test(r.stdout + r.stderr);
}

export async function sleep(ms: number): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
}

/**
 * Runs a client against a server started just before; retries while the server is not yet
 * listening (the start of a background process is not a readiness signal).
 */
export async function clientAgainstServer(
    ctx: MeasureContext,
    name: string,
    server: Endpoint,
    serverCommand: string,
    client: Endpoint,
    clientCommand: string,
    timeoutMs: number,
): Promise<{ result: CommandResult; raw: string[] }> {
    const serverProc = server.shell.start(serverCommand);
    const attempts = async (): Promise<CommandResult> => {
        let result: CommandResult | undefined;
        for (let attempt = 0; attempt < connectRetries; attempt++) {
            checkAborted(ctx.signal);
            await sleep(attempt === 0 ? firstConnectDelayMs : connectRetryDelayMs);
            result = await client.shell.run(clientCommand, { timeoutMs, signal: ctx.signal });
            if (!refusedToConnect(result)) break;
        }
        return result!;
    };
    const result = await attempts().catch(async (err) => {
        await serverProc.stop();
        throw err;
    });
    const serverResult = await serverProc.stop();
    const raw = [ctx.record(`${name}-server`, server.shell, serverCommand, serverResult), ctx.record(name, client.shell, clientCommand, result)];
    if (refusedToConnect(result) && serverResult.code !== 0 && serverResult.code !== null) {
        // The client's "connection refused" hides the cause: the server never listened.
        throw new Error(`server on ${server.shell.name} (${server.ip}) did not start: ${lastWords(serverResult)}`);
    }
    return { result, raw };
}

/** Server on node 1, client on node 2 (or both on node 1). */
export async function pairFor(ctx: MeasureContext, hostNetwork: boolean, sameNode: boolean): Promise<{ server: Endpoint; client: Endpoint }> {
    const role = hostNetwork ? "baseline" : "net";
    if (sameNode) {
        const [server, client] = await ctx.session.pods({ role, node: 0, count: 2, hostNetwork });
        return { server, client };
    }
    const [server] = await ctx.session.pods({ role, node: 0, count: 1, hostNetwork });
    const [client] = await ctx.session.pods({ role, node: 1, count: 1, hostNetwork });
    return { server, client };
}
