/**
 * The kernel datapath of each lab mode as a list of `ip`/`bridge`/`sysctl`/`iptables` command
 * lines. Pure (topology in, argv out): tests read the exact commands, and the builder runs them
 * in order. What each plugin would program is cited where it is built.
 *
 * Every command names its namespace (`ip -n`, `ip netns exec`): nothing touches the host's own
 * links, routes or netfilter tables.
 */
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { modeFacts, type Tunnel } from "../components/modes";
import { inNamespace, type Step } from "./exec";
import { awsOnlyReason, isClusterMode } from "./modes";
import { measurementPorts } from "../components/measurementPorts";
import { securityGroupSteps } from "./securityGroup";
import { dockerBridge, underlaySubnet, type LabNode, type LabTopology, type LabWorkload } from "./topology";

const ip = (netns: string, ...args: string[]): Step => ({ argv: ["ip", "-n", netns, ...args] });
const inNetns = (netns: string, ...argv: string[]): Step => ({ argv: inNamespace(netns, argv) });
const sysctl = (netns: string, ...settings: string[]): Step => inNetns(netns, "sysctl", "-qw", ...settings);
const iptables = (netns: string, ...args: string[]): Step => inNetns(netns, "iptables", "-w", "5", ...args);

/** The pod gateway Calico's CNI gives every pod (a link-local address answered by the host veth). */
export const calicoGateway = "169.254.1.1";
/** The MAC Calico sets on every host-side veth. */
export const calicoHostMac = "ee:ee:ee:ee:ee:ee";
/** Calico's default AS number for the node-to-node mesh. */
export const calicoAsNumber = 64512;

/** The tunnel device the mode's plugin creates (components/modes.ts), where the lab builds one:
 * not in the baselines (no pod network for k3s's own pods) nor for Cilium (see awsOnlyReason). */
export function tunnelDevice(topology: LabTopology): string | undefined {
    if (!isClusterMode(topology.mode) || awsOnlyReason(topology.mode)) return undefined;
    return modeFacts[topology.mode].tunnel?.device;
}

/** A fixed VTEP MAC per node, so each node can be given its peer's (flannel stores it in the Node annotation). */
export function vtepMac(node: LabNode): string {
    return `0e:00:0a:2a:0${node.index}:00`;
}

/** The node's address inside its own pod subnet that the tunnel device takes (flannel: `.0/32`). */
export function tunnelAddress(node: LabNode): string {
    return node.podSubnetBase;
}

/** The underlay: one bridge (the "VPC subnet") with the nodes and the load generator on it, MTU 9001. */
export function underlaySteps(t: LabTopology): Step[] {
    const { netns, bridge } = t.underlay;
    const members = [...t.nodes.map((n) => ({ port: n.name, netns: n.netns, ip: n.ip })), { port: "loadgen", netns: t.loadGenerator.netns, ip: t.loadGenerator.ip }];
    return [
        ip(netns, "link", "set", "lo", "up"),
        ip(netns, "link", "add", bridge, "mtu", String(t.mtu.node), "type", "bridge"),
        // A plain L2 switch like the VPC: frames crossing it are not fed to this namespace's iptables
        // (the key exists only where the br_netfilter module is loaded).
        { ...sysctl(netns, "net.bridge.bridge-nf-call-iptables=0"), tolerate: /cannot stat|No such file/ },
        ip(netns, "link", "set", bridge, "up"),
        ...members.flatMap((m) => [
            ip(netns, "link", "add", m.port, "mtu", String(t.mtu.node), "type", "veth", "peer", "name", "eth0", "mtu", String(t.mtu.node), "netns", m.netns),
            ip(netns, "link", "set", m.port, "master", bridge, "up"),
            ip(m.netns, "link", "set", "lo", "up"),
            ip(m.netns, "addr", "add", `${m.ip}/${underlaySubnet.length}`, "dev", "eth0"),
            ip(m.netns, "link", "set", "eth0", "up"),
        ]),
        ...t.nodes.map((n) => sysctl(n.netns, "net.ipv4.ip_forward=1")),
    ];
}

function podsOf(t: LabTopology, node: LabNode): LabWorkload[] {
    return t.workloads.filter((w) => w.node === node.index && w.hostInterface !== undefined);
}

function vethToPod(node: LabNode, pod: LabWorkload, mtu: number, hostMac?: string): Step[] {
    const mac = hostMac ? ["address", hostMac] : [];
    return [
        ip(node.netns, "link", "add", pod.hostInterface!, ...mac, "mtu", String(mtu), "type", "veth", "peer", "name", "eth0", "mtu", String(mtu), "netns", pod.netns),
        ip(pod.netns, "link", "set", "lo", "up"),
    ];
}

/**
 * Pods on a bridge that owns the subnet gateway: flannel's `cni0` (k3s) or Docker's `docker0`.
 * Every pod's port is in hairpin mode, as both set it: k3s's flannel CNI config delegates to the
 * bridge plugin with `"hairpinMode": true` (k3s pkg/agent/flannel/setup_linux.go `cniConf`), and
 * Docker with `--userland-proxy=false` sets hairpin on each endpoint's host veth (moby
 * libnetwork drivers/bridge/bridge.go `CreateEndpoint`: `if !config.EnableUserlandProxy
 * { setHairpinMode(...) }`). Without it a pod that reaches its own service or published port
 * through its node (DNAT back to itself) never gets an answer (lab/datapath.root.test.ts).
 */
function bridgedPods(t: LabTopology, bridge: string, gateway: (n: LabNode) => string, prefixLength: number): Step[] {
    return t.nodes.flatMap((node) => [
        ip(node.netns, "link", "add", bridge, "mtu", String(t.mtu.pod), "type", "bridge"),
        ip(node.netns, "addr", "add", `${gateway(node)}/${prefixLength}`, "dev", bridge),
        ip(node.netns, "link", "set", bridge, "up"),
        ...podsOf(t, node).flatMap((pod) => [
            ...vethToPod(node, pod, t.mtu.pod),
            ip(node.netns, "link", "set", pod.hostInterface!, "master", bridge, "up"),
            ip(node.netns, "link", "set", pod.hostInterface!, "type", "bridge_slave", "hairpin", "on"),
            ip(pod.netns, "addr", "add", `${pod.ip}/${prefixLength}`, "dev", "eth0"),
            ip(pod.netns, "link", "set", "eth0", "up"),
            ip(pod.netns, "route", "add", "default", "via", gateway(node)),
        ]),
    ]);
}

/** Calico's CNI: a routed veth per pod, /32 on both ends, the pod's default route via 169.254.1.1
 * on the host veth (MAC ee:ee:ee:ee:ee:ee). Felix turns on proxy ARP for that gateway; the lab's
 * nodes have no default route for proxy ARP to match, so the pod gets the gateway's neighbour
 * entry pinned instead — the same frames on the wire. */
function calicoPods(t: LabTopology): Step[] {
    return t.nodes.flatMap((node) =>
        podsOf(t, node).flatMap((pod) => [
            ...vethToPod(node, pod, t.mtu.pod, calicoHostMac),
            ip(node.netns, "link", "set", pod.hostInterface!, "up"),
            sysctl(node.netns, `net.ipv4.conf.${pod.hostInterface}.proxy_arp=1`, `net.ipv4.neigh.${pod.hostInterface}.proxy_delay=0`),
            ip(node.netns, "route", "add", `${pod.ip}/32`, "dev", pod.hostInterface!, "scope", "link"),
            ip(pod.netns, "addr", "add", `${pod.ip}/32`, "dev", "eth0"),
            ip(pod.netns, "link", "set", "eth0", "up"),
            ip(pod.netns, "route", "add", calicoGateway, "dev", "eth0", "scope", "link"),
            ip(pod.netns, "route", "add", "default", "via", calicoGateway, "dev", "eth0"),
            ip(pod.netns, "neigh", "add", calicoGateway, "lladdr", calicoHostMac, "dev", "eth0", "nud", "permanent"),
        ]),
    );
}

/** Pods attached to their node as the mode's CNI plugin attaches them. */
export function podSteps(t: LabTopology): Step[] {
    switch (t.attachment) {
        case "cni-bridge":
            // flannel's CNI config delegates to the bridge plugin: cni0 holds the subnet's .1 (k3s).
            return bridgedPods(t, "cni0", (n) => n.podSubnetBase.replace(/\.0$/, ".1"), 24);
        case "calico-veth":
            return calicoPods(t);
        case "cilium-ebpf":
            throw new Error(`${t.mode}: ${awsOnlyReason(t.mode)}`);
        case "docker-bridge":
            return bridgedPods(t, "docker0", () => dockerBridge.gateway, dockerBridge.length);
        case "host-network":
            return [];
    }
}

/** A VXLAN VTEP per node with the peer's neighbour, FDB and onlink route, as flannel's vxlan
 * backend (and Calico's VXLAN mode) program them: the route sends the peer's pod subnet to the
 * peer's VTEP address, a permanent ARP entry maps it to the peer VTEP MAC, and the FDB entry
 * maps that MAC to the peer node's underlay address. No learning, no multicast. */
function vxlanSteps(t: LabTopology, tunnel: Tunnel): Step[] {
    const device = tunnel.device;
    return t.nodes.flatMap((node) => [
        ip(
            node.netns,
            "link",
            "add",
            device,
            "address",
            vtepMac(node),
            "mtu",
            String(t.mtu.node - tunnel.overhead),
            "type",
            "vxlan",
            "id",
            String(tunnel.vni),
            "local",
            node.ip,
            "dev",
            "eth0",
            "dstport",
            String(tunnel.port),
            "nolearning",
        ),
        ip(node.netns, "addr", "add", `${tunnelAddress(node)}/32`, "dev", device),
        ip(node.netns, "link", "set", device, "up"),
        ...t.nodes
            .filter((peer) => peer.index !== node.index)
            .flatMap((peer) => [
                ip(node.netns, "neigh", "add", tunnelAddress(peer), "lladdr", vtepMac(peer), "dev", device, "nud", "permanent"),
                { argv: ["bridge", "-n", node.netns, "fdb", "append", vtepMac(peer), "dev", device, "dst", peer.ip, "self", "permanent"] },
                ip(node.netns, "route", "add", peer.podSubnet, "via", tunnelAddress(peer), "dev", device, "onlink"),
            ]),
    ]);
}

/** Calico's IP-in-IP device: the kernel's `tunl0` (remote any), an address from the node's block;
 * routes through it arrive from BIRD (see bird.ts). */
function ipipSteps(t: LabTopology, tunnel: Tunnel): Step[] {
    const device = tunnel.device;
    return t.nodes.flatMap((node) => [
        // Loading the ipip module gives every namespace a `tunl0`; create it where it does not exist yet.
        { ...ip(node.netns, "link", "add", device, "type", "ipip"), tolerate: /File exists/ },
        ip(node.netns, "link", "set", device, "mtu", String(t.mtu.node - tunnel.overhead), "up"),
        ip(node.netns, "addr", "add", `${tunnelAddress(node)}/32`, "dev", device),
    ]);
}

/**
 * A WireGuard key pair per lab node, derived from the run id so the steps stay a pure function:
 * any 32 bytes are an X25519 private key (WireGuard clamps them, as `wg genkey` output is),
 * and the public key is X25519's, computed by Node's crypto (RFC 7748). Lab-only keys.
 */
export function wireguardKeys(t: LabTopology, node: LabNode): { privateKey: string; publicKey: string } {
    const secret = createHash("sha256").update(`${t.prefix}-${node.name}-wireguard`).digest();
    // PKCS#8 wrapping of a raw X25519 private key: a fixed 16-byte prefix (RFC 8410, section 7).
    const der = Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), secret]);
    const jwk = createPublicKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" })).export({ format: "jwk" });
    return { privateKey: secret.toString("base64"), publicKey: Buffer.from(String(jwk.x), "base64url").toString("base64") };
}

/**
 * flannel's wireguard-native backend: a `flannel-wg` device with the node's lease address /32, a
 * scope-link route for the whole pod range through it (the local /24 on cni0 is more specific),
 * and the peer with its node address as endpoint and its pod subnet as allowed IPs
 * (flannel-io/flannel pkg/backend/wireguard device.go: Configure, addRoute, addPeer; port and
 * overhead from components/modes.ts).
 */
function wireguardSteps(t: LabTopology, tunnel: Tunnel): Step[] {
    const device = tunnel.device;
    return t.nodes.flatMap((node) => {
        const peers = t.nodes.filter((peer) => peer.index !== node.index);
        const peerArgs = peers.flatMap((peer) => ["peer", wireguardKeys(t, peer).publicKey, "endpoint", `${peer.ip}:${tunnel.port}`, "allowed-ips", peer.podSubnet]);
        // `wg` reads the private key from a file; a process substitution keeps it off the disk.
        const wg = `wg set ${device} listen-port ${tunnel.port} private-key <(printf '%s' '${wireguardKeys(t, node).privateKey}') ${peerArgs.join(" ")}`;
        return [
            ip(node.netns, "link", "add", device, "mtu", String(t.mtu.node - tunnel.overhead), "type", "wireguard"),
            inNetns(node.netns, "bash", "-c", wg),
            ip(node.netns, "addr", "add", `${tunnelAddress(node)}/32`, "dev", device),
            ip(node.netns, "link", "set", device, "up"),
            ip(node.netns, "route", "add", t.podCidr, "dev", device, "scope", "link"),
        ];
    });
}

/** How pod packets cross between the nodes in this mode (BGP modes: see bird.ts for the routes). */
export function crossNodeSteps(t: LabTopology): Step[] {
    if (!isClusterMode(t.mode)) return [];
    const tunnel = modeFacts[t.mode].tunnel;
    // The tunnel's kind is the kernel's link type (`ip link add … type vxlan|ipip|wireguard`).
    if (tunnel?.kind === "vxlan") return vxlanSteps(t, tunnel);
    if (tunnel?.kind === "ipip") return ipipSteps(t, tunnel);
    if (tunnel?.kind === "wireguard") return wireguardSteps(t, tunnel);
    if (modeFacts[t.mode].bgp) return []; // calico without encapsulation: BIRD installs the routes
    // flannel host-gw: the peer's pod subnet via the peer's node address (needs L2 adjacency).
    return t.nodes.flatMap((node) => t.nodes.filter((peer) => peer.index !== node.index).map((peer) => ip(node.netns, "route", "add", peer.podSubnet, "via", peer.ip, "dev", "eth0")));
}

/** The mark kube-proxy uses to flag NodePort traffic for masquerading (KUBE-MARK-MASQ). */
const masqueradeMark = "0x4000/0x4000";

/**
 * kube-proxy's iptables NodePort, reduced to one Service: any local address on the NodePort is
 * marked for masquerade and DNATed to a frontend pod chosen at random (statistic match, one rule
 * per endpoint like KUBE-SVC-…), so half the requests cross to the other node as on k3s with
 * `externalTrafficPolicy: Cluster`.
 */
function nodePortRules(t: LabTopology, node: LabNode): Step[] {
    const frontends = t.workloads.filter((w) => w.role === "frontend");
    const chain = "LAB-NODEPORT";
    const dnat = frontends.map((fe, i) => {
        const left = frontends.length - i;
        const pick = left > 1 ? ["-m", "statistic", "--mode", "random", "--probability", (1 / left).toFixed(5)] : [];
        return iptables(node.netns, "-t", "nat", "-A", chain, "-p", "tcp", ...pick, "-j", "DNAT", "--to-destination", `${fe.ip}:${fe.port}`);
    });
    const match = ["-p", "tcp", "-m", "addrtype", "--dst-type", "LOCAL", "--dport", String(t.servicePort)];
    return [
        iptables(node.netns, "-t", "nat", "-N", chain),
        iptables(node.netns, "-t", "nat", "-A", "PREROUTING", ...match, "-j", chain),
        iptables(node.netns, "-t", "nat", "-A", "OUTPUT", ...match, "-j", chain),
        iptables(node.netns, "-t", "nat", "-A", chain, "-j", "MARK", "--set-xmark", masqueradeMark),
        ...dnat,
        iptables(node.netns, "-t", "nat", "-A", "POSTROUTING", "-m", "mark", "--mark", masqueradeMark, "-j", "MASQUERADE"),
    ];
}

/**
 * Docker's published ports with `--userland-proxy=false`: DNAT from any local address (also for
 * the host's own connections), masquerade for containers leaving the bridge. A container reaching
 * a port published on its own host (frontend → leader on node 1) is sent back onto docker0; Docker
 * relies on docker-proxy or br_netfilter for the reply, the lab masquerades that hairpin instead,
 * so it does not depend on a host-wide kernel module.
 */
function publishedPortRules(t: LabTopology, node: LabNode): Step[] {
    const containers = podsOf(t, node);
    const published: { protocol: "tcp" | "udp"; hostPort: number; to: string }[] = containers.map((c) => ({
        protocol: "tcp",
        hostPort: c.role === "frontend" ? t.servicePort : c.port,
        to: `${c.ip}:${c.port}`,
    }));
    // The runner's iperf3 and sockperf servers run in the frontend container and are reached at the
    // node's address, as the paper measured bridge cross-host: `docker run -p 5201:5201 -p 5201:5201/udp -p 11111:11111`.
    const frontend = containers.find((c) => c.role === "frontend");
    if (frontend) {
        const port = (protocol: "tcp" | "udp", p: number) => ({ protocol, hostPort: p, to: `${frontend.ip}:${p}` });
        published.push(port("tcp", measurementPorts.iperf3.first), port("udp", measurementPorts.iperf3.first), port("tcp", measurementPorts.sockperf.first));
    }
    return [
        iptables(node.netns, "-t", "nat", "-N", "DOCKER"),
        iptables(node.netns, "-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"),
        iptables(node.netns, "-t", "nat", "-A", "OUTPUT", "!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"),
        iptables(node.netns, "-t", "nat", "-A", "POSTROUTING", "-s", `${dockerBridge.prefix}.0/${dockerBridge.length}`, "!", "-o", "docker0", "-j", "MASQUERADE"),
        iptables(node.netns, "-t", "nat", "-A", "POSTROUTING", "-o", "docker0", "-m", "conntrack", "--ctstate", "DNAT", "-s", `${dockerBridge.prefix}.0/${dockerBridge.length}`, "-j", "MASQUERADE"),
        ...published.map((p) => iptables(node.netns, "-t", "nat", "-A", "DOCKER", "-p", p.protocol, "--dport", String(p.hostPort), "-j", "DNAT", "--to-destination", p.to)),
    ];
}

/**
 * How clients reach the frontends on each node: NodePort (cluster), published ports (bridge), none
 * (host). With a Service proxy mode the NodePort is kube-proxy's full rule set instead, which the
 * lab installs after these steps (lab/serviceProxy.ts; Lab.build), so none is built here.
 */
export function serviceSteps(t: LabTopology): Step[] {
    switch (t.attachment) {
        case "host-network":
            return [];
        case "docker-bridge":
            return t.nodes.flatMap((n) => publishedPortRules(t, n));
        default:
            return t.serviceProxy ? [] : t.nodes.flatMap((n) => nodePortRules(t, n));
    }
}

/**
 * The frontends open a new Redis connection per request, as upstream's guestbook.php does, and
 * close it first, so each request leaves a TIME_WAIT socket to the same Redis address and port
 * behind for 60 s. At the thousands of requests per second the lab's wrk drives, that fills
 * the 28 232 ephemeral ports in seconds, and connect() then spends its time searching for a
 * free one (measured: 5 700 reads/s in the first second, about 500 after, at 2 CPU-ms each).
 * `tcp_tw_reuse = 1` lets a new outgoing connection take over a TIME_WAIT port when TCP
 * timestamps show it is safe (kernel Documentation/networking/ip-sysctl.rst; the default, 2,
 * allows it only on loopback). Set in the frontends' namespaces only; per network namespace.
 */
function frontendSysctls(t: LabTopology): Step[] {
    return [...new Set(t.workloads.filter((w) => w.role === "frontend").map((w) => w.netns))].map((ns) => sysctl(ns, "net.ipv4.tcp_tw_reuse=1"));
}

/** Every step that builds the mode's network, in order (namespaces must exist already); last,
 * the stack's security group on each node's underlay interface (lab/securityGroup.ts). */
export function datapathSteps(t: LabTopology): Step[] {
    return [...underlaySteps(t), ...podSteps(t), ...crossNodeSteps(t), ...serviceSteps(t), ...frontendSysctls(t), ...securityGroupSteps(t)];
}

/** The routes a BGP mode must have learned on `node` before its datapath is complete. */
export function expectedBgpRoutes(t: LabTopology, node: LabNode): string[] {
    if (!isClusterMode(t.mode) || !modeFacts[t.mode].bgp) return [];
    return t.nodes.filter((p) => p.index !== node.index).map((p) => p.podSubnet);
}
