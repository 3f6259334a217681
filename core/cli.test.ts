/**
 * The one CLI contract (core/cli.ts) and the durable ledger file (core/ledger.ts, schema.ts).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { exitCodeFor, exitCodes, integerOption, listOption, numberOption, parseCommandLine, shared, watchInterrupts } from "./cli";
import { InterruptedError, SchemaError, UsageError } from "./errors";
import { LedgerFile } from "./ledger";

const dirs: string[] = [];
afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    vi.restoreAllMocks();
});

describe("the CLI contract", () => {
    it("exit codes: 0 ok, 1 failure, 2 bad usage, 3 gate failed, 130 interrupted", () => {
        expect(exitCodes).toEqual({ ok: 0, failure: 1, usage: 2, gateFailed: 3, interrupted: 130 });
    });

    it("maps an escaped error to its code by class, and prints it", () => {
        const printed: string[] = [];
        vi.spyOn(console, "error").mockImplementation((m: string) => void printed.push(m));
        class ConfigProblem extends Error {}
        expect(exitCodeFor("x", new UsageError("--out: missing"))).toBe(2);
        expect(exitCodeFor("x", new SchemaError("file: mtu.node: expected number"))).toBe(2);
        expect(exitCodeFor("x", new ConfigProblem("instanceType"), [ConfigProblem])).toBe(2);
        expect(exitCodeFor("x", new InterruptedError("interrupted by SIGINT"))).toBe(130);
        expect(exitCodeFor("x", new Error("disk full"))).toBe(1);
        // A message that merely looks like usage is still a failure: classes decide, not text.
        expect(exitCodeFor("x", new Error("UsageError: --out"))).toBe(1);
        expect(printed[0]).toBe("x: --out: missing\n(--help shows the usage)");
    });

    it("parses strictly: an unknown option or a missing value is a UsageError naming it", () => {
        const options = { out: shared("out"), help: shared("help") } as const;
        expect(parseCommandLine(["--out", "r"], options).values).toEqual({ out: path.resolve("r") });
        expect(() => parseCommandLine(["--outt", "r"], options)).toThrow(UsageError);
        expect(() => parseCommandLine(["--outt", "r"], options)).toThrow(/--outt/);
        expect(() => parseCommandLine(["--out"], options)).toThrow(/--out/);
        expect(() => parseCommandLine(["stray"], options)).toThrow(UsageError);
    });

    it("values: the option, the value and what is allowed", () => {
        expect(integerOption("--repetitions", "3", { min: 1, max: 100 })).toBe(3);
        expect(integerOption("--repetitions", undefined, { min: 1, max: 100 })).toBeUndefined();
        expect(() => integerOption("--repetitions", "2.5", { min: 1, max: 100 })).toThrow('--repetitions: "2.5" must be a whole number from 1 to 100');
        expect(() => integerOption("--parallel", "21", { min: 1, max: 20 })).toThrow('--parallel: "21" must be a whole number from 1 to 20');
        expect(() => numberOption("--max-overhead-pct", "-1", { min: 0, max: 1000 })).toThrow('--max-overhead-pct: "-1" must be a number from 0 to 1000');
        expect(listOption("--measurements", " http, latency ")).toEqual(["http", "latency"]);
        expect(() => listOption("--measurements", " , ")).toThrow('--measurements: " , " is empty');
    });

    it("numbers are decimal: hex, exponents, Infinity and 2.0 are refused, not read as numbers", () => {
        for (const text of ["0x10", "1e3", "1e308", "Infinity", "2.0", "+3", " ", "0b11", "1_000"]) {
            expect(() => integerOption("--duration", text, { min: 1, max: 600 }), text).toThrow(`--duration: ${JSON.stringify(text)} must be a whole number from 1 to 600`);
        }
        for (const text of ["0x10", "1e3", "Infinity", "NaN", "."]) {
            expect(() => numberOption("--up-timeout", text, { min: 1, max: 1440 }), text).toThrow(`--up-timeout: ${JSON.stringify(text)} must be a number from 1 to 1440`);
        }
        expect(numberOption("--up-timeout", "2.5", { min: 1, max: 1440 })).toBe(2.5);
    });

    it("an option given twice is refused, named as typed, whatever form the second one takes", () => {
        const options = { out: shared("out"), yes: shared("yes"), help: shared("help") } as const;
        expect(() => parseCommandLine(["--out", "a", "--out=b"], options)).toThrow("--out: given twice; give it once");
        expect(() => parseCommandLine(["--yes", "--yes"], options)).toThrow("--yes: given twice");
        expect(() => parseCommandLine(["--help", "-h"], options)).toThrow("-h: given twice (also as --help); give it once");
    });

    it("a value from the environment is checked by the same rule and named by its variable", () => {
        const options = { parallel: { type: "string", arg: "N", help: "", value: { kind: "integer", min: 1, max: 20 }, env: "PARALLEL" } } as const;
        expect(parseCommandLine([], options, { env: { PARALLEL: "4" } })).toMatchObject({ values: { parallel: 4 }, sources: { parallel: "env PARALLEL" } });
        expect(() => parseCommandLine([], options, { env: { PARALLEL: "0x4" } })).toThrow('env PARALLEL: "0x4" must be a whole number from 1 to 20');
        // The flag wins over the variable, and is named.
        expect(parseCommandLine(["--parallel", "2"], options, { env: { PARALLEL: "bad" } }).sources.parallel).toBe("--parallel");
    });

    it("one Ctrl-C seen twice within the window counts once; a later one counts again", async () => {
        const heard: [string, number][] = [];
        const watch = watchInterrupts((sig, count) => heard.push([sig, count]), 200);
        try {
            process.emit("SIGINT", "SIGINT");
            process.emit("SIGINT", "SIGINT"); // the same keypress, relayed
            expect(watch.signal.aborted).toBe(true);
            expect(watch.signal.reason).toBeInstanceOf(InterruptedError);
            expect(heard).toEqual([["SIGINT", 1]]);
            await new Promise((r) => setTimeout(r, 250));
            process.emit("SIGTERM", "SIGTERM");
            expect(heard).toEqual([
                ["SIGINT", 1],
                ["SIGTERM", 2],
            ]);
            expect(watch.received).toBe("SIGINT");
        } finally {
            watch.dispose();
        }
    });
});

describe("the durable ledger file", () => {
    const schema = z.object({ version: z.literal(1), stacks: z.array(z.object({ stack: z.string(), pid: z.number().int() })) });

    it("writes atomically (no temporary file left) and reads back what it wrote", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "core-ledger-"));
        dirs.push(dir);
        const file = new LedgerFile(path.join(dir, "ledger.json"), schema, "inspect it by hand");
        expect(file.read()).toBeUndefined();
        file.write({ version: 1, stacks: [{ stack: "vxlan", pid: 42 }] });
        expect(new LedgerFile(file.file, schema, "").read()).toEqual({ version: 1, stacks: [{ stack: "vxlan", pid: 42 }] });
        expect(fs.readdirSync(dir)).toEqual(["ledger.json"]);
        expect(fs.statSync(file.file).mode & 0o777).toBe(0o600);
    });

    it("a wrong field is named (path, problem) with the advice, never read as empty", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "core-ledger-"));
        dirs.push(dir);
        const file = new LedgerFile(path.join(dir, "ledger.json"), schema, "Inspect it by hand.");
        fs.writeFileSync(file.file, JSON.stringify({ version: 1, stacks: [{ stack: "vxlan", pid: "42" }] }));
        expect(() => file.read()).toThrow(SchemaError);
        expect(() => file.read()).toThrow(/ledger .*ledger\.json: stacks\[0\]\.pid: Invalid input: expected number, received string\nInspect it by hand\./);
    });
});
