/**
 * TEST-ONLY: a fake `pulumi` executable for tests that run the real compare CLI (with the real
 * Pulumi adapter and the Automation API) as a child process. `writeFakePulumi(dir)` writes
 * `<dir>/bin/pulumi`; put `<dir>/bin` first on the child's PATH. It answers exactly the commands
 * the Automation API 3.248 sends for what compare does (node_modules/@pulumi/pulumi/automation):
 *
 *   stack ls --json                      LocalWorkspace.listStacks
 *   stack init <name>                    Stack.create → createStack
 *   stack select --stack <name>          Stack.select → selectStack ("no stack named '<name>' found")
 *   config set-all --stack <name> …      setAllConfig
 *   up --yes --skip-preview … --stack    Stack.up
 *   stack output --json [--show-secrets] stackOutputs (after up, and outputs())
 *   stack history --json …               Stack.info (after up and destroy)
 *   destroy --yes --skip-preview …       Stack.destroy
 *   stack rm --yes --preserve-config <n> removeStack
 *   cancel --yes --stack <name>          Stack.cancel (interface/index.js API.cancel)
 *   login --local | login <file://…>     the README's manual set-up, with
 *   config set <key> <value> --stack <n>  … and the stack's config (not kept: nothing reads it)
 *
 * Where the stacks live, as the real CLI decides it: PULUMI_BACKEND_URL when set (non-empty),
 * else the `current` backend of `pulumi login` in `$PULUMI_HOME/credentials.json` (default
 * `~/.pulumi`; pulumi/pulumi#5789: the variable is used "instead of deferring to the project or
 * the ~/.pulumi/credentials.json file"; #3300: PULUMI_HOME), else Pulumi Cloud, which without
 * PULUMI_ACCESS_TOKEN refuses in a non-interactive session with the CLI's own line
 * (pkg/backend/httpstate/login.go). Only file:// backends are modelled, laid out as the DIY
 * backend lays them out: `<dir>/.pulumi/stacks/<project>/<stack>.json`, the project named by the
 * Pulumi.yaml in the working directory; `~` is the account's home directory (the CLI resolves it
 * with Go's user.Current(), not $HOME: pkg/backend/diy/backend.go massageBlobPath).
 *
 * Every process appends to `<dir>/log.jsonl`: its start (argv), each signal it receives, its exit.
 * `up` and `destroy` take their time and take even longer to exit after a signal, like the real
 * CLI finishing in-flight resource operations after SIGINT.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export interface FakePulumiBehavior {
    readonly upMs: number;
    readonly destroyMs: number;
    /** On SIGINT during up: stop `exitAfterSignalMs` later, or ignore it. */
    readonly upOnSigint: "stop" | "ignore";
    /** On SIGTERM during up: stop `exitAfterSignalMs` later, or ignore it (then only SIGKILL ends it). */
    readonly upOnSigterm: "stop" | "ignore";
    readonly exitAfterSignalMs: number;
    /** What `stack output --json` prints once up is done. */
    readonly outputs: Record<string, unknown>;
}

export interface FakePulumiEvent {
    readonly at: number;
    readonly pid: number;
    readonly command: string;
    readonly stack?: string;
    readonly event: "start" | "signal" | "exit";
    readonly signal?: string;
    readonly code?: number;
}

/** The script, run by this very Node binary (no dependency on a `node` on PATH). */
function script(): string {
    return `#!${process.execPath}
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const dir = path.resolve(__dirname, "..");
const behavior = JSON.parse(fs.readFileSync(path.join(dir, "behavior.json"), "utf8"));
const args = process.argv.slice(2).filter((a) => a !== "--non-interactive");
const flag = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const words = args.filter((a, i) => !a.startsWith("-") && !(i > 0 && ["--stack", "--exec-kind", "--page-size", "--page", "--client"].includes(args[i - 1])));
const command = words.slice(0, words[0] === "stack" || words[0] === "config" ? 2 : 1).join(" ");
const stackArg = flag("--stack") || (command === "stack init" || command === "stack rm" ? words[2] : undefined);
const stack = stackArg ? stackArg.split("/").pop() : undefined;
const log = (entry) => fs.appendFileSync(path.join(dir, "log.jsonl"), JSON.stringify({ at: Date.now(), pid: process.pid, command, stack, ...entry }) + "\\n");
const exit = (code, stderr) => { if (stderr) process.stderr.write(stderr + "\\n"); log({ event: "exit", code }); process.exit(code); };
const pulumiHome = process.env.PULUMI_HOME || path.join(os.userInfo().homedir, ".pulumi");
const credentialsFile = path.join(pulumiHome, "credentials.json");
const fileBackendDir = (url) => { const p = url.slice("file://".length); return p === "~" ? os.userInfo().homedir : p.startsWith("~/") ? path.join(os.userInfo().homedir, p.slice(2)) : path.resolve(p); };
function backendUrl() {
    const fromEnv = (process.env.PULUMI_BACKEND_URL || "").trim();
    if (fromEnv) return fromEnv;
    try { const current = JSON.parse(fs.readFileSync(credentialsFile, "utf8")).current; if (current) return current; } catch {}
    if (!process.env.PULUMI_ACCESS_TOKEN) exit(255, "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions");
    exit(255, "fake pulumi: Pulumi Cloud is not modelled");
}
function stacksDir() {
    const url = backendUrl();
    if (!url.startsWith("file://")) exit(255, "fake pulumi: only file:// backends are modelled, not " + url);
    let project;
    try { project = /^name:\\s*(\\S+)/m.exec(fs.readFileSync(path.join(process.cwd(), "Pulumi.yaml"), "utf8"))[1]; } catch { exit(255, "error: no Pulumi.yaml project file found (searching upwards from " + process.cwd() + ")"); }
    return path.join(fileBackendDir(url), ".pulumi", "stacks", project);
}
const stackFile = (name) => path.join(stacksDir(), name + ".json");
log({ event: "start", argv: args });
const exists = (name) => fs.existsSync(stackFile(name));
const notFound = () => exit(255, "error: no stack named '" + stack + "' found");
function longRunning(ms, onSigint, onSigterm, done) {
    let stopping = false;
    const stop = () => { if (stopping) return; stopping = true; setTimeout(() => exit(255, "error: " + command + " canceled"), behavior.exitAfterSignalMs); };
    process.on("SIGINT", () => { log({ event: "signal", signal: "SIGINT" }); if (onSigint === "stop") stop(); });
    process.on("SIGTERM", () => { log({ event: "signal", signal: "SIGTERM" }); if (onSigterm === "stop") stop(); });
    setTimeout(() => { if (!stopping) { done(); exit(0); } }, ms);
}
switch (command) {
    case "version": process.stdout.write("v3.248.0\\n"); exit(0); break;
    case "stack ls": { const d = stacksDir(); process.stdout.write(JSON.stringify((fs.existsSync(d) ? fs.readdirSync(d) : []).map((f) => ({ name: f.replace(/\\.json$/, "") }))) + "\\n"); exit(0); break; }
    case "stack init": if (exists(stack)) exit(255, "error: stack '" + stack + "' already exists"); fs.mkdirSync(stacksDir(), { recursive: true }); fs.writeFileSync(stackFile(stack), JSON.stringify({ deployed: false })); exit(0); break;
    case "login": {
        const url = args.includes("--local") ? "file://~" : words[1];
        if (!url || !url.startsWith("file://")) exit(255, "fake pulumi: only login --local and login file://… are modelled");
        fs.mkdirSync(pulumiHome, { recursive: true });
        fs.writeFileSync(credentialsFile, JSON.stringify({ current: url, accessTokens: { [url]: "" } }));
        process.stdout.write("Logged in to " + url + "\\n");
        exit(0);
        break;
    }
    case "stack select": exists(stack) ? exit(0) : notFound(); break;
    case "config set-all": exists(stack) ? exit(0) : notFound(); break;
    case "config set": exists(stack) ? exit(0) : notFound(); break;
    case "stack history": process.stdout.write("[]\\n"); exit(0); break;
    case "stack output": {
        if (!exists(stack)) notFound();
        const state = JSON.parse(fs.readFileSync(stackFile(stack), "utf8"));
        process.stdout.write(JSON.stringify(state.deployed ? behavior.outputs : {}) + "\\n");
        exit(0);
        break;
    }
    case "up": if (!exists(stack)) notFound(); longRunning(behavior.upMs, behavior.upOnSigint, behavior.upOnSigterm, () => fs.writeFileSync(stackFile(stack), JSON.stringify({ deployed: true }))); break;
    case "destroy": if (!exists(stack)) notFound(); longRunning(behavior.destroyMs, "stop", "stop", () => fs.writeFileSync(stackFile(stack), JSON.stringify({ deployed: false }))); break;
    case "stack rm": {
        // Like the CLI: a stack that still has resources is not removed without --force.
        if (!exists(stack)) notFound();
        if (JSON.parse(fs.readFileSync(stackFile(stack), "utf8")).deployed && !args.includes("--force")) exit(255, "error: '" + stack + "' still has resources; removal rejected");
        fs.rmSync(stackFile(stack), { force: true });
        exit(0);
        break;
    }
    case "cancel": exit(0); break;
    default: exit(255, "fake pulumi: unexpected command: " + args.join(" "));
}
`;
}

/** Writes the fake CLI and its behaviour into `dir`; returns the folder to put first on PATH. */
export function writeFakePulumi(dir: string, behavior: FakePulumiBehavior): string {
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(dir, "behavior.json"), JSON.stringify(behavior));
    fs.writeFileSync(path.join(bin, "pulumi"), script(), { mode: 0o755 });
    return bin;
}

/** Everything the fake CLI's processes logged, in order. */
export function readFakePulumiLog(dir: string): FakePulumiEvent[] {
    const file = path.join(dir, "log.jsonl");
    if (!fs.existsSync(file)) return [];
    return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as FakePulumiEvent);
}
