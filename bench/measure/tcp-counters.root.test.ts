/**
 * The SYN retries of the new-connection case (connect.ts `synRetries`), counted by the real kernel
 * in a network namespace this test creates (root only): a SYN to a port whose SYNs are dropped is
 * sent again after 1 s (TCP_TIMEOUT_INIT, include/net/tcp.h), and again 1 s later where the
 * kernel has `net.ipv4.tcp_syn_linear_timeouts` (default 4: RTOs 1, 1, 1, 1, 1, 2, 4…,
 * Documentation/networking/ip-sysctl.rst) or 2 s later where it has not; so a client that gives up
 * after 2.5 s has sent it again twice, or once. A refused connection costs none. Read as the case
 * reads it, through `withTcpCounters` in the namespace (/proc/net is per namespace, proc(5)).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addNamespaces, inNs, ip } from "../../test/netns";
import { withTcpCounters } from "./commands";
import { tcpCounterDelta } from "./parse";

const isRoot = process.getuid?.() === 0;
const ns = `cnitc-${randomBytes(3).toString("hex")}`;

/** Runs `command` under `withTcpCounters` in the namespace; its stderr. */
function counted(command: string): string {
    return execFileSync("ip", ["netns", "exec", ns, "sh", "-c", `{ ${withTcpCounters(command)}; } 2>&1 >/dev/null`], { encoding: "utf8" });
}

describe.skipIf(!isRoot)("SYN retries, counted by the kernel in the load generator's namespace (root)", () => {
    beforeAll(() => {
        addNamespaces([ns]);
        // Port 9 drops every SYN; port 7 answers with a reset (nothing listens there).
        inNs(ns, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "9", "--syn", "-j", "DROP");
    });
    afterAll(() => ip("netns", "delete", ns));

    it("a dropped SYN, given up after 2.5 s, counts its retries: 2 with linear timeouts, else 1", () => {
        const linear = existsSync("/proc/sys/net/ipv4/tcp_syn_linear_timeouts") ? Number(inNs(ns, "sysctl", "-n", "net.ipv4.tcp_syn_linear_timeouts")) : 0;
        const stderr = counted("curl -s --connect-timeout 2.5 http://127.0.0.1:9/ || true");
        expect(tcpCounterDelta(stderr, "TCPSynRetrans")).toBe(linear >= 2 ? 2 : 1);
    }, 20_000);

    it("a refused connection sends no SYN again", () => {
        const stderr = counted("curl -s --connect-timeout 2.5 http://127.0.0.1:7/ || true");
        expect(tcpCounterDelta(stderr, "TCPSynRetrans")).toBe(0);
    }, 20_000);
});
