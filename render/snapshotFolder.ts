/**
 * The committed snapshot folder on disk, and the diff between it and a fresh render.
 * Paths inside are `<stack>/<file>` with forward slashes, so the same text compares equal on
 * every machine.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff";
import { evaluateStackInChild, projectDir, type Evaluation } from "./evaluate";
import { generatedNotice, renderSnapshot } from "./snapshot";

/** Where `npm run render` writes and the tests compare: one folder per stack. */
export const snapshotRoot = path.join(projectDir, "snapshots");

/** A whole snapshot tree: `<stack>/<file>` → text. */
export type SnapshotTree = ReadonlyMap<string, string>;

/** Evaluations run this many at a time: each is its own process, and CI machines have 2 cores. */
export const evaluationConcurrency = 2;

/** One offline evaluation to make: a stack file, with config overrides. */
export interface EvaluationRequest {
    readonly stack: string;
    readonly overrides?: Record<string, string | null>;
}

type Evaluate = (stack: string, overrides: Record<string, string | null>) => Promise<Evaluation>;

/** Runs the evaluations `concurrency` at a time; results in the order of `requests`. */
export async function evaluateMany(requests: readonly EvaluationRequest[], evaluate: Evaluate = evaluateStackInChild, concurrency: number = evaluationConcurrency): Promise<Evaluation[]> {
    const results: Evaluation[] = new Array(requests.length);
    let next = 0;
    await Promise.all(
        Array.from({ length: Math.min(concurrency, requests.length) }, async () => {
            for (let index = next++; index < requests.length; index = next++) {
                results[index] = await evaluate(requests[index].stack, requests[index].overrides ?? {});
            }
        }),
    );
    return results;
}

/** Evaluates every stack with the same overrides, `concurrency` at a time; keyed by stack, in order. */
export async function evaluateStacks(
    stacks: readonly string[],
    overrides: Record<string, string | null> = {},
    evaluate: Evaluate = evaluateStackInChild,
    concurrency: number = evaluationConcurrency,
): Promise<Map<string, Evaluation>> {
    const results = await evaluateMany(
        stacks.map((stack) => ({ stack, overrides })),
        evaluate,
        concurrency,
    );
    return new Map(stacks.map((stack, index) => [stack, results[index]]));
}

/** Every stack's snapshot files in one tree. */
export function renderTree(evaluations: Iterable<Evaluation>): SnapshotTree {
    const tree = new Map<string, string>();
    for (const evaluation of evaluations) {
        for (const [file, text] of renderSnapshot(evaluation)) tree.set(`${evaluation.stack}/${file}`, text);
    }
    return new Map([...tree].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Every file under `root` (missing root: empty tree). */
export function readTree(root: string): SnapshotTree {
    const tree = new Map<string, string>();
    const walk = (dir: string, prefix: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
            const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
            if (entry.isDirectory()) walk(path.join(dir, entry.name), relative);
            else if (entry.isFile()) tree.set(relative, fs.readFileSync(path.join(dir, entry.name), "utf8"));
        }
    };
    if (fs.existsSync(root)) walk(root, "");
    return tree;
}

/**
 * Refuses a folder that holds anything but rendered stack snapshots (each top-level entry a
 * folder whose resources.yaml carries the generated notice): `writeTree` deletes what the new
 * render lacks, and `--out` must never turn that on a folder of other files.
 */
export function assertSnapshotFolder(root: string): void {
    if (!fs.existsSync(root)) return;
    for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
        const resources = path.join(root, entry.name, "resources.yaml");
        const generated = entry.isDirectory() && fs.existsSync(resources) && fs.readFileSync(resources, "utf8").split("\n", 2)[1] === generatedNotice;
        if (!generated) {
            throw new Error(
                `${root} is not a snapshot folder: ${entry.name} was not written by \`npm run render\`. Choose an empty or new folder (or the snapshot folder) for --out; nothing was written or deleted.`,
            );
        }
    }
}

/**
 * Makes `root` hold exactly `tree`: writes changed files, deletes files under `root` that the
 * tree no longer has (a removed stack or script), then empty folders. Touches nothing outside
 * `root`, and nothing at all unless `root` is a snapshot folder (`assertSnapshotFolder`).
 * Returns the paths written and deleted.
 */
export function writeTree(root: string, tree: SnapshotTree): { written: string[]; deleted: string[] } {
    assertSnapshotFolder(root);
    const existing = readTree(root);
    const written: string[] = [];
    const deleted: string[] = [];
    for (const [relative, text] of tree) {
        if (existing.get(relative) === text) continue;
        const file = path.join(root, ...relative.split("/"));
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
        written.push(relative);
    }
    for (const relative of existing.keys()) {
        if (tree.has(relative)) continue;
        fs.rmSync(path.join(root, ...relative.split("/")));
        deleted.push(relative);
    }
    const pruneEmpty = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            if (!entry.isDirectory()) continue;
            const child = path.join(dir, entry.name);
            pruneEmpty(child);
            if (fs.readdirSync(child).length === 0) fs.rmdirSync(child);
        }
    };
    if (fs.existsSync(root)) pruneEmpty(root);
    return { written, deleted };
}

/**
 * What a line of a snapshot file belongs to, for a diff's hunk header (as git's "funcname"):
 * the resource (`- type:` then `name:`) in resources.yaml, the `# <type> <name>` heading of a
 * document in manifests.yaml, or the top-level key.
 */
export function enclosingSection(lines: readonly string[], index: number): string | undefined {
    let topLevelKey: string | undefined;
    for (let i = Math.min(index, lines.length - 1); i >= 0; i--) {
        const resource = /^ {2}- type: (\S+)$/.exec(lines[i]);
        if (resource) {
            const name = /^ {4}name: (.+)$/.exec(lines[i + 1] ?? "");
            return name ? `${name[1]} (${resource[1]})` : resource[1];
        }
        const heading = /^# (kubernetes:\S+|pulumi:\S+) (\S+)$/.exec(lines[i]);
        if (heading) return `${heading[2]} (${heading[1]})`;
        if (lines[i] === "---") break;
        topLevelKey ??= /^([A-Za-z][\w-]*):/.exec(lines[i])?.[1];
    }
    return topLevelKey;
}

/** Appends the enclosing section to each `@@ … @@` line of a unified diff of `before` → `after`. */
function labelHunks(patch: string, before: string, after: string): string {
    const oldLines = before.split("\n");
    const newLines = after.split("\n");
    return patch.replace(/^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@$/gm, (header, oldStart: string, newStart: string) => {
        // The hunk starts with up to 3 lines of context: look from its first changed line.
        const useOld = Number(oldStart) > 0 && before !== "";
        const lines = useOld ? oldLines : newLines;
        const start = Number(useOld ? oldStart : newStart) - 1;
        const section = enclosingSection(lines, start + 3);
        return section ? `${header} ${section}` : header;
    });
}

/**
 * A unified diff from the committed tree to the rendered one (`a/` committed, `b/` rendered);
 * empty when they are the same. `label` prefixes the paths (e.g. "snapshots").
 */
export function treeDiff(committed: SnapshotTree, rendered: SnapshotTree, label: string): string {
    const paths = [...new Set([...committed.keys(), ...rendered.keys()])].sort();
    const patches: string[] = [];
    for (const relative of paths) {
        const before = committed.get(relative);
        const after = rendered.get(relative);
        if (before === after) continue;
        patches.push(
            labelHunks(
                createTwoFilesPatch(
                    before === undefined ? "/dev/null" : `a/${label}/${relative}`,
                    after === undefined ? "/dev/null" : `b/${label}/${relative}`,
                    before ?? "",
                    after ?? "",
                    undefined,
                    undefined,
                    { context: 3, headerOptions: FILE_HEADERS_ONLY },
                ),
                before ?? "",
                after ?? "",
            ),
        );
    }
    return patches.join("");
}
