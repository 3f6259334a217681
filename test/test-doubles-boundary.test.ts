/**
 * Test doubles live with the tests: no production file (anything outside test/ that is not a
 * *.test.ts) imports from test/, and none reads a test-only environment variable. The test-only
 * entries (test/compare/compare-entry.ts, test/lab/lab-entry.ts) inject the doubles instead.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const projectDir = path.resolve(__dirname, "..");
const productionRoots = ["index.ts", "bench", "compare", "components", "core", "lab", "policy", "render", "workloads"];
/** Variables only tests set (the entries above read theirs; the old production switches are gone). */
const testOnlyVariables = ["COMPARE_TEST_WIRING", "LAB_TEST_LEDGER_DIR", "CNI_COMPARE_ENGINE", "CNI_LAB_LEDGER_DIR"];

function productionFiles(): string[] {
    const files: string[] = [];
    const walk = (rel: string) => {
        const abs = path.join(projectDir, rel);
        if (fs.statSync(abs).isDirectory()) {
            for (const entry of fs.readdirSync(abs)) if (entry !== "node_modules") walk(path.join(rel, entry));
        } else if (rel.endsWith(".ts") && !rel.endsWith(".test.ts")) {
            files.push(rel);
        }
    };
    for (const root of productionRoots) if (fs.existsSync(path.join(projectDir, root))) walk(root);
    return files;
}

describe("test doubles stay out of production code", () => {
    const files = productionFiles();

    it("finds the production files (the check has something to look at)", () => {
        expect(files).toEqual(expect.arrayContaining(["compare/cli.ts", "lab/cli.ts", "bench/cli.ts", "core/pulumi.ts"]));
    });

    it("no production file imports from test/", () => {
        const offenders = files.filter((f) => /from\s+["'](\.\.\/)+test\//.test(fs.readFileSync(path.join(projectDir, f), "utf8")));
        expect(offenders).toEqual([]);
    });

    it("no production file reads a test-only environment variable", () => {
        const offenders = files.flatMap((f) => {
            const text = fs.readFileSync(path.join(projectDir, f), "utf8");
            return testOnlyVariables.filter((v) => text.includes(v)).map((v) => `${f}: ${v}`);
        });
        expect(offenders).toEqual([]);
    });
});
