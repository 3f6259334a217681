/**
 * The hostile-input table's "missing tool" class: for every CLI, every program its run starts on
 * this machine, taken from the same function the CLI checks with (bench/cli.ts benchTools with
 * the production stack reader's tools, lab/tools.ts labTools, core/pulumi.ts pulumiTool for
 * compare's wiring), so a new program joins the table by construction. Each row runs the real `main` in-process (test/cli-harness.ts) with
 * PATH set to a folder of symlinks to every needed program but one, and asserts exit 1 (core/cli.ts:
 * a missing program is a failure of this machine, not of the command line), a message naming the
 * program and how to install it, and that nothing was created: no file or folder, no lab ledger,
 * namespace or process, no stack read, no engine wired, no lab opened. A control row per command
 * gives it every program and shows that it then gets past the check (a check that always refused
 * would pass the rows too). render starts no program: its row runs with an empty PATH.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { benchTools, parseBenchCommand, productionWiring } from "../bench/cli";
import { loadTargetsFile } from "../bench/stack-outputs";
import { exitCodes } from "../core/cli";
import { pulumiTool } from "../core/pulumi";
import { findExecutable, type Tool } from "../core/tools";
import { measurementTools } from "../bench/measure/measurements";
import { loadGeneratorPackages } from "../components/nodeScripts";
import { parseLabCommand } from "../lab/cli";
import { labTarget } from "../lab/lab";
import { labTools } from "../lab/tools";
import { labTopology } from "../lab/topology";
import { runCli, sideEffects, type CliName, type Outcome } from "./cli-harness";
import { writeFakePulumi } from "./compare/fake-pulumi";
import { useTempDirs } from "./temp-dirs";

const tempDir = useTempDirs("missing-tool-");
const realPath = process.env.PATH;
const isRoot = process.getuid?.() === 0;

/** Tool lists are computed when the rows are collected: the lab targets file they read lives here. */
const listDir = fs.mkdtempSync(path.join(os.tmpdir(), "missing-tool-list-"));
afterAll(() => fs.rmSync(listDir, { recursive: true, force: true }));

/** A lab target (platform "lab", with a CPU group as the lab gives its targets) in a targets file. */
function labTargetsFile(dir: string): string {
    const file = path.join(dir, "lab-targets.json");
    fs.writeFileSync(file, JSON.stringify([labTarget(labTopology("vxlan", "abc123"), { dir: "/sys/fs/cgroup/cnilab-abc123-vxlan", version: 2 })]));
    return file;
}

interface Scenario {
    readonly cli: CliName;
    readonly title: string;
    /** Made in the row's folder `dir` (files it needs are written there first). */
    readonly argv: (dir: string) => string[];
    /** The programs the command needs, from the function the command itself checks with. */
    readonly tools: Tool[];
    readonly env?: (bin: string, dir: string) => NodeJS.ProcessEnv;
    /** With every program present: how the command shows it got past the check (absent: no control run). */
    readonly pastTheCheck?: (out: Outcome) => void;
}

const benchNeeds = (argv: string[]) => {
    const cmd = parseBenchCommand(argv);
    return benchTools(cmd, cmd.targetsFile ? loadTargetsFile(cmd.targetsFile) : [], productionWiring.readerTools);
};
const labNeeds = (argv: string[]) => {
    return labTools(parseLabCommand(argv));
};
// Past the check a non-root lab stops at the root check (exit 2), before Lab.open.
const labOpened = (out: Outcome) => expect(out.reached).toEqual(isRoot ? ["lab: Lab.open"] : []);

const scenarios: Scenario[] = [
    { cli: "bench", title: "bench <stack>", argv: () => ["vxlan"], tools: benchNeeds(["vxlan"]), pastTheCheck: (out) => expect(out.reached).toEqual(["bench: read outputs of vxlan"]) },
    {
        cli: "bench",
        title: "bench --targets <lab targets>",
        argv: (dir) => ["--targets", labTargetsFile(dir), "--out", path.join(dir, "out")],
        tools: benchNeeds(["--targets", labTargetsFile(listDir)]),
        // Past the check the runner probes the target's namespaces, which this test never made.
        pastTheCheck: (out) => expect(out.message).toMatch(/network namespace "cnilab-abc123-vxlan-[\w-]+" is not usable/),
    },
    // Past the check the sample runs every tool for minutes: no control run.
    { cli: "bench", title: "bench sample <folder>", argv: (dir) => ["sample", path.join(dir, "sample")], tools: benchNeeds(["sample"]) },
    {
        cli: "compare",
        title: "compare --modes vxlan",
        argv: () => ["--modes", "vxlan", "--operator-cidr", "203.0.113.7/32", "--yes"],
        // compare/cli.ts pulumiWiring checks the one program compare starts itself, on env's PATH.
        tools: [pulumiTool()],
        env: (bin, dir) => ({ PATH: bin, PULUMI_CONFIG_PASSPHRASE: "test-only", PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}` }),
        pastTheCheck: (out) => expect(out.reached).toEqual(["compare: wired the engine"]),
    },
    { cli: "lab", title: "lab (every mode)", argv: () => [], tools: labNeeds([]), pastTheCheck: labOpened },
    { cli: "lab", title: "lab --verify", argv: () => ["--verify"], tools: labNeeds(["--verify"]), pastTheCheck: labOpened },
    { cli: "lab", title: "lab --measurements latency", argv: () => ["--measurements", "latency"], tools: labNeeds(["--measurements", "latency"]), pastTheCheck: labOpened },
    { cli: "lab", title: "lab --background-load 50", argv: () => ["--background-load", "50"], tools: labNeeds(["--background-load", "50"]), pastTheCheck: labOpened },
    {
        cli: "lab",
        title: "lab --service-proxy iptables,nftables",
        argv: () => ["--service-proxy", "iptables,nftables"],
        tools: labNeeds(["--service-proxy", "iptables,nftables"]),
        pastTheCheck: labOpened,
    },
    // No ledger folder: nothing to clean, exit 0.
    { cli: "lab", title: "lab --cleanup", argv: () => ["--cleanup"], tools: labNeeds(["--cleanup"]), pastTheCheck: (out) => expect(out.code).toBe(isRoot ? exitCodes.ok : exitCodes.usage) },
    // render evaluates the program in-process and starts nothing.
    { cli: "render", title: "render", argv: () => [], tools: [], pastTheCheck: (out) => expect(out.reached).toEqual(["render: evaluated a stack"]) },
];

/**
 * A folder of symlinks to each of `tools` but `except`: as PATH, only that one is missing. The
 * Pulumi CLI is not installed on these machines: the test stand-in (test/compare/fake-pulumi.ts)
 * is put there instead (the rows never run it).
 */
function pathWithout(tools: readonly Tool[], except?: string): string {
    const dir = tempDir();
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    for (const t of tools) {
        if (t.command === except || fs.existsSync(path.join(bin, t.command))) continue;
        const real = findExecutable(t.command, { PATH: realPath });
        if (real) fs.symlinkSync(real, path.join(bin, t.command));
        else if (t.command === "pulumi") {
            const fake = writeFakePulumi(path.join(dir, "fake"), { upMs: 0, destroyMs: 0, upOnSigint: "stop", upOnSigterm: "stop", exitAfterSignalMs: 0, outputs: {} });
            fs.symlinkSync(path.join(fake, "pulumi"), path.join(bin, "pulumi"));
        } else throw new Error(`${t.command} is not installed here (sudo npm run lab:deps): the rows need every program but one`);
    }
    return bin;
}

/** Runs `s` with `bin` as the whole PATH; what it printed and what exists before and after. */
async function runWithPath(s: Scenario, bin: string) {
    const dir = tempDir();
    const argv = s.argv(dir);
    const ledgerDir = path.join(dir, "ledgers");
    const snapshot = () => sideEffects(dir, ledgerDir);
    const before = snapshot();
    let out: Outcome;
    process.env.PATH = bin;
    try {
        out = await runCli(s.cli, argv, { ledgerDir, env: s.env?.(bin, dir), productionWiringChecks: true });
    } finally {
        process.env.PATH = realPath;
    }
    return { out, argv, before, after: snapshot() };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const rows = scenarios.flatMap((s) => s.tools.map((tool) => ({ s, tool })));

describe(`missing tool (${rows.length} rows, from the CLIs' own tool lists): exit 1, the program and its install named, nothing created`, () => {
    it("every command that starts a program has rows; render has none", () => {
        for (const s of scenarios) expect(s.tools.length > 0, s.title).toBe(s.cli !== "render");
        // What the issue names, so a list that lost one fails here.
        const needs = (title: string) => scenarios.find((s) => s.title === title)!.tools.map((t) => t.command);
        expect(needs("bench <stack>")).toEqual(["pulumi"]);
        expect(needs("bench --targets <lab targets>")).toEqual(expect.arrayContaining(["ip", "iperf3", "wrk", "sockperf"]));
        expect(needs("lab (every mode)")).toEqual(expect.arrayContaining(["ip", "iptables", "iperf3", "wrk", "bird", "birdc", "apache2", "redis-server", "redis-cli", "curl", "wg"]));
        expect(needs("lab --measurements latency")).toContain("sockperf");
        expect(needs("lab --background-load 50")).toContain("stress-ng");
        expect(needs("lab --service-proxy iptables,nftables")).toEqual(expect.arrayContaining(["nft", "iptables-restore", "iptables-save"]));
        expect(needs("lab --verify")).toEqual(expect.arrayContaining(["tcpdump", "ping"]));
    });

    it.each(rows.map((r) => [`${r.s.title} without ${r.tool.command}`, r] as const))("%s", async (_, { s, tool }) => {
        const { out, argv, before, after } = await runWithPath(s, pathWithout(s.tools, tool.command));
        expect(out.code, `${argv.join(" ")}\n${out.message}`).toBe(exitCodes.failure);
        expect(out.message).toMatch(new RegExp(`^${s.cli}: .*"${escape(tool.command)}"[^;]* (is|are) not on PATH; [^\\n]*${escape(tool.install)}`, "m"));
        if (tool.package && tool.package !== tool.command) expect(out.message).toContain(`"${tool.command}" (Debian package ${tool.package})`);
        expect(out.reached, "a missing program must stop the command before any work").toEqual([]);
        expect(after, "nothing created: files, folders, ledger, namespaces, processes").toEqual(before);
    });

    it.each(scenarios.filter((s) => s.pastTheCheck).map((s) => [s.title, s] as const))("%s with every program on PATH gets past the check", async (_, s) => {
        const { out } = await runWithPath(s, pathWithout(s.tools));
        expect(out.message).not.toMatch(/not on PATH/);
        s.pastTheCheck!(out);
    });

    it("two missing programs are named in one message (one run tells the whole story)", async () => {
        const s = scenarios.find((x) => x.title === "lab (every mode)")!;
        const bin = pathWithout(s.tools, "iperf3");
        fs.rmSync(path.join(bin, "bird"));
        const { out } = await runWithPath(s, bin);
        expect(out.code).toBe(exitCodes.failure);
        expect(out.message).toMatch(/missing tools: "bird" \(Debian package bird2\), "iperf3" are not on PATH; install with `sudo npm run lab:deps`/);
    });
});

describe("the tool lists agree with the other places that name the same programs", () => {
    it("the measurements' tools are exactly the load generator's packages (components/nodeScripts.ts)", () => {
        expect([...new Set(Object.values(measurementTools).flat())].sort()).toEqual([...loadGeneratorPackages].sort());
    });
});

describe("every package a missing-tool message names is one that scripts/install-deps.sh installs", () => {
    // The packages=( … ) array of the script the hint runs (package.json "lab:deps").
    const script = fs.readFileSync(path.resolve(__dirname, "..", "scripts", "install-deps.sh"), "utf8");
    const installed = /packages=\(([^)]*)\)/.exec(script)![1].split(/\s+/).filter(Boolean);
    it.each(rows.filter((r) => r.tool.package !== undefined).map((r) => [`${r.s.title}: ${r.tool.command} (${r.tool.package})`, r.tool] as const))("%s", (_, tool) => {
        expect(installed).toContain(tool.package);
    });
});
