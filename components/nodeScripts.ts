/**
 * The scripts that run on the instances, as small pure functions (args in, text out) so the
 * tests read the exact text and shellcheck lints it. Each script runs as root through
 * `runAsRoot`. No secret ever appears in a script: the k3s token arrives on standard input
 * (sshd on Ubuntu only accepts LANG/LC_* variables, so @pulumi/command's `environment` would
 * be dropped — its docs say it needs AcceptEnv).
 */
import type { ModeFacts } from "./modes";
import { runsKubeProxy, type ServiceProxyMode } from "./serviceProxy";

/** The upstream installer; it verifies the binary's sha256 against the release. */
export const k3sInstallerUrl = "https://get.k3s.io";

/** Kubernetes node names: outputs, pod placement and the scripts all use these. */
export const nodeNames = { server: "node-1", agent: "node-2" } as const;

/**
 * The same kube-proxy settings on both nodes, spelled out so no default can differ: its proxy mode.
 * k3s passes each `--kube-proxy-arg` to its embedded kube-proxy over its own defaults (k3s-io/k3s
 * pkg/daemons/agent/agent_linux.go kubeProxyArgs, "proxy-mode": "iptables"). The nftables mode
 * (GA in Kubernetes 1.33) drives the kernel through the `nft` binary (kubernetes pkg/proxy/nftables
 * uses sigs.k8s.io/knftables, which execs `nft`); k3s ships one in its data directory since
 * k3s-root v0.14.1 (k3s-io/k3s-root commit 1f35cfd "Add nftables binary", scripts/package copies
 * usr/sbin/nft to bin/aux; k3s-io/k3s#11267) and puts bin/aux at the end of kube-proxy's PATH
 * (k3s-io/k3s cmd/k3s/main.go stageAndRun), so the node needs no package for it.
 */
export function kubeProxyArgs(proxy: ServiceProxyMode): string[] {
    return runsKubeProxy(proxy) ? [`proxy-mode=${proxy}`] : [];
}

/** How long a node may take to become Ready before `pulumi up` fails with diagnostics. */
export const nodeReadyTimeoutSeconds = 600;

export interface K3sNodeArgs {
    readonly k3sVersion: string;
    readonly nodeName: string;
    /** The instance's private address; flannel/Calico use the NIC that holds it. */
    readonly nodeIp: string;
    /** The mode's facts: which pod network the node runs. */
    readonly facts: ModeFacts;
    /** Who implements Services (one the mode allows; settings.ts checked it). */
    readonly serviceProxy: ServiceProxyMode;
}

export interface K3sServerArgs extends K3sNodeArgs {
    readonly podCidr: string;
    /** Public address added to the API certificate, so the exported kubeconfig verifies. */
    readonly publicIp: string;
}

export interface K3sAgentArgs extends K3sNodeArgs {
    readonly serverIp: string;
}

/** One shell word, whatever it contains: single-quoted, with embedded quotes closed and escaped. */
export function shellQuote(word: string): string {
    return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Wraps a root script for an SSH session that logs in as the unprivileged image user. */
export function runAsRoot(script: string): string {
    return `sudo bash -c ${shellQuote(script)}`;
}

/** Shared prologue: strict mode, wait for cloud-init's own apt runs, find the node's NIC. */
function prologue(nodeIp: string): string {
    return `#!/usr/bin/env bash
set -euo pipefail
# cloud-init may still hold the apt/dpkg locks on first boot.
cloud-init status --wait >/dev/null || true
node_ip='${nodeIp}'
# The NIC that carries the node IP (ens5 on Nitro instances, but never assumed): flannel
# otherwise picks the default-route interface.
iface=$(ip -o -4 addr show | awk -v ip="$node_ip" '{split($4, a, "/"); if (a[1] == ip) {print $2; exit}}')
if [[ -z "$iface" ]]; then
  echo "no interface holds $node_ip" >&2
  exit 1
fi
# The cluster token arrives on standard input, never on the command line or in the script.
IFS= read -r K3S_TOKEN
export K3S_TOKEN
`;
}

function commonFlags(args: K3sNodeArgs): string[] {
    return [
        `--node-name=${args.nodeName}`,
        `--node-ip="$node_ip"`,
        `--flannel-iface="$iface"`,
        // Without kube-proxy (Cilium replaces it) there is nothing to pass arguments to.
        ...kubeProxyArgs(args.serviceProxy).map((arg) => `--kube-proxy-arg=${arg}`),
    ];
}

/** k3s server flags for a mode (docs/facts.md: --flannel-backend is server-only). */
export function k3sServerFlags(args: K3sServerArgs): string[] {
    const flags = [
        "server",
        ...commonFlags(args),
        `--tls-san=${args.publicIp}`,
        `--cluster-cidr=${args.podCidr}`,
        `--flannel-backend=${args.facts.flannelBackend}`,
        // The seed clusters ran no ingress or service load balancer: the NLB reaches a NodePort.
        "--disable=traefik,servicelb",
    ];
    if (args.facts.flannelBackend === "none") {
        // Calico and Cilium enforce policy themselves; k3s's embedded policy controller would
        // fight them (k3s docs, "Custom CNI"; Cilium's k3s installation guide).
        flags.push("--disable-network-policy");
    }
    if (!runsKubeProxy(args.serviceProxy)) {
        // Cilium's k3s guide: "If running Cilium in kube-proxy-free mode, add option
        // --disable-kube-proxy" (a server option; agents take it from the server).
        flags.push("--disable-kube-proxy");
    }
    return flags;
}

export function k3sAgentFlags(args: K3sAgentArgs): string[] {
    return ["agent", ...commonFlags(args)];
}

/** How long the installer may take, service start included: `systemctl start` blocks until k3s
 * reports ready, and an agent that cannot reach its server would otherwise wait forever. */
export const k3sInstallTimeoutSeconds = 600;

function installK3s(version: string, flags: readonly string[], extraEnv: string, unit: string, timeoutSeconds: number): string {
    return `if ! curl -sfL --max-time 60 ${k3sInstallerUrl} | INSTALL_K3S_VERSION='${version}'${extraEnv} timeout ${timeoutSeconds} sh -s - \\
  ${flags.join(" \\\n  ")}
then
  echo "k3s install failed or took over ${timeoutSeconds} s; last log lines of ${unit}:" >&2
  journalctl -u ${unit} --no-pager -n 50 >&2 || true
  exit 1
fi
`;
}

/**
 * Loads the kernel module the mode's tunnel needs (modes.ts, Tunnel.kernelModule) before anything
 * else, so a node without it fails here, naming it, instead of running k3s with a dead tunnel.
 * modprobe also succeeds for a module built into the kernel (kmod, tools/modprobe.c: a built-in
 * module is reported, not an error).
 */
export function kernelModuleCheck(facts: ModeFacts): string {
    const tunnel = facts.tunnel;
    if (!tunnel?.kernelModule) return "";
    const module = tunnel.kernelModule;
    return `# ${tunnel.owner} runs on the kernel's ${module}: k3s requires the module on every node.
if ! modprobe ${module}; then
  echo "kernel module ${module} could not be loaded: ${tunnel.owner} (flannel backend ${facts.flannelBackend}) needs it on every node" >&2
  exit 1
fi
`;
}

/** Where k3s imports image archives from when it starts (docs.k3s.io/installation/airgap,
 * "Manually Deploy Images": the agent's images directory, archive placed before the install). */
export const k3sImagesDir = "/var/lib/rancher/k3s/agent/images";

/** The release's archive of k3s's own images and its checksum list, for x86_64: every comparison
 * instance type is x86_64 and the AMI is Ubuntu's amd64 one (nodePair.ts). */
export const k3sAirgapImages = { archive: "k3s-airgap-images-amd64.tar.zst", checksums: "sha256sum-amd64.txt" } as const;

/** A k3s release's download folder on GitHub ("+" in the version is escaped in the URL). */
export function k3sReleaseUrl(version: string): string {
    return `https://github.com/k3s-io/k3s/releases/download/${encodeURIComponent(version)}`;
}

/**
 * Puts the release's image archive where k3s imports it at start, after checking it against the
 * release's sha256 list. k3s's own images (the pause sandbox of every pod, CoreDNS,
 * local-path-provisioner, metrics-server) are on Docker Hub, which gives anonymous clients 10
 * pulls an hour per IPv4 address (docs.docker.com, Docker Hub "Usage and limits"); the archive is
 * exactly the release's scripts/airgap/image-list.txt, published beside it as k3s-images.txt
 * (k3s-io/k3s scripts/package-airgap), so none of them is pulled. GitHub serves it, not Docker Hub.
 */
function k3sImagesArchive(version: string): string {
    const { archive, checksums } = k3sAirgapImages;
    return `# k3s's own images from the release's archive: Docker Hub allows 10 anonymous pulls an hour.
release='${k3sReleaseUrl(version)}'
images_tmp=$(mktemp -d)
trap 'rm -rf "$images_tmp"' EXIT
if ! curl -sfL --max-time 600 -o "$images_tmp/${archive}" "$release/${archive}" ||
  ! curl -sfL --max-time 60 -o "$images_tmp/${checksums}" "$release/${checksums}"; then
  echo "could not download ${archive} or ${checksums} from $release" >&2
  exit 1
fi
if ! (cd "$images_tmp" && grep ' ${archive}$' ${checksums} | sha256sum --check --strict --status); then
  echo "${archive} from $release does not match its sha256 in ${checksums} (or is not listed there)" >&2
  exit 1
fi
mkdir -p ${k3sImagesDir}
mv "$images_tmp/${archive}" ${k3sImagesDir}/
`;
}

/** The benchmark tools on a k3s node (see nodeToolPackages). */
function nodeTools(): string {
    return aptInstallScript(nodeToolPackages, [...nodeToolPackages, ...nodeBaseCommands]);
}

export function k3sServerScript(args: K3sServerArgs): string {
    return `${prologue(args.nodeIp)}
${kernelModuleCheck(args.facts)}${nodeTools()}
${k3sImagesArchive(args.k3sVersion)}
${installK3s(args.k3sVersion, k3sServerFlags(args), "", "k3s", k3sInstallTimeoutSeconds)}
# The API answers before the node object exists; wait for it before the kubeconfig is handed out.
for _ in $(seq 1 120); do
  k3s kubectl get node '${args.nodeName}' >/dev/null 2>&1 && exit 0
  sleep 2
done
echo "k3s server did not register node ${args.nodeName} within 240 s" >&2
journalctl -u k3s --no-pager -n 50 >&2
exit 1
`;
}

export function k3sAgentScript(args: K3sAgentArgs): string {
    return `${prologue(args.nodeIp)}
${kernelModuleCheck(args.facts)}${nodeTools()}
${k3sImagesArchive(args.k3sVersion)}
${installK3s(args.k3sVersion, k3sAgentFlags(args), ` K3S_URL='https://${args.serverIp}:6443'`, "k3s-agent", k3sAgentInstallTimeoutSeconds)}`;
}

/** Prints the admin kubeconfig (the caller rewrites its server URL and keeps it secret). */
export const readKubeconfigScript = "cat /etc/rancher/k3s/k3s.yaml";

/**
 * Bounded wait until both nodes are registered and Ready. With --flannel-backend=none nodes
 * stay NotReady until Calico runs, so this runs after the pod network is installed.
 */
export function waitForNodesScript(nodeNamesToWaitFor: readonly string[], timeoutSeconds: number): string {
    return `#!/usr/bin/env bash
set -euo pipefail
deadline=$((SECONDS + ${timeoutSeconds}))
for node in ${nodeNamesToWaitFor.join(" ")}; do
  until k3s kubectl get node "$node" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "node $node did not register within ${timeoutSeconds} s" >&2
      k3s kubectl get nodes -o wide >&2 || true
      exit 1
    fi
    sleep 5
  done
done
remaining=$((deadline - SECONDS))
if ((remaining < 1)) || ! k3s kubectl wait --for=condition=Ready node ${nodeNamesToWaitFor.join(" ")} --timeout="\${remaining}s"; then
  echo "nodes were not Ready within ${timeoutSeconds} s; the pod network is the usual cause:" >&2
  k3s kubectl get nodes -o wide >&2 || true
  k3s kubectl get pods -A -o wide >&2 || true
  exit 1
fi
`;
}

/** Ubuntu packages the load generator needs: HTTP load, bulk throughput, request/response latency. */
export const loadGeneratorPackages = ["wrk", "iperf3", "sockperf"] as const;

/**
 * Ubuntu packages the k3s nodes carry for the benchmark runner, which runs them on the node,
 * inside a measurement pod's network namespace (bench/sessions/pod-netns.ts), so pods need no image of
 * their own and no apt. Both are in Ubuntu 24.04's universe archive: iperf3 3.16-1build2
 * (https://packages.ubuntu.com/noble/iperf3) and sockperf 3.7-1
 * (https://packages.ubuntu.com/noble/sockperf); the AMI's sources include universe.
 */
export const nodeToolPackages = ["iperf3", "sockperf"] as const;

/**
 * What else the runner runs in a pod's namespace or on a node (bench/measure/commands.ts: `ip route get`,
 * `timeout`, `setsid`, `nsenter`, awk, getconf): iproute2, coreutils, util-linux, mawk and libc-bin
 * ship with every Ubuntu server image, so they are checked, not installed.
 */
export const nodeBaseCommands = ["ip", "timeout", "setsid", "nsenter", "awk", "getconf"] as const;

/** How long apt waits for another apt/dpkg run (unattended-upgrades on first boot) to finish. */
export const aptLockWaitSeconds = 600;

/** The agent installs beside the server and its service start blocks until it has joined (the
 * installer makes the unit Type=notify; k3s install.sh), so it may also wait out the server's own
 * worst case: the dpkg lock, then the server's installer. */
export const k3sAgentInstallTimeoutSeconds = aptLockWaitSeconds + k3sInstallTimeoutSeconds;

/**
 * Installs Ubuntu packages on first boot (bash, as root), then checks that each command is there.
 * On a fresh Ubuntu, unattended-upgrades (apt-daily) can hold the dpkg and package-list locks
 * long after cloud-init reports done: apt waits for them (apt.conf(5), DPkg::Lock::Timeout)
 * instead of failing, and the list update is retried, bounded, since it also takes the lists lock.
 * iperf3's package asks one debconf question, `iperf3/start_daemon` ("Start Iperf3 as a daemon
 * automatically?", boolean, default false: Debian's iperf3 templates and config script): it is
 * answered false before the install, and the script fails if an iperf3 service runs anyway (a
 * daemon on 5201 would take the port the runner's servers need).
 */
export function aptInstallScript(packages: readonly string[], commands: readonly string[] = packages): string {
    return `export DEBIAN_FRONTEND=noninteractive
apt_wait=(-o DPkg::Lock::Timeout=${aptLockWaitSeconds})
for attempt in 1 2 3 4 5 6; do
  apt-get "\${apt_wait[@]}" update -qq && break
  if ((attempt == 6)); then
    echo "apt-get update failed 6 times; is another apt run holding the package lists?" >&2
    exit 1
  fi
  sleep 10
done
echo 'iperf3 iperf3/start_daemon boolean false' | debconf-set-selections
apt-get "\${apt_wait[@]}" install -y -qq --no-install-recommends ${packages.join(" ")} >/dev/null
for tool in ${commands.join(" ")}; do
  command -v "$tool" >/dev/null || { echo "$tool missing after install" >&2; exit 1; }
done
if systemctl is-active --quiet iperf3.service || systemctl is-enabled --quiet iperf3.service; then
  echo "an iperf3 daemon is running or enabled after the install; it would hold the benchmark's port" >&2
  exit 1
fi
`;
}

export function loadGeneratorScript(): string {
    return `#!/usr/bin/env bash
set -euo pipefail
cloud-init status --wait >/dev/null || true
${aptInstallScript(loadGeneratorPackages)}`;
}

/** The instance's SSH host key (OpenSSH's ED25519 public key line), recorded at first contact so
 * that later connections (the benchmark runner) can pin it instead of trusting any key. */
export const readHostKeyScript = "cat /etc/ssh/ssh_host_ed25519_key.pub";
