/**
 * vitest globalSetup: proves that the tests leave nothing in the temporary folder.
 *
 * Before any test file runs, it points TMPDIR at a fresh, empty folder; everything that asks
 * for a temp folder (Node's os.tmpdir(): "returns the operating system's default directory for
 * temporary files", TMPDIR first on POSIX; mktemp(1) and the shell commands the runner builds)
 * then writes there, and the test workers (child processes started after this) inherit it. After
 * the last file it lists what is left: anything at all fails the run, naming the leftovers. The
 * folder is removed either way so one failing run does not fail the next.
 *
 * Watching /tmp itself would not work here: other programs (and other checkouts' test runs) write
 * there at the same time, so a difference could not be attributed to these tests.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Paths below `dir`, relative, depth-first (a leftover folder's content is named too). */
function listTree(dir: string, prefix = ""): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const rel = path.join(prefix, entry.name);
        return entry.isDirectory() ? [rel + "/", ...listTree(path.join(dir, entry.name), rel).slice(0, 20)] : [rel];
    });
}

/**
 * The tsx CLI (render's evaluation runs it as a child) opens its parent-child IPC socket at
 * <tmpdir>/tsx-<euid>/<pid>.pipe (node_modules/tsx/dist/client-*.cjs: `p.join(a.tmpdir(),
 * \`tsx-${P}\`)`, `${e}.pipe`), removes the socket and keeps the folder for later runs. That
 * empty folder is the tool's, not a leftover of a test; anything inside it still counts.
 */
const tsxIpcFolder = `tsx-${process.geteuid?.() ?? os.userInfo().username}/`;

/** Set while a guard's folder is in use: vitest runs a global setup for the root config and again
 * for each project (vitest.config.ts), and nested folders would make paths too long for a Unix
 * socket (108 bytes with the path, unix(7); BIRD's control socket lives in the temp folder). */
const activeSandbox = "CNI_COMPARE_TESTS_TMPDIR";

export default function setup(): () => void {
    if (process.env[activeSandbox]) return () => undefined;
    const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), "cni-compare-tests-"));
    process.env[activeSandbox] = sandbox;
    const previous = { TMPDIR: process.env.TMPDIR, TSX_DISABLE_CACHE: process.env.TSX_DISABLE_CACHE, TS_NODE_CACHE: process.env.TS_NODE_CACHE };
    process.env.TMPDIR = sandbox;
    // Two compilers keep caches in the temp folder for later runs — caches, but still files left
    // behind: tsx (the CLIs' children) in <tmpdir>/tsx-<uid> (node_modules/tsx: TSX_DISABLE_CACHE
    // turns it off), and the ts-node that loads the policy pack in <tmpdir>/ts-node-<hash>
    // (node_modules/@pulumi/pulumi/vendor/ts-node@7.0.1/index.js: `cache: yn(process.env["TS_NODE_CACHE"],
    // { default: true })`).
    process.env.TSX_DISABLE_CACHE = "1";
    process.env.TS_NODE_CACHE = "false";
    return () => {
        delete process.env[activeSandbox];
        for (const [key, value] of Object.entries(previous)) {
            if (value === undefined) delete process.env[key];
            else process.env[key] = value;
        }
        const left = listTree(sandbox).filter((entry) => entry !== tsxIpcFolder);
        fs.rmSync(sandbox, { recursive: true, force: true });
        if (left.length > 0) {
            throw new Error(`the tests left ${left.length} item(s) in the temporary folder (TMPDIR=${sandbox}), e.g.:\n  ${left.slice(0, 30).join("\n  ")}`);
        }
    };
}
