/**
 * The processes a process started, directly or not (from `ps`): the tests use it to prove
 * that a run leaves nothing running.
 */
import { execFileSync } from "node:child_process";

export interface ProcessInfo {
    readonly pid: number;
    readonly ppid: number;
    readonly args: string;
}

/** Descendants of `root`, not counting `except` and what they started. */
export function descendantProcesses(root: number = process.pid, except: readonly number[] = []): ProcessInfo[] {
    const rows = execFileSync("ps", ["-eo", "pid=,ppid=,args="], { encoding: "utf8" })
        .split("\n")
        .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] }));
    const found: ProcessInfo[] = [];
    const parents = new Set([root]);
    let grew = true;
    while (grew) {
        grew = false;
        for (const p of rows) {
            if (parents.has(p.ppid) && !parents.has(p.pid) && !except.includes(p.pid)) {
                parents.add(p.pid);
                found.push(p);
                grew = true;
            }
        }
    }
    // `ps` itself is our child while it runs.
    return found.filter((p) => !/^ps -eo/.test(p.args));
}
