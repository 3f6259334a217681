/**
 * Checks GitHub Actions workflow files with GitHub's own parser and workflow schema
 * (@actions/workflow-parser, from github.com/actions/languageservices): the same errors the
 * Actions tab would show, before a push.
 *
 *   npx tsx render/workflowLint.ts .github/workflows/*.yml   # prints each error; exits 1 if any
 *
 * The package is ESM and imports its schema as JSON without an import attribute, which Node's
 * own loader (and so vitest's, for node_modules) refuses; tsx loads it, so the tests run this
 * file as a child process.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";

/** Every parse and schema error of one workflow file, with line and column. */
export async function workflowErrors(name: string, content: string): Promise<string[]> {
    const { parseWorkflow, convertWorkflowTemplate, NoOperationTraceWriter } = await import("@actions/workflow-parser");
    const result = parseWorkflow({ name, content }, new NoOperationTraceWriter());
    const errors = result.context.errors.getErrors().map((e) => e.message);
    if (errors.length > 0 || result.value === undefined) return errors.length > 0 ? errors : [`${name}: not a workflow`];
    const template = await convertWorkflowTemplate(result.context, result.value);
    return [...(template.errors ?? []).map((e) => e.Message), ...(template.jobs.length === 0 ? [`${name}: no jobs`] : [])];
}

if (require.main === module) {
    const files = process.argv.slice(2);
    if (files.length === 0) {
        console.error("usage: npx tsx render/workflowLint.ts <workflow.yml>…");
        process.exit(2);
    }
    (async () => {
        const report: Record<string, string[]> = {};
        for (const file of files) report[path.basename(file)] = await workflowErrors(path.basename(file), readFileSync(file, "utf8"));
        console.log(JSON.stringify(report, null, 2));
        process.exitCode = Object.values(report).some((errors) => errors.length > 0) ? 1 : 0;
    })().catch((error: unknown) => {
        console.error(`workflowLint: ${(error as Error).stack ?? String(error)}`);
        process.exitCode = 2;
    });
}
