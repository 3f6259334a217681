/**
 * TEST-ONLY: temporary folders a test file creates and removes after each test, so nothing is
 * left in the temp folder (test/tmp-guard.ts checks that for the whole run).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach } from "vitest";

/** Registers the cleanup and returns a maker of fresh folders named `<prefix>XXXXXX`. */
export function useTempDirs(prefix: string): () => string {
    const dirs: string[] = [];
    afterEach(() => {
        for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    });
    return () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
        dirs.push(dir);
        return dir;
    };
}
