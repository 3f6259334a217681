/**
 * Reading JSON files against a schema (zod, https://zod.dev): a wrong file is reported by the
 * field that is wrong, its value's problem and the file, never as a cast that fails later.
 */
import { readFileSync } from "node:fs";
import type { z } from "zod";
import { SchemaError } from "./errors";

/** "entries[0].mtu.node" from a zod issue path. */
function fieldPath(path: readonly PropertyKey[]): string {
    let text = "";
    for (const part of path) text += typeof part === "number" ? `[${part}]` : `${text ? "." : ""}${String(part)}`;
    return text || "(the whole document)";
}

/** Validates `data`; the error names `where`, then one line per wrong field. */
export function parseWithSchema<S extends z.ZodType>(schema: S, data: unknown, where: string): z.output<S> {
    const result = schema.safeParse(data);
    if (result.success) return result.data;
    const lines = result.error.issues.slice(0, 10).map((issue) => `  ${fieldPath(issue.path)}: ${issue.message}`);
    const more = result.error.issues.length > 10 ? [`  … and ${result.error.issues.length - 10} more`] : [];
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
