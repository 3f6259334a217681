/**
 * Issue 19 defect 7 on real namespaces (root only): a lab targets file whose namespaces exist
 * and whose peer address carries a command substitution. Before the schema checked addresses,
 * the runner reached `ip -o route get <peer>` in the first host's namespace and ran the
 * substitution as root; now `npm run bench -- --targets FILE` exits 2 naming the field, and
 * neither the canary nor a results folder appears. The namespaces (testing/lab-topology.ts,
 * prefix cnih-<random>) are created here and deleted afterwards.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exitCodes } from "../core/cli";
import { routedLab } from "../test/standins/lab-topology";

const isRoot = process.getuid?.() === 0;
const lab = routedLab(`cnih-${randomBytes(3).toString("hex")}`);
let dir: string;

describe.skipIf(!isRoot)("a hostile targets file against namespaces that exist (needs root)", () => {
    beforeAll(() => {
        lab.build();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-hostile-"));
    });
    afterAll(() => {
        lab.destroy();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("exits 2 naming lab.hosts[1].ip; the substitution never runs and nothing is measured", () => {
        const canary = path.join(dir, "canary");
        const peer = `${lab.target.lab!.hosts[1].ip}$(touch ${canary})`;
        const target = { ...lab.target, lab: { ...lab.target.lab!, hosts: [lab.target.lab!.hosts[0], { ...lab.target.lab!.hosts[1], ip: peer }] } };
        const file = path.join(dir, "targets.json");
        fs.writeFileSync(file, JSON.stringify([target]));
        const out = path.join(dir, "out");
        const r = spawnSync(
            process.execPath,
            ["--import", "tsx", "bench/cli.ts", "--targets", file, "--repetitions", "1", "--measurements", "iperf3", "--cases", "iperf3.host.cross.tcp1", "--duration", "1", "--out", out],
            {
                cwd: path.resolve(__dirname, ".."),
                env: { ...process.env, PULUMI_BACKEND_URL: "" },
                encoding: "utf8",
                timeout: 120_000,
            },
        );
        expect(r.status, r.stdout + r.stderr).toBe(exitCodes.usage);
        expect(r.stderr).toContain(`bench: --targets ${file}: [0].lab.hosts[1].ip: ${JSON.stringify(peer)} is not an IP address`);
        expect(fs.existsSync(canary), "the command substitution ran").toBe(false);
        expect(fs.existsSync(out)).toBe(false);
    }, 130_000);
});
