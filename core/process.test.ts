/**
 * core/process.ts, core/wait.ts and core/semaphore.ts against real processes and timers: a child
 * in its own process group, a signal to the group reaching what it forked, the SIGINT → SIGTERM →
 * SIGKILL escalation with bounded waits, and exits reported as the signal that ended them.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { InterruptedError, TimeoutError } from "./errors";
import { describeExit, escalate, groupTarget, identityTarget, processStartTime, runProcess, spawnGroup } from "./process";
import { Semaphore } from "./semaphore";
import { pollUntil, sleep } from "./wait";

/** The process group of `pid` (ps(1) `-o pgid=`). */
function pgidOf(pid: number): number {
    return Number(execFileSync("ps", ["-o", "pgid=", "-p", String(pid)], { encoding: "utf8" }).trim());
}

const alive = (pid: number) => processStartTime(pid) !== undefined;

describe("a child in its own process group", () => {
    it("leads a new group (not ours), so a terminal's Ctrl-C to our group does not reach it", async () => {
        const proc = spawnGroup("sleep", ["5"]);
        try {
            expect(pgidOf(proc.pid!)).toBe(proc.pid);
            expect(pgidOf(proc.pid!)).not.toBe(pgidOf(process.pid));
        } finally {
            proc.signalGroup("SIGKILL");
            await proc.result;
        }
    });

    it("a signal to the group reaches what the child forked; the exit names the signal, not 'exit 1'", async () => {
        let out = "";
        const proc = spawnGroup("sh", ["-c", "sleep 30 & echo $!; wait"], { onStdout: (t) => (out += t) });
        await pollUntil("the grandchild's pid", () => /\d+\n/.test(out), { timeoutMs: 5_000, intervalMs: 20 });
        const grandchild = Number(out.trim());
        expect(alive(grandchild)).toBe(true);
        proc.signalGroup("SIGTERM");
        const result = await proc.result;
        expect(result.code).toBeNull();
        expect(describeExit(result)).toBe("killed by SIGTERM");
        await pollUntil("the grandchild to end", () => !alive(grandchild), { timeoutMs: 5_000, intervalMs: 20 });
    });
});

describe("escalation", () => {
    it("a process that ignores SIGINT gets SIGTERM after the bounded wait, and nothing more once it ended", async () => {
        // sh(1) `trap '' INT`: the shell and the sleep it waits for ignore SIGINT.
        const proc = spawnGroup("sh", ["-c", "trap '' INT; sleep 30"]);
        await sleep(100); // let the trap be installed
        const started = Date.now();
        const { ended, sent } = await escalate(groupTarget(proc), [
            { signal: "SIGINT", waitMs: 400 },
            { signal: "SIGTERM", waitMs: 2_000 },
            { signal: "SIGKILL", waitMs: 2_000 },
        ]);
        expect(ended).toBe(true);
        expect(sent).toEqual(["SIGINT", "SIGTERM"]);
        expect(Date.now() - started).toBeGreaterThanOrEqual(400);
        expect(describeExit(await proc.result)).toBe("killed by SIGTERM");
    });

    it("a process that ignores SIGINT and SIGTERM is killed", async () => {
        const proc = spawnGroup("sh", ["-c", "trap '' INT TERM; while :; do sleep 0.05; done"]);
        await sleep(100);
        const { ended, sent } = await escalate(groupTarget(proc), [
            { signal: "SIGINT", waitMs: 200 },
            { signal: "SIGTERM", waitMs: 200 },
            { signal: "SIGKILL", waitMs: 2_000 },
        ]);
        expect({ ended, sent }).toEqual({ ended: true, sent: ["SIGINT", "SIGTERM", "SIGKILL"] });
        expect(describeExit(await proc.result)).toBe("killed by SIGKILL");
    });

    it("a recorded process is signalled only while its pid is still that process (start time)", async () => {
        const proc = spawnGroup("sleep", ["30"]);
        const startTime = processStartTime(proc.pid!)!;
        expect(identityTarget({ pid: proc.pid!, startTime: "1" }).send("SIGKILL"), "a recycled pid is never signalled").toBe(false);
        expect(alive(proc.pid!)).toBe(true);
        const { ended } = await escalate(identityTarget({ pid: proc.pid!, startTime }), [{ signal: "SIGTERM", waitMs: 2_000 }]);
        expect(ended).toBe(true);
        expect(describeExit(await proc.result)).toBe("killed by SIGTERM");
    });
});

describe("runProcess", () => {
    it("stops a command that runs too long and says so; the exit is the signal", async () => {
        const r = await runProcess(["sleep", "30"], { timeoutMs: 200 });
        expect(r.timedOut).toBe(true);
        expect(describeExit(r)).toBe("killed by SIGTERM");
    });

    it("a command that cannot start is code 127 with the reason", async () => {
        const r = await runProcess(["/nonexistent/tool"], { timeoutMs: 1_000 });
        expect(r.code).toBe(127);
        expect(r.stderr).toMatch(/ENOENT/);
    });
});

describe("waiting", () => {
    it("pollUntil fails with a TimeoutError naming what and the last observation", async () => {
        const wait = pollUntil("the port", () => "connection refused", { timeoutMs: 100, intervalMs: 20 });
        await expect(wait).rejects.toBeInstanceOf(TimeoutError);
        await expect(pollUntil("the port", () => "connection refused", { timeoutMs: 100, intervalMs: 20 })).rejects.toThrow("the port: not ready after 0.1 s (last: connection refused)");
    });

    it("pollUntil ends with an InterruptedError when aborted", async () => {
        const abort = new AbortController();
        setTimeout(() => abort.abort(), 50);
        await expect(pollUntil("never", () => false, { timeoutMs: 5_000, signal: abort.signal })).rejects.toBeInstanceOf(InterruptedError);
    });

    it("a semaphore admits at most its limit, in arrival order", async () => {
        const slots = new Semaphore(2);
        let active = 0;
        let most = 0;
        const order: number[] = [];
        await Promise.all(
            [0, 1, 2, 3, 4].map((i) =>
                slots.run(async () => {
                    active++;
                    most = Math.max(most, active);
                    order.push(i);
                    await sleep(20);
                    active--;
                }),
            ),
        );
        expect(most).toBe(2);
        expect(order).toEqual([0, 1, 2, 3, 4]);
    });

    it("tryAcquire takes a free slot and refuses, without waiting, when all are held; a release frees one again", async () => {
        const slots = new Semaphore(2);
        expect([slots.tryAcquire(), slots.tryAcquire(), slots.tryAcquire()]).toEqual([true, true, false]);
        slots.release();
        expect(slots.tryAcquire()).toBe(true);
        // A queued waiter is handed the released slot: tryAcquire does not overtake it.
        const waiter = slots.acquire();
        slots.release();
        await waiter;
        expect(slots.tryAcquire()).toBe(false);
    });
});
