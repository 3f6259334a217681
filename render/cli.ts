/**
 * `npm run render`: evaluates the program offline for every stack file and writes the
 * reviewable snapshot to snapshots/<stack>/ (see render/snapshot.ts and docs/review.md).
 * `npm run render -- --check` writes nothing and exits 1 with the diff when snapshots/ is stale.
 */
import * as path from "node:path";
import { exitCodes, optionLines, parseCommandLine, runCli, shared } from "../core/cli";
import { projectDir, stackNames, type Evaluation } from "./evaluate";
import { evaluateStacks, readTree, renderTree, snapshotRoot, treeDiff, writeTree } from "./snapshotFolder";

const options = {
    check: { type: "boolean", help: "write nothing; exit 1 and print the diff if the snapshot is stale" },
    out: shared("out", "the snapshot folder (default: snapshots)"),
    help: shared("help"),
} as const;

/** The option vocabulary of this CLI (the hostile-input table is generated from it). */
export const renderOptions = options;

export const usage = `Usage: npm run render [-- --check] [-- --out DIR]

Evaluates the Pulumi program for every stack file in stacks/ under mocks (no cloud, no
credentials) and writes one reviewable snapshot per stack: resources, outputs, Kubernetes
manifests and node scripts, secrets masked.

${optionLines(options)}

Exit codes: 0 done, 1 the snapshot is stale (--check) or rendering failed, 2 bad usage.`;

export interface RenderArgs {
    readonly command: "write" | "check" | "help";
    /** Absolute snapshot folder. */
    readonly out: string;
}

export function parseRenderArgs(argv: readonly string[]): RenderArgs {
    // --out is checked by the shared rule (core/cli.ts outputFolder) before the 20-odd seconds of evaluation.
    const { values } = parseCommandLine(argv, options);
    return {
        command: values.help ? "help" : values.check ? "check" : "write",
        out: values.out ?? snapshotRoot,
    };
}

/** How the committed snapshot is named in diffs and messages: relative to the project. */
export function displayPath(folder: string): string {
    const relative = path.relative(projectDir, folder);
    return relative && !relative.startsWith("..") ? relative.split(path.sep).join("/") : folder;
}

/** What `--check` prints when the snapshot is stale. */
export function staleMessage(folder: string, diff: string): string {
    return `${displayPath(folder)}/ is stale: the program now renders differently. Review the diff below, then run \`npm run render\` and commit ${displayPath(folder)}/.\n\n${diff}`;
}

export interface RenderDeps {
    readonly stacks: readonly string[];
    readonly evaluate?: (stack: string, overrides: Record<string, string | null>) => Promise<Evaluation>;
    readonly log: (line: string) => void;
}

export async function main(argv: readonly string[], deps: RenderDeps): Promise<number> {
    const args = parseRenderArgs(argv);
    if (args.command === "help") {
        deps.log(usage);
        return exitCodes.ok;
    }
    const started = Date.now();
    const evaluations = await evaluateStacks(deps.stacks, {}, deps.evaluate);
    const rendered = renderTree(evaluations.values());
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const shown = displayPath(args.out);
    if (args.command === "check") {
        const diff = treeDiff(readTree(args.out), rendered, shown);
        if (diff !== "") {
            deps.log(staleMessage(args.out, diff));
            return exitCodes.failure;
        }
        deps.log(`${shown}/ is up to date: ${deps.stacks.length} stacks, ${rendered.size} files (${seconds} s).`);
        return exitCodes.ok;
    }
    const { written, deleted } = writeTree(args.out, rendered);
    for (const file of written) deps.log(`wrote   ${shown}/${file}`);
    for (const file of deleted) deps.log(`deleted ${shown}/${file}`);
    deps.log(`${shown}/: ${deps.stacks.length} stacks, ${rendered.size} files, ${written.length} written, ${deleted.length} deleted (${seconds} s).`);
    return exitCodes.ok;
}

if (require.main === module) {
    runCli("render", () => main(process.argv.slice(2), { stacks: stackNames(), log: (line) => console.log(line) }));
}
