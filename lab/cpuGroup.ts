/**
 * One control group per lab mode that counts the CPU time of everything the mode runs: its
 * daemons (BIRD, Redis, Apache) and every tool the runner starts in its namespaces. Network
 * namespaces have no CPU accounting of their own; a group does (cgroup v1 `cpuacct.usage`, or
 * cgroup v2 `cpu.stat`; kernel Documentation/admin-guide/cgroup-v1/cpuacct.rst, cgroup-v2.rst).
 * The groups are named after the run (`cnilab-<run>-<mode>`), so a cleanup finds a dead run's.
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import type { CpuCgroup } from "../bench/measure/commands";
import { labPrefix } from "./topology";

/** Where this machine mounts a CPU-accounting hierarchy, or undefined when none is usable. */
export function cpuAccountingRoot(root = "/sys/fs/cgroup"): { dir: string; version: 1 | 2 } | undefined {
    // cgroup v2 only (systemd's "unified" layout): the root holds cgroup.controllers.
    if (existsSync(join(root, "cgroup.controllers"))) return { dir: root, version: 2 };
    // cgroup v1: the cpuacct controller (alone or co-mounted as cpu,cpuacct).
    for (const name of ["cpuacct", "cpu,cpuacct"]) if (existsSync(join(root, name, "cpuacct.usage"))) return { dir: join(root, name), version: 1 };
    return undefined;
}

/** A mode's group: where the lab creates it, and the path processes inside the mode's namespaces use. */
export interface LabCpuGroup extends CpuCgroup {
    /** The group's directory in this process's view of the filesystem. */
    readonly hostDir: string;
}

/**
 * The group of one mode of a run. `ip netns exec` mounts a fresh sysfs over /sys in the
 * namespace (ip-netns(8)), hiding the cgroup mounts below /sys/fs/cgroup; processes there reach
 * the group through the lab process's own root instead (`/proc/<pid>/root`, proc(5)), which
 * stays valid while the lab runs — and the lab outlives everything it starts.
 */
export function cpuGroupOf(root: { dir: string; version: 1 | 2 }, runId: string, mode: string, pid = process.pid): LabCpuGroup {
    const hostDir = join(root.dir, `${labPrefix}-${runId}-${mode}`);
    return { dir: `/proc/${pid}/root${hostDir}`, hostDir, version: root.version };
}

/** Creates the group (empty; processes join it by writing their pid to cgroup.procs). */
export function createCpuGroup(group: LabCpuGroup): void {
    mkdirSync(group.hostDir);
}

/** argv that joins `group` and then runs `argv` in the same process (the pid stays the daemon's). */
export function inCpuGroup(group: CpuCgroup, argv: readonly string[]): string[] {
    return ["sh", "-c", `echo $$ > '${group.dir}/cgroup.procs' && exec "$@"`, "sh", ...argv];
}

/**
 * Removes a run's groups. A group can only be removed once its processes have exited, which
 * happens moments after they are killed: retried for up to 2 s. Returns what could not be removed.
 */
export async function removeCpuGroups(runId: string, mode?: string, root = cpuAccountingRoot()): Promise<string[]> {
    if (!root) return [];
    const prefix = `${labPrefix}-${runId}-`;
    const mine = (n: string) => (mode === undefined ? n.startsWith(prefix) : n === `${prefix}${mode}`);
    const left: string[] = [];
    for (const name of readdirSync(root.dir).filter(mine)) {
        const dir = join(root.dir, name);
        for (let attempt = 0; ; attempt++) {
            try {
                rmdirSync(dir);
                break;
            } catch (err) {
                if ((err as NodeJS.ErrnoException).code === "ENOENT") break;
                if (attempt >= 20) {
                    left.push(`${dir}: ${(err as Error).message}`);
                    break;
                }
                await new Promise((r) => setTimeout(r, 100));
            }
        }
    }
    return left;
}
