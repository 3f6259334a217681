/**
 * The node scripts run for real here, against stand-ins for curl, cloud-init, k3s, journalctl and
 * modprobe on PATH (sha256sum, grep and mktemp are the real ones): the token read from stdin must
 * reach the installer's environment, the flags must arrive as separate words, and failures must
 * exit non-zero with diagnostics. k3s's images directory is moved into the test's folder.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultServiceProxy, modeFacts, networkModes, type NetworkMode } from "../components/modes";
import type { ServiceProxyMode } from "../components/serviceProxy";
import { k3sAgentScript, k3sAirgapImages, k3sImagesDir, k3sReleaseUrl, k3sServerScript, loadGeneratorScript, nodeToolPackages, runAsRoot, waitForNodesScript } from "../components/nodeScripts";

let dir: string;

/** Writes an executable stand-in for `name` into the stub dir. */
function stub(name: string, body: string) {
    const file = path.join(dir, "bin", name);
    writeFileSync(file, `#!/usr/bin/env bash\n${body}\n`);
    chmodSync(file, 0o755);
}

/** The script with k3s's images directory moved into the test's folder (these tests may run as root). */
function local(script: string): string {
    return script.replaceAll(k3sImagesDir, path.join(dir, "images"));
}

/** What the curl stand-in serves as the release's image archive. */
const archiveBytes = "zstd archive of the k3s images";

/**
 * curl: `-o FILE URL` downloads (the image archive, and a checksum list that holds its real sha256
 * unless `checksumOf` says otherwise); a bare URL prints the "installer" `installer`.
 */
function curlStub(installer: string, checksumOf = archiveBytes) {
    stub(
        "curl",
        `out=""; url=""
while (($#)); do
  case "$1" in
    -o|--max-time) [[ "$1" == -o ]] && out=$2; shift 2 ;;
    -*) shift ;;
    *) url=$1; shift ;;
  esac
done
echo "$url" >> "$OUT/urls"
case "$url" in
  *.tar.zst) printf '%s' '${archiveBytes}' > "$out" ;;
  *sha256sum-amd64.txt) printf '%s  ${k3sAirgapImages.archive}\\n' "$(printf '%s' '${checksumOf}' | sha256sum | cut -d' ' -f1)" > "$out" ;;
  *) cat <<'INSTALLER'
${installer}
INSTALLER
  ;;
esac`,
    );
}

function run(script: string, stdin = "") {
    return spawnSync("bash", ["-c", local(script)], {
        input: stdin,
        encoding: "utf8",
        timeout: 20_000,
        env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, OUT: dir },
    });
}

beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "node-scripts-"));
    spawnSync("mkdir", ["-p", path.join(dir, "bin")]);
    stub("cloud-init", "exit 0");
    stub("journalctl", 'echo "journal of $2"');
    stub("k3s", "exit 0");
    // apt and what it installs: the node scripts install the benchmark tools first (never the
    // real apt-get: these tests may run as root).
    stub("apt-get", `printf '%s\\n' "$*" >> "$OUT/apt"`);
    stub("debconf-set-selections", `cat >> "$OUT/debconf"`);
    stub("systemctl", `printf '%s\\n' "$*" >> "$OUT/systemctl"; exit 3`); // inactive, not enabled
    for (const tool of ["wrk", "iperf3", "sockperf"]) stub(tool, "exit 0");
    stub("modprobe", `echo "$*" >> "$OUT/modprobe"`);
    // The "installer" records its arguments (one per line) and environment.
    curlStub(`printf '%s\\n' "$@" > "$OUT/args"
env > "$OUT/env"`);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A mode's facts and its default Service proxy, or `proxy`, as K3sCluster passes them. */
function onMode(mode: NetworkMode, proxy: ServiceProxyMode = defaultServiceProxy(mode)) {
    return { facts: modeFacts[mode], serviceProxy: proxy };
}

// 127.0.0.1 is on every machine: the script must find its interface, lo.
const server = { k3sVersion: "v1.33.4+k3s1", nodeName: "node-1", nodeIp: "127.0.0.1", publicIp: "198.51.100.11", podCidr: "10.42.0.0/16" };

describe("k3s server script", () => {
    it("hands the token from stdin and the pinned version to the installer, flags as separate words", () => {
        const result = run(k3sServerScript({ ...server, ...onMode("calico") }), "s3cret-token\n");
        expect(result.status, result.stderr).toBe(0);
        const args = readFileSync(path.join(dir, "args"), "utf8").trim().split("\n");
        expect(args).toEqual([
            "server",
            "--node-name=node-1",
            "--node-ip=127.0.0.1",
            "--flannel-iface=lo",
            "--kube-proxy-arg=proxy-mode=iptables",
            "--tls-san=198.51.100.11",
            "--cluster-cidr=10.42.0.0/16",
            "--flannel-backend=none",
            "--disable=traefik,servicelb",
            "--disable-network-policy",
        ]);
        const env = readFileSync(path.join(dir, "env"), "utf8");
        expect(env).toContain("K3S_TOKEN=s3cret-token\n");
        expect(env).toContain("INSTALL_K3S_VERSION=v1.33.4+k3s1\n");
    });

    it("runs the same way through the sudo wrapper's quoting", () => {
        stub("sudo", 'exec "$@"');
        const result = run(runAsRoot(k3sServerScript({ ...server, ...onMode("vxlan") })), "tok\n");
        expect(result.status, result.stderr).toBe(0);
        expect(readFileSync(path.join(dir, "args"), "utf8")).toContain("--flannel-backend=vxlan\n");
    });

    it("fails with the service journal when the installer fails", () => {
        curlStub("exit 3");
        const result = run(k3sServerScript({ ...server, ...onMode("vxlan") }), "tok\n");
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("k3s install failed or took over 600 s; last log lines of k3s:");
        expect(result.stderr).toContain("journal of k3s");
    });

    it("fails clearly when no interface holds the node IP", () => {
        const result = run(k3sServerScript({ ...server, nodeIp: "192.0.2.250", ...onMode("vxlan") }), "tok\n");
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("no interface holds 192.0.2.250");
    });
});

describe("the Service proxy reaches k3s as flags (issue 23)", () => {
    const agentArgs = { k3sVersion: "v1.33.4+k3s1", nodeName: "node-2", nodeIp: "127.0.0.1", serverIp: "10.0.0.11" };
    const argsOf = (script: string) => {
        const result = run(script, "tok\n");
        expect(result.status, result.stderr).toBe(0);
        return readFileSync(path.join(dir, "args"), "utf8").trim().split("\n");
    };

    for (const [role, script] of [
        ["server", (proxy: ServiceProxyMode) => k3sServerScript({ ...server, ...onMode("vxlan", proxy) })],
        ["agent", (proxy: ServiceProxyMode) => k3sAgentScript({ ...agentArgs, ...onMode("vxlan", proxy) })],
    ] as const) {
        it(`${role}: nftables runs kube-proxy with --proxy-mode=nftables, and nothing else about the proxy`, () => {
            const args = argsOf(script("nftables"));
            expect(args.filter((a) => /proxy/.test(a))).toEqual(["--kube-proxy-arg=proxy-mode=nftables"]);
        });
        it(`${role}: iptables (the kube-proxy modes' default) says so explicitly`, () => {
            expect(argsOf(script("iptables")).filter((a) => /proxy/.test(a))).toEqual(["--kube-proxy-arg=proxy-mode=iptables"]);
        });
    }

    it("ebpf (the Cilium modes): no kube-proxy argument, and the server disables kube-proxy", () => {
        expect(argsOf(k3sServerScript({ ...server, ...onMode("cilium") })).filter((a) => /proxy/.test(a))).toEqual(["--disable-kube-proxy"]);
        expect(argsOf(k3sAgentScript({ ...agentArgs, ...onMode("cilium") })).filter((a) => /proxy/.test(a))).toEqual([]);
    });
});

describe("k3s agent script", () => {
    it("joins the server's private address with the token", () => {
        const result = run(k3sAgentScript({ k3sVersion: "v1.33.4+k3s1", nodeName: "node-2", nodeIp: "127.0.0.1", serverIp: "10.0.0.11", ...onMode("vxlan") }), "tok\n");
        expect(result.status, result.stderr).toBe(0);
        const env = readFileSync(path.join(dir, "env"), "utf8");
        expect(env).toContain("K3S_URL=https://10.0.0.11:6443\n");
        expect(env).toContain("K3S_TOKEN=tok\n");
        expect(readFileSync(path.join(dir, "args"), "utf8").split("\n")[0]).toBe("agent");
    });
});

describe("node readiness wait", () => {
    it("gives up after its deadline with diagnostics", () => {
        stub("k3s", 'if [[ "$2 $3" == "get node" ]]; then exit 1; fi; echo "k3s $*"');
        const result = run(waitForNodesScript(["node-1", "node-2"], 1));
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("node node-1 did not register within 1 s");
        expect(result.stderr).toContain("k3s kubectl get nodes -o wide");
    });

    it("succeeds once the nodes are registered and Ready", () => {
        stub("k3s", 'echo "k3s $*" >> "$OUT/calls"');
        const result = run(waitForNodesScript(["node-1", "node-2"], 30));
        expect(result.status, result.stderr).toBe(0);
        expect(readFileSync(path.join(dir, "calls"), "utf8")).toMatch(/k3s kubectl wait --for=condition=Ready node node-1 node-2 --timeout=\d+s/);
    });
});

describe("benchmark tools on the k3s nodes (measurement pods install nothing)", () => {
    for (const [role, script] of [
        ["server", () => k3sServerScript({ ...server, ...onMode("vxlan") })],
        ["agent", () => k3sAgentScript({ k3sVersion: "v1.33.4+k3s1", nodeName: "node-2", nodeIp: "127.0.0.1", serverIp: "10.0.1.10", ...onMode("vxlan") })],
    ] as const) {
        it(`${role}: iperf3 and sockperf installed non-interactively, the dpkg lock awaited, iperf3's daemon question answered no`, () => {
            const result = run(script(), "tok\n");
            expect(result.status, result.stderr).toBe(0);
            const calls = readFileSync(path.join(dir, "apt"), "utf8").trim().split("\n");
            expect(calls[calls.length - 1]).toBe(`-o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends ${nodeToolPackages.join(" ")}`);
            // Debian's iperf3 templates: iperf3/start_daemon, boolean, "Start Iperf3 as a daemon automatically?"
            expect(readFileSync(path.join(dir, "debconf"), "utf8")).toBe("iperf3 iperf3/start_daemon boolean false\n");
            expect(readFileSync(path.join(dir, "args"), "utf8").split("\n")[0]).toBe(role); // k3s installed after the tools
        });
    }

    it("fails, saying why, when an iperf3 daemon runs after the install anyway", () => {
        stub("systemctl", 'if [[ "$1" == is-active ]]; then exit 0; fi; exit 1');
        const result = run(k3sServerScript({ ...server, ...onMode("vxlan") }), "tok\n");
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("an iperf3 daemon is running or enabled after the install");
    });
});

describe("load generator tools script", () => {
    it("waits for the dpkg lock that first-boot unattended-upgrades may hold, and retries the list update", () => {
        // apt-get stand-in: `update` fails twice as if another apt held the lists lock.
        stub(
            "apt-get",
            `printf '%s\\n' "$*" >> "$OUT/apt"
if [[ " $* " == *" update "* ]]; then
  n=$(cat "$OUT/updates" 2>/dev/null || echo 0); echo $((n + 1)) > "$OUT/updates"
  ((n >= 2)) || { echo "E: Could not get lock /var/lib/apt/lists/lock" >&2; exit 100; }
fi
exit 0`,
        );
        stub("sleep", "exit 0");
        const result = run(loadGeneratorScript());
        expect(result.status, result.stderr).toBe(0);
        const calls = readFileSync(path.join(dir, "apt"), "utf8").trim().split("\n");
        expect(calls).toHaveLength(4); // three updates, one install
        for (const call of calls) expect(call).toContain("-o DPkg::Lock::Timeout=600");
        expect(calls[3]).toMatch(/install -y -qq --no-install-recommends wrk iperf3 sockperf$/);
    });

    it("gives up, bounded and saying why, when the lists lock never frees", () => {
        stub("apt-get", 'echo "E: Could not get lock /var/lib/apt/lists/lock" >&2; exit 100');
        stub("sleep", "exit 0");
        const result = run(loadGeneratorScript());
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("apt-get update failed 6 times");
    });
});

describe("kernel modules the mode's tunnel needs (modes.ts Tunnel.kernelModule)", () => {
    // k3s docs, Networking, "Basic Network Options", wireguard-native: "You must ensure that
    // WireGuard kernel modules are available on every node."
    const wireguardModes = networkModes.filter((mode) => modeFacts[mode].tunnel?.kernelModule === "wireguard");
    const agent = (mode: (typeof networkModes)[number]) => k3sAgentScript({ k3sVersion: "v1.33.4+k3s1", nodeName: "node-2", nodeIp: "127.0.0.1", serverIp: "10.0.1.10", ...onMode(mode) });

    it("the table says which modes need WireGuard: the flannel wireguard-native one", () => {
        expect(wireguardModes).toEqual(["wireguard"]);
    });

    for (const [role, script] of [
        ["server", (mode: (typeof networkModes)[number]) => k3sServerScript({ ...server, ...onMode(mode) })],
        ["agent", agent],
    ] as const) {
        it(`${role}: a node whose kernel cannot load the module fails, naming module and mode, before k3s's installer or apt`, () => {
            stub("modprobe", `echo "$*" >> "$OUT/modprobe"; echo "modprobe: FATAL: Module $1 not found in directory /lib/modules/6.8.0-1012-aws" >&2; exit 1`);
            const result = run(script("wireguard"), "tok\n");
            expect(result.status).toBe(1);
            expect(result.stderr).toContain("kernel module wireguard could not be loaded: flannel WireGuard (flannel backend wireguard-native) needs it on every node");
            expect(result.stderr).toContain("Module wireguard not found"); // modprobe's own reason is kept
            expect(readFileSync(path.join(dir, "modprobe"), "utf8")).toBe("wireguard\n");
            expect(existsSync(path.join(dir, "args")), "k3s's installer ran").toBe(false);
            expect(existsSync(path.join(dir, "urls")), "something was downloaded").toBe(false);
            expect(existsSync(path.join(dir, "apt")), "apt ran").toBe(false);
        });

        it(`${role}: with the module loaded, k3s is installed`, () => {
            const result = run(script("wireguard"), "tok\n");
            expect(result.status, result.stderr).toBe(0);
            expect(readFileSync(path.join(dir, "modprobe"), "utf8")).toBe("wireguard\n");
            expect(readFileSync(path.join(dir, "args"), "utf8").split("\n")[0]).toBe(role);
        });
    }

    it("every mode loads exactly the modules its tunnel names, and no other", () => {
        for (const mode of networkModes) {
            rmSync(path.join(dir, "modprobe"), { force: true });
            const result = run(agent(mode), "tok\n");
            expect(result.status, `${mode}: ${result.stderr}`).toBe(0);
            const loaded = existsSync(path.join(dir, "modprobe")) ? readFileSync(path.join(dir, "modprobe"), "utf8").trim().split("\n") : [];
            const wanted = modeFacts[mode].tunnel?.kernelModule;
            expect(loaded, mode).toEqual(wanted ? [wanted] : []);
        }
    });

    it("the wireguard node scripts pass shellcheck", () => {
        for (const script of [k3sServerScript({ ...server, ...onMode("wireguard") }), agent("wireguard")]) {
            try {
                execFileSync("shellcheck", ["--shell=bash", "-"], { input: script, encoding: "utf8" });
            } catch (e: any) {
                throw new Error(`shellcheck:\n${e.stdout}`);
            }
        }
    });
});

describe("k3s's own images from the release's archive, not Docker Hub", () => {
    const archiveUrl = `${k3sReleaseUrl("v1.33.4+k3s1")}/${k3sAirgapImages.archive}`;
    const installed = () => path.join(dir, "images", k3sAirgapImages.archive);

    it("the release folder escapes the version's + (GitHub's download URL for v1.33.4+k3s1)", () => {
        expect(archiveUrl).toBe("https://github.com/k3s-io/k3s/releases/download/v1.33.4%2Bk3s1/k3s-airgap-images-amd64.tar.zst");
    });

    for (const [role, script] of [
        ["server", () => k3sServerScript({ ...server, ...onMode("calico") })],
        ["agent", () => k3sAgentScript({ k3sVersion: "v1.33.4+k3s1", nodeName: "node-2", nodeIp: "127.0.0.1", serverIp: "10.0.1.10", ...onMode("calico") })],
    ] as const) {
        it(`${role}: the archive of the pinned release is in k3s's images directory, checksum verified, before k3s is installed`, () => {
            const result = run(script(), "tok\n");
            expect(result.status, result.stderr).toBe(0);
            expect(readFileSync(installed(), "utf8")).toBe(archiveBytes);
            const urls = readFileSync(path.join(dir, "urls"), "utf8").trim().split("\n");
            expect(urls).toEqual([archiveUrl, `${k3sReleaseUrl("v1.33.4+k3s1")}/${k3sAirgapImages.checksums}`, "https://get.k3s.io"]);
        });
    }

    it("an archive that does not match the release's sha256 fails the node before k3s's installer, and is not installed", () => {
        curlStub(`printf '%s\\n' "$@" > "$OUT/args"`, "some other bytes");
        const result = run(k3sServerScript({ ...server, ...onMode("calico") }), "tok\n");
        expect(result.status).toBe(1);
        expect(result.stderr).toContain(`${k3sAirgapImages.archive} from ${k3sReleaseUrl("v1.33.4+k3s1")} does not match its sha256 in ${k3sAirgapImages.checksums}`);
        expect(existsSync(installed())).toBe(false);
        expect(existsSync(path.join(dir, "args")), "k3s's installer ran").toBe(false);
    });

    it("a failed download fails the node, saying what could not be fetched", () => {
        stub("curl", 'echo "curl: (22) The requested URL returned error: 404" >&2; exit 22');
        const result = run(k3sServerScript({ ...server, ...onMode("calico") }), "tok\n");
        expect(result.status).toBe(1);
        expect(result.stderr).toContain(`could not download ${k3sAirgapImages.archive} or ${k3sAirgapImages.checksums} from ${k3sReleaseUrl("v1.33.4+k3s1")}`);
        expect(existsSync(installed())).toBe(false);
    });
});
