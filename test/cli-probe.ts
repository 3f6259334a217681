/**
 * TEST-ONLY: runs each CLI's real `main` once in this process, with argv from the command line
 * (JSON: [[cli, argv], …]) and wiring that stops at the first real work, and prints the exit
 * codes and messages as JSON. For the cases that need the process itself to be elsewhere (a
 * private mount namespace): one spawn for all four CLIs instead of one each.
 */
import { main as benchMain } from "../bench/cli";
import { main as compareMain } from "../compare/cli";
import { ConfigError } from "../components/settings";
import { exitCodeOfMain } from "../core/cli";
import { main as labMain } from "../lab/cli";
import { Lab } from "../lab/lab";
import { main as renderMain } from "../render/cli";

const stop = async (): Promise<never> => {
    throw new Error("SENTINEL: got past its checks");
};

async function probe(cli: string, argv: string[], ledgerDir: string): Promise<{ cli: string; code: number; stderr: string }> {
    const printed: string[] = [];
    const error = console.error;
    console.error = (m: unknown) => void printed.push(String(m));
    try {
        const code =
            cli === "bench"
                ? await exitCodeOfMain("bench", () => benchMain(argv, { readStackOutputs: stop }))
                : cli === "compare"
                  ? await exitCodeOfMain("compare", () => compareMain(argv, {}, stop), [ConfigError])
                  : cli === "lab"
                    ? await exitCodeOfMain("lab", () => labMain(argv, { ledgerDir }))
                    : await exitCodeOfMain("render", () => renderMain(argv, { stacks: ["vxlan"], log: () => undefined, evaluate: stop }));
        return { cli, code, stderr: printed.join("\n") };
    } finally {
        console.error = error;
    }
}

// As root the lab would build namespaces: a command that gets that far is a finding, not a run.
Lab.open = () => {
    throw new Error("SENTINEL: the lab got past its checks");
};

void (async () => {
    const [cases, ledgerDir] = [JSON.parse(process.argv[2]) as [string, string[]][], process.argv[3]];
    const results = [];
    for (const [cli, argv] of cases) results.push(await probe(cli, argv, ledgerDir));
    process.stdout.write(JSON.stringify(results));
})();
