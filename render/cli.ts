/**
 * `npm run render`: evaluates the program offline for every stack file and writes the
 * reviewable snapshot to snapshots/<stack>/ (see render/snapshot.ts and docs/review.md).
 * `npm run render -- --check` writes nothing and exits 1 with the diff when snapshots/ is stale.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { projectDir, stackNames, type Evaluation } from "./evaluate";
import { evaluateStacks, readTree, renderTree, snapshotRoot, treeDiff, writeTree } from "./snapshotFolder";

export const usage = `Usage: npm run render [-- --check] [-- --out DIR]

Evaluates the Pulumi program for every stack file in stacks/ under mocks (no cloud, no
credentials) and writes one reviewable snapshot per stack: resources, outputs, Kubernetes
manifests and node scripts, secrets masked.

  --check      write nothing; exit 1 and print the diff if the snapshot is stale
  --out DIR    the snapshot folder (default: snapshots)
  -h, --help   this text`;

export class RenderUsageError extends Error {}

export interface RenderArgs {
    readonly command: "write" | "check" | "help";
    /** Absolute snapshot folder. */
    readonly out: string;
}

export function parseRenderArgs(argv: readonly string[], cwd: string = process.cwd()): RenderArgs {
    let values;
    try {
        ({ values } = parseArgs({
            args: [...argv],
            strict: true,
            allowPositionals: false,
            options: { check: { type: "boolean" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
        }));
    } catch (error) {
        throw new RenderUsageError(`${(error as Error).message}\n\n${usage}`);
    }
    if (values.out !== undefined && values.out.trim() === "") {
        throw new RenderUsageError(`--out: "" must be a folder path (default: snapshots)`);
    }
    return {
        command: values.help ? "help" : values.check ? "check" : "write",
        out: values.out === undefined ? snapshotRoot : path.resolve(cwd, values.out),
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
        return 0;
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
            return 1;
        }
        deps.log(`${shown}/ is up to date: ${deps.stacks.length} stacks, ${rendered.size} files (${seconds} s).`);
        return 0;
    }
    const { written, deleted } = writeTree(args.out, rendered);
    for (const file of written) deps.log(`wrote   ${shown}/${file}`);
    for (const file of deleted) deps.log(`deleted ${shown}/${file}`);
    deps.log(`${shown}/: ${deps.stacks.length} stacks, ${rendered.size} files, ${written.length} written, ${deleted.length} deleted (${seconds} s).`);
    return 0;
}

if (require.main === module) {
    main(process.argv.slice(2), { stacks: stackNames(), log: (line) => console.log(line) }).then(
        (code) => {
            process.exitCode = code;
        },
        (error: unknown) => {
            console.error(`render: ${error instanceof RenderUsageError ? error.message : (error as Error).stack ?? String(error)}`);
            process.exitCode = error instanceof RenderUsageError ? 2 : 1;
        },
    );
}
