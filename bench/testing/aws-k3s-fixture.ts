/**
 * TEST ONLY: an AWS/k3s target whose nodes and load generator are the in-process SSH server
 * (ssh-standin.ts) and whose Kubernetes API is the stand-in (kube-api-standin.ts), all on
 * 127.0.0.1. The nodes' `curl` (IMDSv2) and `k3s` are stubs on PATH in a folder the fixture
 * creates and removes, so no request ever leaves the machine.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { podReadyMarker } from "../aws-k3s";
import type { Target } from "../targets";
import { KubeApiStandin, type StandinOptions } from "./kube-api-standin";
import { publicLine, rsaPem, SshStandin } from "./ssh-standin";

/** What the stub IMDS answers (EC2 instance metadata paths, IMDSv2 token first). */
export const stubInstance = { instanceType: "c6i.4xlarge", availabilityZone: "us-east-1a", k3s: "k3s version v1.31.4+k3s1 (a1b2c3d4)" } as const;

/** The guestbook's pods as k3s would report them: mutable tags, and the digests actually pulled. */
export const guestbookPods = [
    { name: "frontend-7d9c-abcde", node: "node-a", container: "frontend", image: "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5", imageID: "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend@sha256:" + "a".repeat(64) },
    { name: "redis-leader-5f8b-fghij", node: "node-b", container: "leader", image: "docker.io/redis:6.0.5", imageID: "docker.io/library/redis@sha256:" + "b".repeat(64) },
] as const;

export class AwsK3sFixture {
    readonly clientKey = rsaPem();
    readonly ssh: SshStandin;
    readonly kube: KubeApiStandin;
    private readonly stubDir: string;

    constructor(kube: Omit<StandinOptions, "readyLog"> = {}) {
        this.stubDir = fs.mkdtempSync(path.join(os.tmpdir(), "cni-bench-node-stubs-"));
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
        stub("k3s", `echo '${stubInstance.k3s}'`);
        this.ssh = new SshStandin({ username: "ubuntu", authorizedKey: publicLine(this.clientKey), pathPrefix: this.stubDir });
        this.kube = new KubeApiStandin({ ...kube, readyLog: podReadyMarker });
        for (const p of guestbookPods) {
            this.kube.seedPod({
                metadata: { name: p.name, namespace: "guestbook", labels: { "app.kubernetes.io/part-of": "guestbook" } },
                spec: { nodeName: p.node, containers: [{ name: p.container, image: p.image }] },
                status: { containerStatuses: [{ name: p.container, image: p.image, imageID: p.imageID, ready: true, state: { running: {} } }] },
            });
        }
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
        const node = (name: string, role: "server" | "agent") => ({ name, role, instanceId: `i-${name}`, privateIp: "127.0.0.1", publicIp: "127.0.0.1", instanceType: stubInstance.instanceType, availabilityZone: stubInstance.availabilityZone });
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
