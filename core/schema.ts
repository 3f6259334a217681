/**
 * Reading JSON files against a schema (zod, https://zod.dev): a wrong file is reported by the
 * field that is wrong, its value's problem and the file, never as a cast that fails later.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { SchemaError } from "./errors";

/** "entries[0].mtu.node" from a zod issue path. */
function fieldPath(path: readonly PropertyKey[]): string {
    let text = "";
    for (const part of path) text += typeof part === "number" ? `[${part}]` : `${text ? "." : ""}${String(part)}`;
    return text || "(the whole document)";
}

/**
 * An object schema that refuses keys it does not declare: zod's plain `z.object` drops them
 * silently, so a misspelt optional field would vanish. The error lists the keys it allows
 * (read from the schema that refused, so `.extend()` and `.partial()` copies stay right).
 */
export function strictObject<S extends z.ZodRawShape>(shape: S) {
    return z.strictObject(shape, {
        error: (issue) => (issue.code === "unrecognized_keys" && issue.inst instanceof z.ZodObject ? `unknown field; allowed: ${Object.keys(issue.inst.shape).join(", ")}` : undefined),
    });
}

/** One line per wrong field; an unknown key is named by its own path, not its parent's. */
function issueLines(issue: z.core.$ZodIssue): string[] {
    if (issue.code === "unrecognized_keys") return issue.keys.map((key) => `  ${fieldPath([...issue.path, key])}: ${issue.message}`);
    return [`  ${fieldPath(issue.path)}: ${issue.message}`];
}

/** Validates `data`; the error names `where`, then one line per wrong field. */
export function parseWithSchema<S extends z.ZodType>(schema: S, data: unknown, where: string): z.output<S> {
    const result = schema.safeParse(data);
    if (result.success) return result.data;
    const all = result.error.issues.flatMap(issueLines);
    const lines = all.slice(0, 10);
    const more = all.length > 10 ? [`  … and ${all.length - 10} more`] : [];
    throw new SchemaError(`${where}: ${lines.length === 1 ? lines[0].trim() : `\n${[...lines, ...more].join("\n")}`}`);
}

/** Reads `file` as JSON and validates it; errors name the file (and the field). */
export function readJsonFile<S extends z.ZodType>(schema: S, file: string, where: string = file): z.output<S> {
    let data: unknown;
    try {
        data = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
        throw new SchemaError(`${where}: cannot read it as JSON (${(error as Error).message})`);
    }
    return parseWithSchema(schema, data, where);
}
