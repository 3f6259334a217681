import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { useTempDirs } from "../test/temp-dirs";
import { Ledger, RunLock } from "./ledger";
import { formatElapsed } from "./progress";

const tempDir = useTempDirs("compare-ledger-");

const entry = (stack: string, phase: "creating" | "created" = "created") => ({ stack, phase, runId: "r1", pid: 42, recordedAt: "2026-11-23T00:00:00.000Z" });

describe("Ledger", () => {
    it("is on disk after each change, readable by a fresh reader", () => {
        const dir = tempDir();
        const ledger = new Ledger(dir);
        expect(ledger.entries()).toEqual([]);
        ledger.record(entry("vxlan", "creating"));
        ledger.record(entry("calico"));
        ledger.record(entry("vxlan", "created"));
        expect(new Ledger(dir).entries()).toEqual([entry("calico"), entry("vxlan", "created")]);
        ledger.forget("calico");
        expect(JSON.parse(fs.readFileSync(path.join(dir, "ledger.json"), "utf8"))).toEqual({ version: 1, stacks: [entry("vxlan", "created")] });
        expect(fs.readdirSync(dir), "no temporary file is left").toEqual(["ledger.json"]);
    });

    it("refuses a corrupted ledger instead of treating it as empty", () => {
        const dir = tempDir();
        fs.writeFileSync(path.join(dir, "ledger.json"), "{ not json");
        expect(() => new Ledger(dir).entries()).toThrow(/cannot read it as JSON[\s\S]*Inspect it by hand/);
    });
});

describe("RunLock", () => {
    it("admits one run at a time and names the holder", () => {
        const dir = tempDir();
        const first = new RunLock(dir);
        first.acquire();
        expect(() => new RunLock(dir).acquire()).toThrow(new RegExp(`another compare run \\(pid ${process.pid}\\) holds`));
        first.release();
        const second = new RunLock(dir);
        second.acquire();
        second.release();
        expect(fs.existsSync(path.join(dir, "run.lock"))).toBe(false);
    });

    it("takes over the lock of a process that died", () => {
        const dir = tempDir();
        // A real pid that no longer exists: a child that has exited.
        const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
        fs.writeFileSync(path.join(dir, "run.lock"), dead);
        const lock = new RunLock(dir);
        lock.acquire();
        expect(fs.readFileSync(path.join(dir, "run.lock"), "utf8")).toBe(String(process.pid));
        lock.release();
    });
});

describe("progress text", () => {
    it("formats elapsed time", () => {
        expect([formatElapsed(0), formatElapsed(42_000), formatElapsed(245_000), formatElapsed(3_720_000)]).toEqual(["0s", "42s", "4m05s", "1h02m"]);
    });
});
