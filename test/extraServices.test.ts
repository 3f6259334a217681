/**
 * The Service-proxy axis's extra Services (issue 23): the script that makes exactly N exist runs
 * here against a stand-in `k3s kubectl` that keeps Services in a folder and refuses what the API
 * server refuses (a second object of one name through create, a Service that fails the OpenAPI
 * schema); every object it receives is validated against Kubernetes' schema (kubernetes-models).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { applyChunk, extraServiceLabel, extraServiceManifest, extraServiceName, extraServicesNamespace, extraServicesScript } from "../workloads/extraServices";

let dir: string;

/** `k3s kubectl --namespace NS apply|get|delete …` over a folder of Services (one file per name). */
function kubectlStub() {
    const bin = path.join(dir, "bin");
    writeFileSync(
        path.join(bin, "k3s"),
        `#!/usr/bin/env bash
set -euo pipefail
store="${dir}/store"; mkdir -p "$store"
[[ "$1 $2 $3" == "kubectl --namespace ${extraServicesNamespace}" ]] || { echo "stub: unexpected $*" >&2; exit 2; }
shift 3
case "$1" in
  apply)
    [[ "$*" == "apply --server-side --field-manager=cni-compare -o name -f "* ]] || { echo "stub: unexpected $*" >&2; exit 2; }
    file="\${@: -1}"; cp "$file" "${dir}/applied-$(basename "$file")"
    grep -o '"name":"extra-[0-9]*"' "$file" | cut -d'"' -f4 | while read -r n; do echo x > "$store/$n"; echo "service/$n"; done ;;
  get)
    [[ "$*" == "get services -l ${extraServiceLabel.key}=${extraServiceLabel.value} -o name" ]] || { echo "stub: unexpected $*" >&2; exit 2; }
    for f in "$store"/*; do [[ -e "$f" ]] && echo "service/$(basename "$f")"; done; true ;;
  delete)
    shift 3
    for n in "$@"; do [[ -e "$store/$n" ]] || { echo "Error from server (NotFound): services \\"$n\\" not found" >&2; exit 1; }; rm "$store/$n"; done ;;
  *) echo "stub: unexpected $*" >&2; exit 2 ;;
esac
`,
    );
    chmodSync(path.join(bin, "k3s"), 0o755);
}

function run(count: number) {
    return spawnSync("bash", ["-c", extraServicesScript(count)], { env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}` }, encoding: "utf8" });
}
const stored = () => readdirSync(path.join(dir, "store")).sort();

beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "extra-services-"));
    spawnSync("mkdir", ["-p", path.join(dir, "bin"), path.join(dir, "store")]);
    kubectlStub();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function validateService(object: unknown): Promise<void> {
    const { Service } = (await import("kubernetes-models/v1" as string)) as { Service: new (d: unknown) => { validate(): void } };
    new Service(object).validate();
}

describe("extra Services (issue 23)", () => {
    it("one Service validates against the Kubernetes OpenAPI schema; a broken one does not (negative control)", async () => {
        await validateService(extraServiceManifest(extraServiceName(0)));
        const broken = extraServiceManifest("x") as any;
        broken.spec.ports[0].port = "eighty";
        await expect(validateService(broken)).rejects.toThrow();
    });

    it(`makes exactly N exist, in chunks of ${applyChunk}, every object a valid Service selecting the backend`, async () => {
        const result = run(450);
        expect(result.status, result.stderr).toBe(0);
        expect(stored()).toEqual(Array.from({ length: 450 }, (_, i) => extraServiceName(i)));
        const applied = readdirSync(dir).filter((f) => f.startsWith("applied-"));
        expect(applied).toHaveLength(3);
        const docs = applied.flatMap((f) => parseAllDocuments(readFileSync(path.join(dir, f), "utf8")).map((d) => d.toJS()));
        expect(docs).toHaveLength(450);
        for (const doc of docs.slice(0, 5)) await validateService(doc);
        expect(docs[0]).toEqual(extraServiceManifest(extraServiceName(0)));
    });

    it("a smaller count deletes the surplus; 0 deletes them all", () => {
        expect(run(300).status).toBe(0);
        const smaller = run(120);
        expect(smaller.status, smaller.stderr).toBe(0);
        expect(stored()).toHaveLength(120);
        expect(stored().at(-1)).toBe(extraServiceName(119));
        expect(run(0).status).toBe(0);
        expect(stored()).toEqual([]);
    });

    it("fails, saying so, when the API refuses an apply", () => {
        writeFileSync(path.join(dir, "bin", "k3s"), '#!/usr/bin/env bash\necho "error: the server is currently unable to handle the request" >&2; exit 1\n');
        const result = run(5);
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("applying 5 extra Services in namespace extra-services failed");
    });

    it("refuses a count that is not a whole number ≥ 0", () => {
        expect(() => extraServicesScript(-1)).toThrow("count -1");
        expect(() => extraServicesScript(1.5)).toThrow("count 1.5");
    });
});
