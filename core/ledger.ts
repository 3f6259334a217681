/**
 * The one durable ledger file: a JSON document replaced atomically and fsync'd (file and
 * folder), so that after a crash, `kill -9` or a power cut it holds either the old or the new
 * content, never a torn one. compare/ledger.ts (stacks that may cost money) and lab/ledger.ts
 * (namespaces and processes of a lab run) both keep their records in it.
 *
 * rename(2) is atomic ("If newpath already exists, it will be atomically replaced"); fsync(2) on
 * the directory is what makes the rename itself durable ("Calling fsync() does not necessarily
 * ensure that the entry in the directory containing the file has also reached disk. For that an
 * explicit fsync() on a file descriptor for the directory is also needed.").
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { z } from "zod";
import { SchemaError } from "./errors";
import { readJsonFile } from "./schema";

/** Writes `text` to `file` so that after a crash the file holds either the old or the new text. */
export function writeFileDurably(file: string, text: string, mode = 0o600): void {
    const dir = path.dirname(file);
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, "w", mode);
    try {
        fs.writeSync(fd, text);
        fs.fsyncSync(fd);
    } finally {
        fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    const dirFd = fs.openSync(dir, "r");
    try {
        fs.fsyncSync(dirFd);
    } finally {
        fs.closeSync(dirFd);
    }
}

/** One ledger document on disk, validated on every read. */
export class LedgerFile<S extends z.ZodType> {
    constructor(
        readonly file: string,
        private readonly schema: S,
        /** Said after a read error: e.g. "inspect it by hand: it lists stacks that may still cost money". */
        private readonly advice: string,
    ) {}

    /** The document, or undefined when the file does not exist. */
    read(): z.output<S> | undefined {
        if (!fs.existsSync(this.file)) return undefined;
        try {
            return readJsonFile(this.schema, this.file, `ledger ${this.file}`);
        } catch (error) {
            if (error instanceof SchemaError) throw new SchemaError(`${error.message}\n${this.advice}`, { cause: error });
            throw error;
        }
    }

    /** Replaces the document; returns once it is on disk. */
    write(value: z.input<S>): void {
        writeFileDurably(this.file, JSON.stringify(value, null, 2) + "\n");
    }

    remove(): void {
        fs.rmSync(this.file, { force: true });
    }
}
