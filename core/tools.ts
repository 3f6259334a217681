/**
 * The programs a command starts on this machine, checked before it creates anything. A missing
 * one ends the command with exit 1 (core/cli.ts: the command line was right, this machine lacks a
 * program), naming every missing program and how to install it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CniCompareError } from "./errors";

/** A program a command runs, and how to get it. */
export interface Tool {
    /** The name spawn looks up in PATH (e.g. "iperf3", "bird"). */
    readonly command: string;
    /** The Debian package that ships it, where it is one of scripts/install-deps.sh's. */
    readonly package?: string;
    /** What to do when it is missing: a whole clause, e.g. "run `sudo npm run lab:deps`". */
    readonly install: string;
}

/** The script that installs the Debian packages of the lab and the runner (package.json `lab:deps`). */
export const installDepsHint = "install with `sudo npm run lab:deps` (scripts/install-deps.sh)";

/**
 * The Debian package of each program the lab and the runner start, where it is not the program's
 * own name (the others are: iperf3, wrk, sockperf, iptables, apache2, curl, tcpdump, redis-server).
 * test/missing-tool.test.ts checks every package against scripts/install-deps.sh.
 */
const debianPackageOf: Readonly<Record<string, string>> = {
    ip: "iproute2",
    bridge: "iproute2",
    sysctl: "procps",
    pgrep: "procps",
    wg: "wireguard-tools",
    bird: "bird2",
    birdc: "bird2",
    // redis-server depends on redis-tools, which ships redis-cli.
    "redis-cli": "redis-server",
    ping: "iputils-ping",
    php: "php-cli",
    // The Service proxy's rule sets (lab/serviceProxy.ts): nft from nftables, the restore/save pair from iptables.
    nft: "nftables",
    "iptables-restore": "iptables",
    "iptables-save": "iptables",
};

/**
 * Programs of Debian's Essential packages (dash, bash, coreutils, util-linux): every Debian
 * system has them (Debian Policy 3.8, "Essential packages"), so they are not checked.
 */
export const essentialPrograms: readonly string[] = ["sh", "bash", "timeout", "taskset", "setsid"];

/** A program from a Debian package that scripts/install-deps.sh installs. */
export function debianTool(command: string): Tool {
    return { command, package: debianPackageOf[command] ?? command, install: installDepsHint };
}

/** Some program a command needs is not on PATH; nothing was started or created. */
export class ToolMissingError extends CniCompareError {}

/**
 * The file `command` starts, found as spawn finds it: a name with a slash as given, else the first
 * executable regular file of that name in PATH's folders, an empty entry meaning the current
 * folder (POSIX execvp; libuv's uv_spawn searches the child's PATH the same way). Undefined: none.
 */
export function findExecutable(command: string, env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
    const candidates = command.includes("/") ? [command] : (env.PATH ?? "").split(path.delimiter).map((dir) => path.join(dir || ".", command));
    return candidates.find((file) => {
        try {
            fs.accessSync(file, fs.constants.X_OK);
            return fs.statSync(file).isFile();
        } catch {
            return false;
        }
    });
}

/** `tools` without repeats (the first of each command kept), in order. */
export function uniqueTools(tools: readonly Tool[]): Tool[] {
    const seen = new Set<string>();
    return tools.filter((t) => !seen.has(t.command) && seen.add(t.command));
}

/**
 * Fails with a ToolMissingError naming every tool of `tools` that is not on PATH and how to
 * install it: called before a command creates anything, so a missing program costs nothing.
 */
export function requireTools(tools: readonly Tool[], env: Readonly<Record<string, string | undefined>> = process.env): void {
    const missing = uniqueTools(tools).filter((t) => findExecutable(t.command, env) === undefined);
    if (missing.length === 0) return;
    const byHint = new Map<string, Tool[]>();
    for (const t of missing) byHint.set(t.install, [...(byHint.get(t.install) ?? []), t]);
    const clauses = [...byHint].map(([install, group]) => {
        const names = group.map((t) => `"${t.command}"${t.package && t.package !== t.command ? ` (Debian package ${t.package})` : ""}`).join(", ");
        return `${names} ${group.length === 1 ? "is" : "are"} not on PATH; ${install}`;
    });
    throw new ToolMissingError(`missing ${missing.length === 1 ? "tool" : "tools"}: ${clauses.join("; ")}`);
}
