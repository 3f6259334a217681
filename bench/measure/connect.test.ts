/**
 * The new-connection case's tools on REAL output, against a server on 127.0.0.1 that counts the
 * TCP connections it accepts: wrk with `Connection: close` opens one per request (wg/wrk 4.1.0
 * src/wrk.c response_complete() → reconnect_socket()), curl one per transfer; the parsers read
 * what they printed.
 */
import * as http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionClose, firstByteCommand, withTcpCounters, wrkCommand } from "./commands";
import { descendantProcesses } from "../../test/descendants";
import { freeLoopbackPort } from "../sessions/loopback-guestbook";
import { nearestRank, parseFirstByte, parseWrk, tcpCounterDelta } from "./parse";
import { ProcessShell, runChecked } from "../sessions/shell";

const shell = ProcessShell.local("test shell");
const run = (cmd: string) => runChecked(shell, cmd, { timeoutMs: 30_000 });
let server: http.Server;
let url: string;
let accepted = 0;
let statusOf: (path: string) => number = () => 200;

beforeAll(async () => {
    const port = await freeLoopbackPort();
    server = http.createServer((req, res) => res.writeHead(statusOf(req.url ?? "/"), { "Content-Length": "2" }).end("ok"));
    server.on("connection", () => accepted++);
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    url = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
    await shell.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    expect(descendantProcesses()).toEqual([]);
});

describe("wrk with Connection: close", () => {
    it("opens a new connection for every request; without the header it keeps its connections", async () => {
        const args = { url: `${url}/`, durationSeconds: 1, connections: 2, threads: 1, requestTimeoutSeconds: 5 };
        accepted = 0;
        const closing = parseWrk((await run(wrkCommand({ ...args, headers: [connectionClose] }))).stdout);
        expect(closing.requests).toBeGreaterThan(50);
        // Each completed request had its own connection; at the stop, each connection slot may add
        // the one it had just opened and one whose answer came after wrk stopped counting; and wrk
        // first probes the address with a connection of its own (src/wrk.lua, wrk.resolve → wrk.connect).
        const probe = 1;
        expect(accepted).toBeGreaterThanOrEqual(closing.requests + probe);
        expect(accepted).toBeLessThanOrEqual(closing.requests + 2 * args.connections + probe);
        expect(closing.socketErrors).toBe(0);

        accepted = 0;
        const keepAlive = parseWrk((await run(wrkCommand(args))).stdout);
        expect(keepAlive.requests).toBeGreaterThan(50);
        expect(accepted).toBe(args.connections + probe);
    });

    it("puts the header on wrk's command line, quoted", () => {
        expect(wrkCommand({ url: "http://x/", durationSeconds: 1, connections: 1, threads: 1, requestTimeoutSeconds: 1, headers: [connectionClose] })).toContain(
            " -H 'Connection: close' -s /dev/stdin ",
        );
    });
});

describe("curl, one connection at a time", () => {
    it("makes exactly the connections asked for, each timed from its start (handshake ≤ first byte)", async () => {
        accepted = 0;
        const r = parseFirstByte((await run(firstByteCommand({ url, connections: 40, requestTimeoutSeconds: 5 }))).stdout);
        expect(r.connections).toBe(40);
        expect(accepted).toBe(40);
        expect(r.failed).toBe(0);
        expect(r.connectMs.p50).toBeGreaterThan(0);
        expect(r.connectMs.p50).toBeLessThanOrEqual(r.firstByteMs.p50);
        expect(r.firstByteMs.p50).toBeLessThanOrEqual(r.firstByteMs.p99);
    });

    it("counts answers above 399 as failed, not as samples", async () => {
        statusOf = (p) => (p.endsWith("=2") || p.endsWith("=4") ? 503 : 200);
        try {
            const r = parseFirstByte((await run(firstByteCommand({ url, connections: 5, requestTimeoutSeconds: 5 }))).stdout);
            expect(r).toMatchObject({ connections: 5, failed: 2 });
        } finally {
            statusOf = () => 200;
        }
    });

    it("refuses a transfer that reused a connection, and output without its lines", () => {
        expect(() => parseFirstByte("first-byte 1 200 0.000100 0.000300\nfirst-byte 0 200 0.000000 0.000200\n")).toThrow(/reused a connection \(num_connects 0\)/);
        expect(() => parseFirstByte("curl: (7) Failed to connect")).toThrow(/no "first-byte" line/);
        expect(() => parseFirstByte("first-byte 0 000 0 0\n")).toThrow(/none of curl's 1 transfers was answered/);
    });
});

describe("nearest-rank percentiles", () => {
    it("p50 and p99 of 1…100 are 50 and 99; of one value, that value", () => {
        const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
        expect(nearestRank(xs, 50)).toBe(50);
        expect(nearestRank(xs, 99)).toBe(99);
        expect(nearestRank([7], 99)).toBe(7);
    });
});

describe("the kernel's TCP counters around a run (withTcpCounters, this machine's /proc/net/netstat)", () => {
    it("keeps the command's exit status and output; both snapshots parse; a counter the kernel lacks or a missing snapshot is an error", async () => {
        const r = await shell.run(withTcpCounters("echo out; (exit 3)"), { timeoutMs: 30_000 });
        expect(r.code).toBe(3);
        expect(r.stdout).toBe("out\n");
        expect(Number.isInteger(tcpCounterDelta(r.stderr, "TCPSynRetrans"))).toBe(true);
        expect(() => tcpCounterDelta(r.stderr, "NoSuchCounter")).toThrow(/have no NoSuchCounter/);
        const before = r.stderr.split("\n").filter((l) => !l.includes(" after "));
        expect(() => tcpCounterDelta(before.join("\n"), "TCPSynRetrans")).toThrow(/counters after the run are missing \(0 of 2 lines\)/);
    });
});
