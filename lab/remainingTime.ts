/**
 * The remaining time of the benchmark, from the steps measured so far: the mean time of a
 * finished step times the steps still to run. Printed on every step's progress line.
 */
export class RemainingTime {
    private firstStepAt?: number;
    constructor(private readonly now: () => number = Date.now) {}

    /** The suffix for a progress line ("" before the first step has finished). */
    update(e: { readonly kind: string; readonly step?: number; readonly steps?: number }): string {
        if (e.kind !== "measure" || e.step === undefined || e.steps === undefined) return "";
        const t = this.now();
        if (this.firstStepAt === undefined || e.step === 1) {
            this.firstStepAt = t;
            return "";
        }
        const done = e.step - 1;
        const perStep = (t - this.firstStepAt) / done;
        const left = Math.round((perStep * (e.steps - done)) / 1000);
        return ` (≈ ${left >= 60 ? `${Math.floor(left / 60)} min ${left % 60} s` : `${left} s`} left at ${(perStep / 1000).toFixed(1)} s per step)`;
    }
}
