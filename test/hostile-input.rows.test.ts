/**
 * Issue 20's command-line rows, each as the issue states it ("today" → "expected"): exit 2, a
 * message naming the culprit as the user typed it, nothing created. Run in-process through each
 * CLI's real `main` (test/cli-harness.ts). The generated table (hostile-input.test.ts) covers
 * every option of every CLI; these are the cases the issue names, kept word for word.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, sideEffects, type CliName } from "./cli-harness";
import { useTempDirs } from "./temp-dirs";

const tempDir = useTempDirs("hostile-rows-");
const cidr = ["--operator-cidr", "203.0.113.7/32"];

interface Row {
    readonly row: number;
    readonly cli: CliName;
    /** Built in a fresh folder `dir` (files the row needs are made there first). */
    readonly argv: (dir: string) => string[];
    readonly env?: NodeJS.ProcessEnv;
    /** What the message must say: the culprit as typed, and why. */
    readonly says: RegExp;
    readonly setup?: (dir: string) => void;
}

/** A file where a folder is expected (made when the row runs; the title uses a placeholder). */
const file = (dir: string) => {
    if (fs.existsSync(dir)) fs.writeFileSync(path.join(dir, "a-file"), "not a folder\n");
    return path.join(dir, "a-file");
};
const targets = (dir: string) => {
    fs.writeFileSync(path.join(dir, "a.json"), "[]");
    fs.writeFileSync(path.join(dir, "b.json"), "[]");
};

const rows: Row[] = [
    { row: 3, cli: "bench", setup: targets, argv: (d) => ["--targets", path.join(d, "a.json"), "--targets", path.join(d, "b.json"), "--dry-run"], says: /--targets: given twice/ },
    { row: 3, cli: "compare", argv: () => ["--modes", "vxlan", ...cidr, "--operator-cidr", "198.51.100.0/24", "--dry-run"], says: /--operator-cidr: given twice/ },
    { row: 3, cli: "lab", argv: () => ["--modes", "host,host"], says: /--modes: "host" is listed twice/ },
    { row: 3, cli: "compare", argv: () => ["--modes", "vxlan,vxlan", ...cidr, "--dry-run"], says: /--modes: "vxlan" is listed twice/ },
    { row: 4, cli: "bench", argv: () => ["vxlan", "--repetitions", "1e308", "--dry-run"], says: /--repetitions: "1e308" must be a whole number from 1 to 100/ },
    { row: 4, cli: "bench", argv: () => ["vxlan", "--duration", "99999999", "--dry-run"], says: /--duration: "99999999" must be a whole number from 1 to 600/ },
    { row: 4, cli: "lab", argv: () => ["--duration", "99999999"], says: /--duration: "99999999" must be a whole number from 1 to 600/ },
    { row: 5, cli: "bench", argv: () => ["vxlan", "--duration", "0x10", "--dry-run"], says: /--duration: "0x10" must be a whole number/ },
    { row: 5, cli: "lab", argv: () => ["--duration", "0x10"], says: /--duration: "0x10" must be a whole number/ },
    { row: 5, cli: "compare", argv: () => ["--modes", "vxlan", ...cidr, "--duration", "0x10", "--dry-run"], says: /--duration: "0x10" must be a whole number/ },
    { row: 6, cli: "bench", argv: (d) => ["report", d], says: /report: ".*" holds no summary\.json/ },
    { row: 6, cli: "bench", argv: (d) => ["report", file(d)], says: /report: ".*a-file" is a file/ },
    { row: 6, cli: "bench", argv: (d) => ["report", path.join(d, "missing")], says: /report: ".*missing" does not exist/ },
    { row: 9, cli: "lab", argv: () => ["--measurements", "bogus"], says: /--measurements: "bogus" is not allowed; use .*latency/ },
    { row: 9, cli: "lab", argv: () => ["--modes", "cilium"], says: /--modes: cilium: AWS only/ },
    { row: 10, cli: "lab", argv: (d) => ["--out", file(d)], says: /--out: ".*a-file": is a file, not a folder/ },
    { row: 10, cli: "render", argv: (d) => ["--out", file(d)], says: /--out: ".*a-file": is a file, not a folder/ },
    { row: 10, cli: "compare", argv: (d) => ["--modes", "vxlan", ...cidr, "--yes", "--out", file(d)], says: /--out: ".*a-file": is a file, not a folder/ },
    { row: 10, cli: "bench", argv: (d) => ["vxlan", "--out", path.join(file(d), "below")], says: /--out: ".*below": .*a-file is a file, not a folder/ },
    {
        row: 13,
        cli: "compare",
        env: { OPERATOR_CIDR: "0.0.0.0/1" },
        argv: () => ["--modes", "vxlan", "--dry-run"],
        says: /env OPERATOR_CIDR \(cni-compare:operatorCidr\): "0\.0\.0\.0\/1" must have a prefix from \/8 to \/32/,
    },
    { row: 15, cli: "lab", argv: () => ["--cleanup", "--repetitions", "5", "--out", "/x"], says: /--cleanup takes no other option; remove --repetitions, --out/ },
    { row: 15, cli: "compare", argv: () => ["--cleanup", "--parallel", "2"], says: /--cleanup takes only --yes and --destroy-timeout; remove --parallel/ },
];

describe("issue 20, command-line rows: exit 2, the culprit named, nothing created", () => {
    it.each(rows.map((r) => [`row ${r.row}: ${r.cli} ${r.argv("DIR").join(" ")}${r.env ? ` (env ${JSON.stringify(r.env)})` : ""}`, r] as const))("%s", async (_, r) => {
        const dir = tempDir();
        r.setup?.(dir);
        const argv = r.argv(dir);
        const ledgerDir = path.join(dir, "ledgers");
        const before = sideEffects(dir, ledgerDir);
        const out = await runCli(r.cli, argv, { env: r.env, ledgerDir });
        expect(out.code, out.message).toBe(2);
        expect(out.message).toMatch(r.says);
        expect(out.reached, "refused input must stop before any work").toEqual([]);
        expect(before.ledger).toBe(false);
        expect(sideEffects(dir, ledgerDir), "no file, folder, lab ledger, namespace or process created").toEqual(before);
    });
});
