/**
 * The project's own files, read the way the Pulumi CLI reads them: Pulumi.yaml (name, config
 * schema with its defaults, stackConfigDir) and the stack files stacks/Pulumi.<stack>.yaml.
 * The offline evaluation and `npm run compare` both build a stack's config from these.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";

export const projectDir = path.resolve(__dirname, "..");

export interface ConfigSchema {
    readonly type?: string;
    readonly description?: string;
    readonly default?: unknown;
}

export interface Project {
    readonly name: string;
    /** Absolute folder of the stack files. */
    readonly stackConfigDir: string;
    readonly config: Readonly<Record<string, ConfigSchema>>;
    /** Config defaults as the engine delivers them (strings), keyed without the project namespace. */
    readonly defaults: Readonly<Record<string, string>>;
}

export function readProject(dir: string = projectDir): Project {
    const file = parseYaml(readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as {
        name: string;
        stackConfigDir?: string;
        config?: Record<string, ConfigSchema>;
    };
    const config = file.config ?? {};
    const defaults: Record<string, string> = {};
    for (const [key, schema] of Object.entries(config)) {
        if (schema?.default !== undefined) defaults[key] = String(schema.default);
    }
    return { name: file.name, stackConfigDir: path.join(dir, file.stackConfigDir ?? "."), config, defaults };
}

export function stackFilePath(project: Project, stack: string): string {
    return path.join(project.stackConfigDir, `Pulumi.${stack}.yaml`);
}

/** A stack file's config (`aws:region`, `<project>:mode`, …) as strings; undefined if there is no such file. */
export function readStackFile(project: Project, stack: string): Record<string, string> | undefined {
    const file = stackFilePath(project, stack);
    if (!existsSync(file)) return undefined;
    const parsed = parseYaml(readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed?.config ?? {})) {
        if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") config[key] = String(value);
    }
    return config;
}

/** Stack names from the stack files, sorted. */
export function stackNames(project: Project = readProject()): string[] {
    return readdirSync(project.stackConfigDir)
        .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
        .filter((name): name is string => name !== undefined)
        .sort();
}

/** The network mode a stack file sets (`<project>:mode`): a stack is named after its mode, or is a
 * variant of one (stacks/Pulumi.vxlan-nftables.yaml: mode vxlan, serviceProxy nftables). */
export function stackMode(stack: string, project: Project = readProject()): string {
    const mode = readStackFile(project, stack)?.[`${project.name}:mode`];
    if (mode === undefined) throw new Error(`stacks/Pulumi.${stack}.yaml sets no ${project.name}:mode`);
    return mode;
}
