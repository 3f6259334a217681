/**
 * The GitHub Actions workflows in .github/workflows: valid by GitHub's own parser and schema
 * (@actions/workflow-parser), and holding the properties reviewers rely on — tests on every push
 * and PR as .ci/run runs them, a preview of every stack file with the policy pack, cloud
 * credentials only through OIDC and never for forks, and a cleanup of stale stacks. The helper
 * scripts they call are run here too, the cleanup against a stand-in `pulumi`.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { projectDir, stackNames } from "./evaluate";

const githubDir = path.join(projectDir, ".github");
const workflowsDir = path.join(githubDir, "workflows");
const scriptsDir = path.join(githubDir, "scripts");
const workflowFiles = fs
    .readdirSync(workflowsDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
const text = (file: string) => fs.readFileSync(path.join(workflowsDir, file), "utf8");
const workflow = (file: string) => parse(text(file)) as any;
const fork = "github.event.pull_request.head.repo.full_name == github.repository";
const packageJson = JSON.parse(fs.readFileSync(path.join(projectDir, "package.json"), "utf8"));

/**
 * Inputs of pulumi/actions (its action.yml, v5/v6 line), so a misspelt input fails here rather
 * than being ignored by the runner with a warning.
 */
const pulumiActionInputs = [
    "command",
    "stack-name",
    "pulumi-version",
    "pulumi-version-file",
    "work-dir",
    "comment-on-pr",
    "comment-on-pr-number",
    "comment-on-summary",
    "github-token",
    "cloud-url",
    "secrets-provider",
    "parallel",
    "message",
    "config-map",
    "expect-no-changes",
    "diff",
    "replace",
    "target",
    "target-dependents",
    "policyPacks",
    "policyPackConfigs",
    "refresh",
    "upsert",
    "remove",
    "edit-pr-comment",
    "color",
    "exclude-protected",
    "plan",
    "suppress-outputs",
    "suppress-progress",
    "always-include-summary",
];

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, unknown>; name?: string };
const steps = (job: any): Step[] => job.steps ?? [];
const usesOf = (job: any, action: string): Step[] => steps(job).filter((s) => s.uses?.split("@")[0] === action);

const tempDirs: string[] = [];
afterAll(() => {
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "workflows-test-"));
    tempDirs.push(dir);
    return dir;
}

/** Errors per file from render/workflowLint.ts (GitHub's parser; a child process, see there). */
let lint: { status: number | null; report: Record<string, string[]>; stderr: string };

beforeAll(() => {
    // One deliberately broken workflow beside the real ones: the linter must be able to fail.
    const broken = path.join(tempDir(), "broken.yml");
    fs.writeFileSync(broken, "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    permisions:\n      contents: read\n    steps:\n      - run: true\n");
    const tsx = path.join(projectDir, "node_modules", ".bin", "tsx");
    const files = [...workflowFiles.map((f) => path.join(workflowsDir, f)), broken];
    const result = spawnSync(tsx, [path.join(projectDir, "render", "workflowLint.ts"), ...files], { encoding: "utf8", cwd: projectDir });
    lint = { status: result.status, report: JSON.parse(result.stdout || "{}"), stderr: result.stderr };
});

it("the workflow linter reports schema errors with their place", () => {
    expect(lint.report["broken.yml"], lint.stderr).toEqual(["broken.yml (Line: 5, Col: 5): Unexpected value 'permisions'"]);
    expect(lint.status).toBe(1);
});

describe.each(workflowFiles)("%s", (file) => {
    it("is a valid workflow by GitHub's parser and schema", () => {
        expect(lint.report[file], lint.stderr).toEqual([]);
    });

    it("stores no AWS keys, runs on ubuntu-latest, and grants only read access by default", () => {
        expect(text(file)).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|aws-session-token/i);
        const w = workflow(file);
        expect(w.permissions).toEqual({ contents: "read" });
        for (const [id, job] of Object.entries<any>(w.jobs)) {
            expect(job["runs-on"], id).toBe("ubuntu-latest");
            expect(job["timeout-minutes"], `${id} has no timeout`).toBeGreaterThan(0);
            for (const step of usesOf(job, "aws-actions/configure-aws-credentials")) {
                expect(step.uses).toBe("aws-actions/configure-aws-credentials@v4");
                expect(String(step.with?.["role-to-assume"])).toMatch(/^\$\{\{ (vars|secrets)\.[A-Z_]+ \}\}$/);
                expect(job.permissions, `${id} assumes a role, so it needs id-token: write`).toMatchObject({ "id-token": "write" });
            }
            for (const step of usesOf(job, "pulumi/actions")) {
                expect(step.uses).toBe("pulumi/actions@v6");
                expect(Object.keys(step.with ?? {}).filter((key) => !pulumiActionInputs.includes(key))).toEqual([]);
                // One CLI version, the one the SDK in package.json was released with.
                expect(String(step.with?.["pulumi-version"])).toBe(packageJson.dependencies["@pulumi/pulumi"]);
            }
            for (const step of steps(job).filter((s) => s.uses)) {
                expect(step.uses, `${id}: pin actions to a major version`).toMatch(/^[\w-]+\/[\w-]+@v\d+$/);
            }
        }
    });
});

describe("test.yml", () => {
    const w = workflow("test.yml");
    const job = w.jobs.test;

    it("runs on every push and pull request", () => {
        expect(Object.keys(w.on).sort()).toEqual(["pull_request", "push"]);
        expect(w.on.push ?? {}).not.toHaveProperty("branches");
    });

    it("runs .ci/run (install-deps, npm ci, npm test) as root on Node 20", () => {
        expect(usesOf(job, "actions/setup-node")[0].with).toMatchObject({ "node-version": 20 });
        const run = steps(job)
            .filter((s) => s.run)
            .map((s) => s.run!.trim());
        expect(run).toEqual(['sudo --preserve-env env "PATH=$PATH" CI=true bash .ci/run']);
        const ci = fs.readFileSync(path.join(projectDir, ".ci", "run"), "utf8");
        for (const command of ["bash scripts/install-deps.sh", "npm ci", "npm test"]) expect(ci).toContain(command);
    });
});

describe("preview.yml", () => {
    const w = workflow("preview.yml");
    const preview = w.jobs.preview;
    const pulumi = () => usesOf(preview, "pulumi/actions")[0].with!;

    it("runs for pull requests only, and every job is skipped for forks", () => {
        expect(Object.keys(w.on)).toEqual(["pull_request"]);
        for (const [id, job] of Object.entries<any>(w.jobs)) expect(job.if, id).toBe(fork);
    });

    it("assumes the preview role through OIDC with exactly the permissions it needs", () => {
        expect(preview.permissions).toEqual({ "id-token": "write", contents: "read", "pull-requests": "write" });
        const [credentials] = usesOf(preview, "aws-actions/configure-aws-credentials");
        expect(credentials.with!["role-to-assume"]).toBe("${{ vars.AWS_PREVIEW_ROLE_ARN }}");
        // Variables are checked before anything runs, with a message naming them.
        expect(steps(preview)[0].run).toContain("repository variables not set");
    });

    it("previews each stack with a diff, the policy pack and a PR comment, on a throw-away local backend", () => {
        expect(preview.strategy.matrix.stack).toBe("${{ fromJSON(needs.stacks.outputs.stacks) }}");
        expect(preview.strategy["fail-fast"]).toBe(false);
        expect(pulumi()).toMatchObject({
            command: "preview",
            "stack-name": "${{ matrix.stack }}",
            diff: true,
            "comment-on-pr": true,
            "edit-pr-comment": true,
            policyPacks: "policy",
            upsert: true,
            "cloud-url": "file://${{ runner.temp }}/pulumi-state",
        });
        expect(String(pulumi()["config-map"])).toBe("{operatorCidr: {value: '${{ vars.OPERATOR_CIDR }}', secret: false}}");
        expect(parse(fs.readFileSync(path.join(projectDir, "policy", "PulumiPolicy.yaml"), "utf8"))).toMatchObject({ runtime: "nodejs" });
        // npm ci before the preview: the program and the policy pack need node_modules.
        const order = steps(preview).map((s) => s.uses?.split("@")[0] ?? s.run?.split(" ").slice(0, 2).join(" "));
        expect(order.indexOf("npm ci")).toBeLessThan(order.indexOf("pulumi/actions"));
        // The local backend's folder exists before the action logs in to it.
        const mkdir = steps(preview).findIndex((s) => s.run === 'mkdir -p "$RUNNER_TEMP/pulumi-state"');
        expect(mkdir).toBeGreaterThan(-1);
        expect(mkdir).toBeLessThan(order.indexOf("pulumi/actions"));
    });

    it("builds the matrix from the stack files, so it covers every one of them", () => {
        const list = w.jobs.stacks.steps.find((s: Step) => s.run?.includes("stack-matrix.sh"));
        expect(list.run).toContain("bash .github/scripts/stack-matrix.sh stacks");
        expect(w.jobs.stacks.outputs.stacks).toBe(`\${{ steps.${list.id}.outputs.stacks }}`);
        const matrix = execFileSync("bash", [path.join(scriptsDir, "stack-matrix.sh"), "stacks"], { cwd: projectDir, encoding: "utf8" });
        expect(JSON.parse(matrix)).toEqual(stackNames());
    });

    it("stack-matrix.sh picks up new stack files and rejects names it cannot quote", () => {
        const dir = tempDir();
        for (const file of ["Pulumi.vxlan.yaml", "Pulumi.cilium-ebpf.yaml", "README.md", "Pulumi.yaml"]) fs.writeFileSync(path.join(dir, file), "config: {}\n");
        const run = (folder: string) => spawnSync("bash", [path.join(scriptsDir, "stack-matrix.sh"), folder], { encoding: "utf8" });
        expect(run(dir).stdout.trim()).toBe('["cilium-ebpf","vxlan"]');
        fs.writeFileSync(path.join(dir, 'Pulumi.a"b.yaml'), "");
        expect(run(dir)).toMatchObject({ status: 1, stderr: expect.stringContaining('stack name "a"b" may only contain') });
        const empty = tempDir();
        expect(run(empty)).toMatchObject({ status: 1, stderr: expect.stringContaining("no stack files") });
        expect(run(path.join(empty, "missing"))).toMatchObject({ status: 1, stderr: expect.stringContaining("is not a folder") });
    });
});

describe("cleanup.yml", () => {
    const w = workflow("cleanup.yml");
    const job = w.jobs.destroy;

    it("runs daily and by hand, on the shared backend, with the cleanup role through OIDC", () => {
        expect(w.on.schedule).toEqual([{ cron: expect.stringMatching(/^\d+ \d+ \* \* \*$/) }]);
        expect(Object.keys(w.on.workflow_dispatch.inputs).sort()).toEqual(["dry-run", "max-age-hours"]);
        expect(job.if).toBe("vars.PULUMI_BACKEND_URL != '' && vars.AWS_CLEANUP_ROLE_ARN != ''");
        expect(job.permissions).toEqual({ "id-token": "write", contents: "read" });
        expect(job.env).toEqual({ PULUMI_BACKEND_URL: "${{ vars.PULUMI_BACKEND_URL }}", PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" });
        expect(usesOf(job, "aws-actions/configure-aws-credentials")[0].with!["role-to-assume"]).toBe("${{ vars.AWS_CLEANUP_ROLE_ARN }}");
        expect(steps(job).at(-1)!.run).toBe("bash .github/scripts/destroy-stale-stacks.sh");
    });
});

describe("destroy-stale-stacks.sh against a stand-in pulumi", () => {
    const now = Date.parse("2026-11-23T12:00:00Z") / 1000;
    const listing = [
        { name: "vxlan", lastUpdate: "2026-11-22T08:00:00.000Z", resourceCount: 58 }, // 28 h idle: destroy
        { name: "host-gw", lastUpdate: "2026-11-23T10:30:00.000Z", resourceCount: 58 }, // 1 h: a comparison may be running
        { name: "calico", lastUpdate: "2026-11-20T00:00:00.000Z", resourceCount: 60, updateInProgress: true },
        { name: "calico-ipip", lastUpdate: "2026-11-01T00:00:00.000+01:00", resourceCount: 0 },
        { name: "calico-vxlan", lastUpdate: "2026-11-23T00:00:00.000Z", resourceCount: 61 }, // 12 h: destroy; this one fails
    ];

    function run(env: Record<string, string>) {
        const dir = tempDir();
        fs.writeFileSync(path.join(dir, "stacks.json"), JSON.stringify(listing));
        // Logs every call; `stack ls --json` prints the listing; destroying calico-vxlan fails.
        fs.writeFileSync(
            path.join(dir, "pulumi"),
            `#!/usr/bin/env bash
echo "$*" >> "${dir}/calls"
if [[ "$1 $2 $3" == "stack ls --json" ]]; then cat "${dir}/stacks.json"; exit 0; fi
if [[ "$1" == destroy && "$3" == calico-vxlan ]]; then echo "error: deleting failed" >&2; exit 1; fi
exit 0
`,
            { mode: 0o755 },
        );
        const result = spawnSync("bash", [path.join(scriptsDir, "destroy-stale-stacks.sh")], {
            encoding: "utf8",
            env: { PATH: `${dir}:${process.env.PATH}`, NOW_EPOCH: String(now), ...env },
        });
        const calls = fs.existsSync(path.join(dir, "calls")) ? fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n") : [];
        return { ...result, calls };
    }

    it("destroys and removes only stacks with resources idle for longer than the limit, and fails if one destroy failed", () => {
        const { status, stdout, calls } = run({});
        expect(calls).toEqual([
            "stack ls --json",
            "destroy --stack vxlan --yes --skip-preview --non-interactive",
            "stack rm --stack vxlan --yes --preserve-config --non-interactive",
            "destroy --stack calico-vxlan --yes --skip-preview --non-interactive",
        ]);
        expect(stdout).toContain("keep     host-gw: 58 resources, updated 1 h ago (< 12 h)");
        expect(stdout).toContain("keep     calico: an update is in progress");
        expect(stdout).toContain("keep     calico-ipip: no resources");
        expect(stdout).toContain("::error::destroying stack calico-vxlan failed");
        expect(stdout).toContain("cleanup: 1 destroyed, 1 failed, 3 kept");
        expect(status).toBe(1);
    });

    it("a dry run destroys nothing; a longer limit keeps more", () => {
        const dry = run({ DRY_RUN: "true" });
        expect(dry.calls).toEqual(["stack ls --json"]);
        expect(dry.stdout).toContain("would destroy vxlan: 58 resources, updated 28 h ago");
        expect(dry.status).toBe(0);
        const patient = run({ MAX_AGE_HOURS: "24" });
        expect(patient.calls.filter((c) => c.startsWith("destroy"))).toEqual(["destroy --stack vxlan --yes --skip-preview --non-interactive"]);
        expect(patient.status).toBe(0);
    });

    it("rejects bad settings by name before calling pulumi", () => {
        for (const [key, value] of [
            ["MAX_AGE_HOURS", "12h"],
            ["DRY_RUN", "yes"],
            ["DESTROY_TIMEOUT_MINUTES", "0"],
        ]) {
            const result = run({ [key]: value });
            expect(result.status, key).toBe(2);
            expect(result.stderr).toContain(`${key}: "${value}"`);
            expect(result.calls).toEqual([]);
        }
    });
});

it("the helper scripts pass shellcheck", () => {
    const scripts = fs
        .readdirSync(scriptsDir)
        .filter((f) => f.endsWith(".sh"))
        .map((f) => path.join(scriptsDir, f));
    expect(scripts.length).toBe(2);
    const result = spawnSync("shellcheck", ["--shell=bash", ...scripts], { encoding: "utf8" });
    expect(result.stdout, result.stdout).toBe("");
    expect(result.status).toBe(0);
});
