/**
 * The lab's guestbook under load (root only: builds one mode in network namespaces). The frontend
 * is Apache + mod_php with keep-alive, as upstream's gb-frontend image serves it, so a clean run
 * has no socket errors: wrk reuses its connections instead of counting each close as an error
 * (the defect of PHP's built-in server, which closes every connection). Bounded: one 2-second
 * wrk run; everything it builds is removed at the end.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guestbookReadPath } from "../bench/measure/commands";
import { runCommand, inNamespace } from "./exec";
import { labHttpConnections } from "./guestbook";
import { Lab, type BuiltMode } from "./lab";

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)("lab guestbook under load (root)", () => {
    let ledgerDir: string;
    let lab: Lab;
    let built: BuiltMode;

    beforeAll(async () => {
        ledgerDir = mkdtempSync(join(tmpdir(), "cni-lab-test-"));
        lab = Lab.open(ledgerDir);
        // vxlan: the NodePort DNATs half the requests to the other node's frontend, through the tunnel.
        built = await lab.build("vxlan");
    }, 60_000);

    afterAll(async () => {
        const report = await lab?.close();
        expect(report?.problems ?? []).toEqual([]);
        if (built) expect(existsSync(built.cpuGroup.hostDir), "the mode's CPU group is removed").toBe(false);
        if (ledgerDir) rmSync(ledgerDir, { recursive: true, force: true });
    });

    it("wrk through the NodePort: thousands of reads, zero socket errors, zero non-2xx, all counted in the mode's CPU group", async () => {
        const usage = () => Number(readFileSync(join(built.cpuGroup.hostDir, built.cpuGroup.version === 1 ? "cpuacct.usage" : "cpu.stat"), "utf8").match(/\d+/)![0]);
        const before = usage();
        const url = built.target.lab!.frontendUrls[0] + guestbookReadPath();
        // wrk(1) prints "Socket errors: connect N, read N, write N, timeout N" and "Non-2xx or 3xx
        // responses: N" only when there are any (wrk src/wrk.c, print_stats_…): their absence is zero.
        const r = await runCommand(inNamespace(built.topology.loadGenerator.netns, ["timeout", "15", "wrk", "-t", "2", "-c", String(labHttpConnections), "-d", "2s", "--timeout", "5s", url]), 20_000);
        expect(r.code, r.stderr).toBe(0);
        const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
        expect(requests, r.stdout).toBeGreaterThan(200);
        expect(r.stdout, "socket errors against the lab's frontend").not.toMatch(/Socket errors/);
        expect(r.stdout, "error responses from the lab's frontend").not.toMatch(/Non-2xx/);
        // Apache, PHP and Redis run in the group: serving the reads must have cost it CPU time.
        expect(usage()).toBeGreaterThan(before);
    }, 30_000);
});
