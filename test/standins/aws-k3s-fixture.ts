/**
 * TEST ONLY: an AWS/k3s target whose nodes and load generator are the in-process SSH server
 * (ssh-standin.ts) and whose Kubernetes API is the stand-in (kube-api-standin.ts), all on
 * 127.0.0.1. The nodes' `curl` (IMDSv2), `k3s` (version, `crictl inspect`), `sudo` and `nsenter`
 * are stubs on PATH in a folder the fixture creates and removes, so no request ever leaves the
 * machine and nothing needs root: `sudo -n` runs the command (reading k3s's containerd config
 * from the fixture's copy), and `nsenter --target <pid> --net -- …` records the pid and runs the
 * command in place. The real namespaces are pod-netns.root.test.ts's business.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { k3sContainerdConfig } from "../../bench/sessions/pod-netns";
import type { Target } from "../../bench/targets";
import { KubeApiStandin, type StandinOptions } from "./kube-api";
import { publicLine, rsaPem, SshStandin } from "./sshd";

/** What the stub IMDS answers (EC2 instance metadata paths, IMDSv2 token first). */
export const stubInstance = { instanceType: "c6i.4xlarge", availabilityZone: "us-east-1a", k3s: "k3s version v1.31.4+k3s1 (a1b2c3d4)" } as const;

/** The guestbook's pods as k3s would report them: mutable tags, and the digests actually pulled. */
export const guestbookPods = [
    {
        name: "frontend-7d9c-abcde",
        node: "node-a",
        container: "frontend",
        image: "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5",
        imageID: "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend@sha256:" + "a".repeat(64),
    },
    { name: "redis-leader-5f8b-fghij", node: "node-b", container: "leader", image: "docker.io/redis:6.0.5", imageID: "docker.io/library/redis@sha256:" + "b".repeat(64) },
] as const;

/** The sandbox image in the fixture's containerd config (k3s's default pause image). */
export const stubSandboxImage = "rancher/mirrored-pause:3.6";

/** The id of the nodes' cilium-agent container in the stub's `k3s crictl ps`. */
export const stubCiliumAgentId = "c1c1a9e7";

/** The pid the stub `k3s crictl inspect` reports for a container: 1000 + its id's first four hex digits. */
export function stubPidOf(containerId: string): number {
    return 1000 + parseInt(containerId.replace(/^containerd:\/\//, "").slice(0, 4), 16);
}

export class AwsK3sFixture {
    readonly clientKey = rsaPem();
    readonly ssh: SshStandin;
    readonly kube: KubeApiStandin;
    private readonly stubDir: string;

    constructor(kube: StandinOptions = {}) {
        this.stubDir = fs.mkdtempSync(path.join(os.tmpdir(), "cni-bench-node-stubs-"));
        this.containerdConfig(`[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "${stubSandboxImage}"\n`);
        const stub = (name: string, body: string) => fs.writeFileSync(path.join(this.stubDir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
        stub(
            "curl",
            [
                'case "$*" in',
                "  *api/token*) echo stub-token ;;",
                `  *meta-data/instance-type*) echo ${stubInstance.instanceType} ;;`,
                `  *placement/availability-zone*) echo ${stubInstance.availabilityZone} ;;`,
                "  *) exit 22 ;;",
                "esac",
            ].join("\n"),
        );
        stub(
            "k3s",
            [
                // The node's cilium-agent container, when the fixture runs one (ciliumStatus):
                // `crictl ps` lists running containers (none: empty output), `crictl exec` refuses
                // an id it does not run.
                'if [ "$1" = crictl ] && [ "$2" = ps ]; then',
                `  [ "$*" = "crictl ps --name ^cilium-agent$ -q" ] || { echo "k3s stub: unexpected arguments: $*" >&2; exit 2; }`,
                `  if [ -f ${this.stubDir}/cilium-status ]; then echo ${stubCiliumAgentId}; fi`,
                "  exit 0",
                "fi",
                'if [ "$1" = crictl ] && [ "$2" = exec ]; then',
                `  if [ "$3" != ${stubCiliumAgentId} ] || [ ! -f ${this.stubDir}/cilium-status ]; then echo "rpc error: code = NotFound desc = container \"$3\" not found" >&2; exit 1; fi`,
                `  [ "$4 $5" = "cilium-dbg status" ] || { echo "k3s stub: unexpected command: $4 $5" >&2; exit 2; }`,
                `  cat ${this.stubDir}/cilium-status`,
                "  exit 0",
                "fi",
                'if [ "$1" = crictl ] && [ "$2" = inspect ]; then',
                `  if [ -f ${this.stubDir}/crictl-fails ]; then cat ${this.stubDir}/crictl-fails >&2; exit 1; fi`,
                "  for id; do :; done # the last argument",
                '  echo $((1000 + 0x$(printf %s "$id" | cut -c1-4)))',
                "  exit 0",
                "fi",
                `echo '${stubInstance.k3s}'`,
            ].join("\n"),
        );
        // The image user's passwordless sudo (-n: never prompt); k3s's containerd config is the fixture's copy.
        stub(
            "sudo",
            [
                '[ "$1" = -n ] || { echo "sudo: a password is required" >&2; exit 1; }',
                "shift",
                `printf '%s\\n' "$*" >> ${this.stubDir}/sudo-commands`,
                'if [ "$1" = sh ] && [ "$2" = -c ]; then',
                `  exec sh -c "$(printf '%s' "$3" | sed 's#${k3sContainerdConfig}#${this.stubDir}/containerd-config.toml#g')"`,
                "fi",
                'exec "$@"',
            ].join("\n"),
        );
        stub(
            "nsenter",
            [
                '[ "$1" = --target ] && [ "$3" = --net ] && [ "$4" = -- ] || { echo "nsenter stub: unexpected arguments: $*" >&2; exit 125; }',
                `echo "$2" >> ${this.stubDir}/nsenter-targets`,
                "shift 4",
                'exec "$@"',
            ].join("\n"),
        );
        this.ssh = new SshStandin({ username: "ubuntu", authorizedKey: publicLine(this.clientKey), pathPrefix: this.stubDir });
        this.kube = new KubeApiStandin(kube);
        for (const p of guestbookPods) {
            this.kube.seedPod({
                metadata: { name: p.name, namespace: "guestbook", labels: { "app.kubernetes.io/part-of": "guestbook" } },
                spec: { nodeName: p.node, containers: [{ name: p.container, image: p.image }] },
                status: { containerStatuses: [{ name: p.container, image: p.image, imageID: p.imageID, ready: true, state: { running: {} } }] },
            });
        }
    }

    /** Replaces the nodes' k3s containerd config (what `sandboxImageCommand` reads). */
    containerdConfig(toml: string): void {
        fs.writeFileSync(path.join(this.stubDir, "containerd-config.toml"), toml);
    }

    /** Runs a cilium-agent container on the nodes whose `cilium-dbg status` prints `stdout`
     * (undefined: none runs, as on a flannel or Calico stack). */
    ciliumStatus(stdout: string | undefined): void {
        const file = path.join(this.stubDir, "cilium-status");
        if (stdout === undefined) fs.rmSync(file, { force: true });
        else fs.writeFileSync(file, stdout);
    }

    /** Makes every `k3s crictl inspect` fail with `stderr` (undefined: answer again). */
    failPidLookups(stderr: string | undefined): void {
        const file = path.join(this.stubDir, "crictl-fails");
        if (stderr === undefined) fs.rmSync(file, { force: true });
        else fs.writeFileSync(file, `${stderr}\n`);
    }

    /** What ran through `sudo -n` on the nodes (arguments joined by spaces), in order. */
    sudoCommands(): string[] {
        const file = path.join(this.stubDir, "sudo-commands");
        return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : [];
    }

    /** The pids commands entered with nsenter, in order. */
    nsenterTargets(): number[] {
        const file = path.join(this.stubDir, "nsenter-targets");
        return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").map(Number) : [];
    }

    async start(): Promise<void> {
        await Promise.all([this.ssh.start(), this.kube.start()]);
    }

    async stop(): Promise<void> {
        await Promise.all([this.ssh.stop(), this.kube.stop()]);
        fs.rmSync(this.stubDir, { recursive: true, force: true });
    }

    /** The target a stack's outputs would give, pointing at the stand-ins. */
    target(overrides: Partial<Target> = {}): Target {
        const node = (name: string, role: "server" | "agent") => ({
            name,
            role,
            instanceId: `i-${name}`,
            privateIp: "127.0.0.1",
            publicIp: "127.0.0.1",
            instanceType: stubInstance.instanceType,
            availabilityZone: stubInstance.availabilityZone,
        });
        return {
            name: "vxlan",
            platform: "aws-k3s",
            mode: "vxlan",
            endpoint: "http://127.0.0.1:9",
            nodePort: 30080,
            nodes: [node("node-a", "server"), node("node-b", "agent")],
            podCidr: "10.42.0.0/16",
            mtu: { node: 9001, pod: 8951 },
            versions: { k3s: "v1.31.4+k3s1", cni: "flannel", cniVersion: "bundled", ubuntu: "24.04" },
            kubeconfig: this.kube.kubeconfig(),
            sshUser: "ubuntu",
            sshPrivateKey: this.clientKey,
            sshPort: this.ssh.port,
            loadGenerator: { publicIp: "127.0.0.1", privateIp: "127.0.0.1" },
            ...overrides,
        };
    }
}
