/**
 * The hostile-input table: every option of every CLI × every class of bad input its value rule
 * admits (core/cli.ts ValueRule), generated from the CLIs' own option vocabularies, so a new
 * option joins the table by being declared. Each row runs the real `main` in-process
 * (test/cli-harness.ts) and asserts exit 2, a message naming the option as typed, and that
 * nothing was created: no file or folder, no lab ledger, namespace or process, no stack wired,
 * no stack read or evaluated. Read-only output folders need a mount: the last block spawns each
 * CLI in a private mount namespace with a read-only tmpfs (root only).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { benchOptions } from "../bench/cli";
import { compareCleanupTakes, compareOptions } from "../compare/args";
import { exitCodes, type OptionSpec, type ValueRule } from "../core/cli";
import { labCleanupTakes, labOptions } from "../lab/cli";
import { renderOptions } from "../render/cli";
import { runCli, sideEffects, type CliName } from "./cli-harness";
import { useTempDirs } from "./temp-dirs";

const tempDir = useTempDirs("hostile-input-");

interface CliUnderTest {
    readonly options: Record<string, OptionSpec>;
    /** What the command needs besides the option under test to get past its own checks. */
    readonly base: Readonly<Record<string, readonly string[]>> & { readonly positionals?: readonly string[] };
    /** Options `--cleanup` takes besides itself (and --help). */
    readonly cleanupTakes?: readonly string[];
}

const clis: Record<CliName, CliUnderTest> = {
    bench: { options: benchOptions, base: { positionals: ["vxlan"] } },
    compare: { options: compareOptions, base: { modes: ["--modes", "vxlan"], "operator-cidr": ["--operator-cidr", "203.0.113.7/32"], yes: ["--yes"] }, cleanupTakes: compareCleanupTakes },
    lab: { options: labOptions, base: {}, cleanupTakes: labCleanupTakes },
    render: { options: renderOptions, base: {} },
};

/** A value each rule accepts (for the classes that are about something else: repeats, strays). */
const goodText: Record<string, string> = { "operator-cidr": "203.0.113.7/32", baseline: "vxlan", "udp-bitrate": "1G" };
function goodValue(name: string, rule: ValueRule, dir: string): string {
    if (goodText[name]) return goodText[name];
    switch (rule.kind) {
        case "integer":
        case "number":
            return String(rule.min);
        case "choice":
            return rule.allowed[0];
        case "list":
            return rule.integer ? String(rule.integer.min) : (rule.allowed?.[0] ?? "x");
        case "out-folder":
            return path.join(dir, "out");
        case "in-file":
            fs.writeFileSync(path.join(dir, "in.json"), "[]");
            return path.join(dir, "in.json");
        case "text":
            return "x";
    }
}

interface BadValue {
    readonly kind: string;
    /** The value, made in `dir` where it is a path. */
    readonly value: (dir: string) => string;
    /** Besides the option's name: what the message must say. */
    readonly says: RegExp;
}

/** The bad values of one rule, by class. */
function badValues(rule: ValueRule): BadValue[] {
    const aFile = (dir: string) => {
        fs.writeFileSync(path.join(dir, "a-file"), "x");
        return path.join(dir, "a-file");
    };
    switch (rule.kind) {
        case "integer":
        case "number": {
            const what = rule.kind === "integer" ? "whole number" : "number";
            const range = new RegExp(`must be a ${what} from ${rule.min} to ${rule.max}`);
            return [
                { kind: "out of range (above)", value: () => String(rule.max + 1), says: range },
                { kind: "out of range (below)", value: () => String(rule.min - 1), says: range },
                { kind: "out of range (huge)", value: () => "1e308", says: range },
                { kind: "malformed (hex)", value: () => "0x10", says: range },
                { kind: "malformed (word)", value: () => "ten", says: range },
                ...(rule.kind === "integer" ? [{ kind: "malformed (fraction)", value: () => `${rule.min}.5`, says: range }] : []),
            ];
        }
        case "choice":
            return [{ kind: "not allowed", value: () => "bogus", says: new RegExp(`"bogus" is not allowed; use one of ${rule.allowed.join(", ")}`) }];
        case "list": {
            const good = rule.integer ? String(rule.integer.min) : (rule.allowed?.[0] ?? "x");
            const bad: BadValue[] = [
                { kind: "empty list", value: () => ",", says: /is empty/ },
                { kind: "repeated item", value: () => `${good},${good}`, says: new RegExp(`"${good}" is listed twice`) },
            ];
            if (rule.allowed) bad.push({ kind: "unknown item", value: () => `${good},bogus`, says: /"bogus" is not allowed; use / });
            if (rule.integer) {
                bad.push({ kind: "malformed item", value: () => `${good},0x10`, says: /"0x10" must be a whole number/ });
                bad.push({ kind: "item out of range", value: () => `${good},${rule.integer!.max + 1}`, says: /must be a whole number from/ });
            }
            return bad;
        }
        case "out-folder":
            return [
                { kind: "path that is a file", value: aFile, says: /is a file, not a folder/ },
                { kind: "path below a file", value: (dir) => path.join(aFile(dir), "sub"), says: /a-file is a file, not a folder/ },
                { kind: "empty path", value: () => "", says: /"" must be a folder path/ },
            ];
        case "in-file":
            return [
                { kind: "missing file", value: (dir) => path.join(dir, "missing.json"), says: /missing\.json" does not exist/ },
                { kind: "folder, not file", value: (dir) => dir, says: /is a folder, not a file/ },
            ];
        case "text":
            return [{ kind: "empty", value: () => "", says: /"" is empty/ }, ...(rule.pattern ? [{ kind: "malformed", value: () => "fast", says: /"fast" is not allowed; use / }] : [])];
    }
}

interface TableRow {
    readonly cli: CliName;
    readonly title: string;
    readonly argv: (dir: string) => string[];
    readonly env?: NodeJS.ProcessEnv;
    readonly says: RegExp;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The table, from the vocabularies. */
function table(): TableRow[] {
    const rows: TableRow[] = [];
    for (const [cli, c] of Object.entries(clis) as [CliName, CliUnderTest][]) {
        const baseFor = (except: string) => [...(c.base.positionals ?? []), ...Object.entries(c.base).flatMap(([name, args]) => (name === except || name === "positionals" ? [] : args))];
        rows.push({ cli, title: "unknown option", argv: () => [...baseFor(""), "--no-such-option"], says: /Unknown option '--no-such-option'/ });
        for (const [name, spec] of Object.entries(c.options)) {
            const flag = `--${name}`;
            if (spec.type === "boolean") {
                rows.push({ cli, title: `${flag} repeated`, argv: () => [...baseFor(name), flag, flag], says: new RegExp(`${flag}: given twice`) });
                rows.push({
                    cli,
                    title: `${flag}=x (wrong type: a switch takes no value)`,
                    argv: () => [...baseFor(name), `${flag}=x`],
                    says: new RegExp(`Option '(-\\w, )?${flag}' does not take an argument`),
                });
            } else {
                rows.push({
                    cli,
                    title: `${flag} repeated`,
                    argv: (d) => [...baseFor(name), flag, goodValue(name, spec.value, d), flag, goodValue(name, spec.value, d)],
                    says: new RegExp(`${flag}: given twice`),
                });
                rows.push({ cli, title: `${flag} without its value`, argv: () => [...baseFor(name), flag], says: new RegExp(`Option '${flag} <value>' argument missing`) });
                for (const bad of badValues(spec.value)) {
                    // The `=` form: a value starting with "-" is then the value, not another option.
                    // The message starts with the option as typed and the value, then says what is wrong.
                    rows.push({
                        cli,
                        title: `${flag} ${bad.kind}`,
                        argv: (d) => [...baseFor(name), `${flag}=${bad.value(d)}`],
                        says: new RegExp(`^${cli}: ${escape(flag)}: .*${bad.says.source}`, "m"),
                    });
                    // An empty variable is an unset one (core/cli.ts), so "empty" is no class there.
                    if (spec.env && bad.value(tempDirForEnv) !== "") {
                        rows.push({
                            cli,
                            title: `env ${spec.env} ${bad.kind}`,
                            argv: () => baseFor(name),
                            env: { [spec.env]: bad.value(tempDirForEnv) },
                            says: new RegExp(`^${cli}: env ${spec.env}: .*${bad.says.source}`, "m"),
                        });
                    }
                }
            }
            if (c.cleanupTakes && name !== "cleanup" && name !== "help" && !c.cleanupTakes.includes(name)) {
                const given = (d: string) => (spec.type === "boolean" ? [flag] : [flag, goodValue(name, spec.value, d)]);
                rows.push({ cli, title: `--cleanup with ${flag} (stray)`, argv: (d) => ["--cleanup", ...given(d)], says: new RegExp(`--cleanup takes [^;]*; remove ${flag}$`, "m") });
            }
        }
    }
    return rows;
}

/** Env values are made before the row's own folder exists: only non-path rules have env here. */
const tempDirForEnv = "/nonexistent-env-dir";

const rows = table();

describe(`the hostile-input table (${rows.length} rows, generated from the option vocabularies)`, () => {
    it("covers every option of every CLI", () => {
        for (const [cli, c] of Object.entries(clis)) {
            for (const name of Object.keys(c.options))
                expect(
                    rows.some((r) => r.cli === cli && r.title.startsWith(`--${name} `)),
                    `${cli} --${name}`,
                ).toBe(true);
        }
    });

    it.each(rows.map((r) => [`${r.cli}: ${r.title}`, r] as const))("%s → exit 2, named, nothing created", async (_, r) => {
        const dir = tempDir();
        const argv = r.argv(dir);
        const ledgerDir = path.join(dir, "ledgers");
        const before = sideEffects(dir, ledgerDir);
        const out = await runCli(r.cli, argv, { env: r.env, ledgerDir });
        expect(out.code, `${argv.join(" ")}\n${out.message}`).toBe(exitCodes.usage);
        expect(out.message).toMatch(r.says);
        expect(out.reached).toEqual([]);
        expect(before.ledger).toBe(false);
        expect(sideEffects(dir, ledgerDir)).toEqual(before);
    });
});

/**
 * An --out on a read-only file system: the real cause, before any work. A tmpfs mounted
 * read-only in a private mount namespace (unshare(1) -m; mount(8) -o ro), so nothing outside the
 * child sees it and nothing is left mounted. Root ignores permission bits but not EROFS
 * (access(2)), which is why a chmod cannot stand in for this.
 */
describe.skipIf(process.getuid?.() !== 0)("--out on a read-only file system (root: a private mount namespace)", () => {
    const argv: Record<CliName, string[]> = {
        bench: ["vxlan", "--dry-run"],
        compare: ["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32", "--yes"],
        lab: [],
        render: [],
    };
    it("bench, compare, lab and render --out <read-only>: exit 2, say read-only, create nothing", () => {
        const dir = tempDir();
        const ro = path.join(dir, "ro");
        fs.mkdirSync(ro);
        const out = path.join(ro, "results");
        const cases = (Object.keys(argv) as CliName[]).map((cli) => [cli, [...argv[cli], "--out", out]]);
        // One child for the four (test/cli-probe.ts): a tsx start costs seconds on a loaded machine.
        const script = `mount -t tmpfs -o ro tmpfs "$1" && shift && exec "$@"`;
        const r = spawnSync(
            "unshare",
            ["-m", "--propagation", "private", "sh", "-c", script, "sh", ro, process.execPath, "--import", "tsx", "test/cli-probe.ts", JSON.stringify(cases), path.join(dir, "ledgers")],
            { cwd: path.resolve(__dirname, ".."), encoding: "utf8", timeout: 60_000 },
        );
        expect(r.status, r.stderr).toBe(0);
        const results = JSON.parse(r.stdout) as { cli: CliName; code: number; stderr: string }[];
        expect(results.map((x) => x.cli)).toEqual(Object.keys(argv));
        for (const { cli, code, stderr } of results) {
            expect(code, `${cli}: ${stderr}`).toBe(exitCodes.usage);
            expect(stderr).toMatch(new RegExp(`^${cli}: --out: ".*results": .*ro is on a read-only file system`, "m"));
        }
        expect(fs.readdirSync(ro), "the mount was private to the child").toEqual([]);
        expect(fs.existsSync(path.join(dir, "ledgers"))).toBe(false);
    });
});
