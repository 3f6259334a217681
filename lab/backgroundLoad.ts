/**
 * A reproducible disturbance for the lab's own checks (docs/lab.md "The method under load"):
 * one CPU's worth of busy work at a fixed duty cycle, outside every mode's CPU group, so the
 * runner counts it as other load. stress-ng's CPU stressor with `--cpu-load P` alternates busy
 * slices and sleeps to hold P % of one CPU; `--cpu-load-slice 10` makes each busy slice 10 ms
 * (stress-ng(1), "--cpu-load-slice S": S > 0 is milliseconds per busy slice; stress-ng 0.15
 * stress-cpu.c `opt_cpu_load_slice`), so a 0.7-s cost window sees some 35 cycles of it.
 */
import { startProcess, type Daemon } from "./exec";
import type { Ledger } from "./ledger";

/** Milliseconds of each busy slice. */
export const backgroundLoadSliceMs = 10;

/** stress-ng's command line: one CPU stressor at `percent` %, ending by itself after `timeoutSeconds`. */
export function backgroundLoadArgv(percent: number, timeoutSeconds: number): string[] {
    if (!Number.isInteger(percent) || percent < 1 || percent > 100) throw new Error(`background load: ${percent} is not allowed; use a whole percent 1–100`);
    return ["stress-ng", "--cpu", "1", "--cpu-load", String(percent), "--cpu-load-slice", String(backgroundLoadSliceMs), "--timeout", `${Math.ceil(timeoutSeconds)}s`, "--quiet"];
}

/** Starts the load (`backgroundLoadArgv`) in the lab's ledger: stopped with the run, or by `--cleanup` after a kill. */
export function startBackgroundLoad(ledger: Ledger, argv: readonly string[], percent: number): Daemon {
    return startProcess(ledger, argv, `background load: one CPU busy ${percent} % of the time`, `${ledger.runDir}/background-load.log`);
}
