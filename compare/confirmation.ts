/** The operator's confirmation of a plan, asked on the terminal. */
import * as readline from "node:readline/promises";
import { UsageError } from "../core/errors";

/** Asks on the terminal; refuses without one (CI, pipes) unless --yes was given. */
export async function confirm(question: string, yes: boolean): Promise<boolean> {
    if (yes) return true;
    if (!process.stdin.isTTY) {
        throw new UsageError("no terminal to ask for confirmation: re-run with --yes to accept the plan above");
    }
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    // Ctrl-C at the prompt is a "no" (readline would otherwise just pause the input).
    const cancel = new AbortController();
    rl.on("SIGINT", () => cancel.abort());
    try {
        const answer = await rl.question(`${question} Type "yes" to go on: `, { signal: cancel.signal });
        return answer.trim().toLowerCase() === "yes";
    } catch (error) {
        if (cancel.signal.aborted) return false;
        throw error;
    } finally {
        rl.close();
    }
}
