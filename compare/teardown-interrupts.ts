/**
 * Ctrl-C and SIGTERM while stacks exist. The first stops what runs (each Pulumi CLI gets exactly
 * one SIGINT, from us: it runs in its own process group, so the terminal's signal does not reach
 * it) and tears down. A destroy is never interrupted by Ctrl-C: a second Ctrl-C only explains
 * that; a third within `abandonConfirmMs` of it confirms abandoning teardown (`abandon`).
 */
import { watchInterrupts } from "../core/cli";

/** How long after the second Ctrl-C a third one confirms abandoning teardown. */
const abandonConfirmMs = 10_000;

export type TeardownInterrupts = ReturnType<typeof watchTeardownInterrupts>;

/** Set `tearingDown` once teardown runs: the messages then say it is not interrupted. */
export function watchTeardownInterrupts() {
    const abandon = new AbortController();
    let askedAt: number | undefined;
    const state = { tearingDown: false };
    const watch = watchInterrupts((signal, count) => {
        if (count === 1) {
            console.log(
                state.tearingDown
                    ? `\n${signal}: teardown is running and is not interrupted (Ctrl-C again, then once more within ${abandonConfirmMs / 1000} s, abandons it).`
                    : `\n${signal}: stopping what is running, then destroying every stack this run created. Please wait.`,
            );
            return;
        }
        if (abandon.signal.aborted) return;
        const now = Date.now();
        if (askedAt !== undefined && now - askedAt <= abandonConfirmMs) {
            console.log(`\n${signal}: abandoning teardown. Running destroys are asked to stop; every stack not destroyed stays in the ledger for \`npm run compare -- --cleanup\`.`);
            abandon.abort();
            return;
        }
        askedAt = now;
        console.log(
            `\n${signal} again: ${state.tearingDown ? "teardown is running and is not interrupted" : "still stopping, then tearing down"}. ` +
                `To ABANDON teardown (stacks stay in the ledger for \`npm run compare -- --cleanup\`), press Ctrl-C again within ${abandonConfirmMs / 1000} s.`,
        );
    });
    return Object.assign(state, { signal: watch.signal, abandon: abandon.signal, dispose: () => watch.dispose(), received: () => watch.received });
}
