/**
 * The Service-count axis on loopback: runBenchmark sets every target's stand-in Service proxy
 * (test/standins/service-proxy.ts) to each count, reads back what it installed, and measures the
 * new-connection case (real wrk and curl against the loopback guestbook) and the keep-alive
 * reads at each count; summary.json keeps the counts apart and report.md has the axis table.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maxServiceCount } from "../components/serviceCounts";
import { descendantProcesses } from "../test/descendants";
import { LoopbackServiceSession, StandinServiceProxy } from "../test/standins/service-proxy";
import { parseFirstByte, parseWrk, tcpCounterDelta } from "./measure/parse";
import { readSummary } from "./results/report";
import { resolveSettings, runBenchmark, type BenchOptions, type BenchSummary, type ProgressEvent } from "./run";
import { loopbackTarget } from "./sample";
import { parseServiceFigureId, serviceAxisCases } from "./service-axis";
import { LoopbackSession } from "./sessions/loopback";
import { startLoopbackGuestbook, type LoopbackGuestbook } from "./sessions/loopback-guestbook";

let guestbook: LoopbackGuestbook;
const temps: string[] = [];
const tempDir = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "bench-service-axis-"));
    temps.push(d);
    return d;
};
const targets = [loopbackTarget("lab-vxlan-iptables", "vxlan"), loopbackTarget("lab-vxlan-nftables", "vxlan")];
const short: Omit<BenchOptions, "outDir"> = {
    repetitions: 2,
    durationSeconds: 1,
    warmupSeconds: 0,
    measurements: ["guestbook"],
    cases: [...serviceAxisCases],
    httpConnections: 2,
    httpThreads: 1,
};

beforeAll(async () => {
    guestbook = await startLoopbackGuestbook();
});
afterAll(async () => {
    await guestbook?.stop();
    for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
    expect(descendantProcesses()).toEqual([]);
});

const http = () => ({ loadBalancer: guestbook.url, nodePort: guestbook.url });

describe("the Service-count axis on loopback", () => {
    let outDir: string;
    let summary: BenchSummary;
    const proxies = new Map<string, StandinServiceProxy>();
    const progress: ProgressEvent[] = [];

    beforeAll(async () => {
        outDir = tempDir();
        summary = await runBenchmark(targets, {
            ...short,
            outDir,
            serviceCounts: [0, 1000],
            onProgress: (e) => progress.push(e),
            openSession: async (t) => {
                const proxy = new StandinServiceProxy(t.name.endsWith("nftables") ? "nftables" : "iptables");
                proxies.set(t.name, proxy);
                return new LoopbackServiceSession(t, { http: http() }, proxy);
            },
        });
    }, 120_000);

    it("sets every target to a count and reads it back before measuring at that count", () => {
        expect(summary.errors).toEqual([]);
        for (const p of proxies.values()) expect(p.calls).toEqual(["set 0", "installed", "set 1000", "installed"]);
        const steps = progress.filter((e) => e.kind === "measure").map((e) => `${e.target}:${e.measurement}`);
        const firstAt1000 = steps.indexOf("lab-vxlan-iptables:services", 1);
        expect(steps.slice(0, 2)).toEqual(["lab-vxlan-iptables:services", "lab-vxlan-nftables:services"]);
        // Both set to 1000 only after every count-0 measurement (2 targets × 2 repetitions).
        expect(steps.slice(2, firstAt1000)).toEqual(
            Array(4)
                .fill(0)
                .map((_, i) => (i === 0 || i === 3 ? "lab-vxlan-iptables:guestbook" : "lab-vxlan-nftables:guestbook")),
        );
        expect(steps.slice(firstAt1000, firstAt1000 + 2)).toEqual(["lab-vxlan-iptables:services", "lab-vxlan-nftables:services"]);
    });

    it("records the installed counts per target and count in summary.json", () => {
        const saved = readSummary(outDir);
        expect(saved.settings.serviceCounts).toEqual([0, 1000]);
        expect(saved.serviceAxis?.counts).toEqual([0, 1000]);
        expect(saved.serviceAxis?.points).toEqual([
            { target: "lab-vxlan-iptables", mode: "iptables", services: 0, installed: { "KUBE-SVC-* chains": 3, "iptables nat rules": 38 }, setSeconds: expect.any(Number) },
            { target: "lab-vxlan-nftables", mode: "nftables", services: 0, installed: { "service-ips map elements": 3, "service-* chains": 3 }, setSeconds: expect.any(Number) },
            { target: "lab-vxlan-iptables", mode: "iptables", services: 1000, installed: { "KUBE-SVC-* chains": 1003, "iptables nat rules": 6038 }, setSeconds: expect.any(Number) },
            { target: "lab-vxlan-nftables", mode: "nftables", services: 1000, installed: { "service-ips map elements": 1003, "service-* chains": 1003 }, setSeconds: expect.any(Number) },
        ]);
    });

    it("keeps each count's figures apart: ids and labels carry the count, raw files sit under it", () => {
        for (const count of [0, 1000]) {
            for (const t of targets) {
                for (const id of ["guestbook.connect.cps", "guestbook.connect.firstByte.p99", "guestbook.read.rps"]) {
                    const samples = summary.samples.filter((s) => s.target === t.name && s.id === `services${count}.${id}`);
                    expect(
                        samples.map((s) => s.repetition),
                        `${t.name} ${id} at ${count}`,
                    ).toEqual([1, 2]);
                    for (const s of samples) expect(s.raw.every((r) => r.startsWith(path.join("raw", t.name, `services${count}`, `rep${s.repetition}`)))).toBe(true);
                }
            }
        }
        expect(summary.figures.every((f) => parseServiceFigureId(f.id) !== undefined)).toBe(true);
        expect(summary.figures.find((f) => f.id === "services1000.guestbook.connect.cps")?.label).toMatch(/connections\/s .*\(1000 extra Services\)$/);
    });

    it("connections/s, SYN retries and first byte re-parse from their raw outputs: wrk with Connection: close, curl one connection at a time", () => {
        const stdout = (file: string) => fs.readFileSync(path.join(outDir, file), "utf8").split("--- stdout ---\n")[1].split("--- stderr ---")[0];
        for (const s of summary.samples.filter((x) => x.id.endsWith(".guestbook.connect.cps"))) {
            const text = fs.readFileSync(path.join(outDir, s.raw[0]), "utf8");
            expect(text).toMatch(/# command: [\s\S]* wrk -t 1 -c 2 -d 1s [^\n]* -H 'Connection: close' -s \/dev\/stdin /);
            expect(parseWrk(stdout(s.raw[0])).requestsPerSecond).toBe(s.value);
            expect(s.value).toBeGreaterThan(0);
        }
        // The SYN retries: the kernel's counters around that same wrk run (its stderr), a whole number.
        const stderr = (file: string) => fs.readFileSync(path.join(outDir, file), "utf8").split("--- stderr ---\n")[1];
        const retries = summary.samples.filter((x) => x.id.endsWith(".guestbook.connect.synRetries"));
        expect(retries).toHaveLength(2 * 2 * 2);
        for (const s of retries) {
            expect(s.raw[0]).toBe(summary.samples.find((x) => x.target === s.target && x.repetition === s.repetition && x.id === s.id.replace("synRetries", "cps"))!.raw[0]);
            expect(tcpCounterDelta(stderr(s.raw[0]), "TCPSynRetrans")).toBe(s.value);
            expect(Number.isInteger(s.value) && s.value >= 0).toBe(true);
        }
        for (const s of summary.samples.filter((x) => x.id.endsWith(".guestbook.connect.firstByte.p50"))) {
            const r = parseFirstByte(stdout(s.raw[0]));
            expect(r.connections).toBe(1000);
            expect(r.firstByteMs.p50).toBe(s.value);
        }
    });

    it("renders the axis table: a row per target and proxy, a column per count, intervals, the change, the installed counts", () => {
        const report = fs.readFileSync(path.join(outDir, "report.md"), "utf8");
        const section = report.slice(report.indexOf("## Service proxy: cost by number of Services"));
        expect(section).toContain("| target (proxy) | 0 Services | 1000 Services | 1000 vs 0 |");
        expect(section).toMatch(
            /### New connections per second \(Connection: close, via NodePort; [^\n]*\) \(conn\/s\)\n\n.*\n.*\n\| lab-vxlan-iptables \(iptables\) \| [\d.]+ \[[\d.]+–[\d.]+\] \| [\d.]+ \[[\d.]+–[\d.]+\] \| [+−][\d.]+ \[[+−][\d.]+, [+−][\d.]+\] \|/,
        );
        expect(section).toMatch(
            /\| lab-vxlan-nftables \(nftables\) \| service-ips map elements: 3; service-\* chains: 3; set in [\d.]+ s \| service-ips map elements: 1003; service-\* chains: 1003; set in [\d.]+ s \|/,
        );
    });
});

describe("the axis refuses what it cannot do, before measuring", () => {
    it("a target without a Service proxy control: named, nothing measured, no results folder", async () => {
        const outDir = path.join(tempDir(), "never");
        await expect(
            runBenchmark(targets, {
                ...short,
                outDir,
                serviceCounts: [0],
                openSession: async (t) =>
                    t.name.endsWith("nftables") ? new LoopbackSession(t, { http: http() }) : new LoopbackServiceSession(t, { http: http() }, new StandinServiceProxy("iptables")),
            }),
        ).rejects.toThrow(/serviceCounts: lab-vxlan-nftables cannot change its number of Services/);
        expect(fs.existsSync(outDir)).toBe(false);
    });

    it.each([
        [[-1], /serviceCounts: -1 is not allowed; use whole numbers from 0 to 50000/],
        [[maxServiceCount + 1], /serviceCounts: 50001 is not allowed/],
        [[1.5], /serviceCounts: 1.5 is not allowed/],
        [[0, 1000, 0], /serviceCounts: 0 appears twice/],
        [[], /serviceCounts: empty/],
    ])("counts %j", (counts, message) => {
        expect(() => resolveSettings(targets, { outDir: "x", serviceCounts: counts })).toThrow(message);
    });

    it("the stand-in refuses a negative count and one above the bound, as a real control would", async () => {
        const proxy = new StandinServiceProxy("iptables");
        await expect(proxy.setServices(-1)).rejects.toThrow(/-1 is not allowed/);
        await expect(proxy.setServices(maxServiceCount + 1)).rejects.toThrow(/50001 is not allowed/);
        expect(proxy.calls).toEqual([]);
    });

    it("a count that cannot be set ends the axis with an error; the counts before it keep their figures", async () => {
        const outDir = tempDir();
        const summary = await runBenchmark([targets[0]], {
            ...short,
            repetitions: 1,
            cases: ["guestbook.read"],
            outDir,
            serviceCounts: [0, 1000],
            openSession: async (t) => new LoopbackServiceSession(t, { http: http() }, new StandinServiceProxy("iptables", 1000)),
        });
        expect(summary.errors).toEqual([
            { target: "lab-vxlan-iptables", repetition: 0, measurement: "services", message: expect.stringMatching(/setting 1000 extra Services failed.*creating 1000 Services failed/) },
        ]);
        expect(new Set(summary.samples.map((s) => parseServiceFigureId(s.id)?.services))).toEqual(new Set([0]));
        expect(summary.serviceAxis?.points.map((p) => p.services)).toEqual([0]);
    }, 60_000);
});
