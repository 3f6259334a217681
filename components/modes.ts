/**
 * Everything that differs between network modes, in one table. Components, the benchmark
 * runner and the local lab read it; nobody else branches on a mode name.
 *
 * Sources: docs/facts.md (k3s flags, flannel and Calico ports, MTUs, AWS quirks).
 */
import { guestbookPorts } from "./podPorts";
import { serviceProxyRunner, type ServiceProxyMode } from "./serviceProxy";

/** Kubernetes pod networks first, then the first field report's two baselines (docs/field-reports.md §1). */
export const networkModes = ["vxlan", "host-gw", "wireguard", "calico", "calico-ipip", "calico-vxlan", "cilium", "cilium-native", "host", "bridge"] as const;
export type NetworkMode = (typeof networkModes)[number];

/** A protocol as an AWS security-group rule spells it ("4" is IP-in-IP). */
export type RuleProtocol = "tcp" | "udp" | "icmp" | "4";

/** Traffic one node must admit from the other, with the reason it exists. */
export interface NodeTraffic {
    readonly protocol: RuleProtocol;
    /** First port; the ICMP type for ICMP; 0 for protocols without ports (IP-in-IP). */
    readonly fromPort: number;
    /** Last port; the ICMP code for ICMP. */
    readonly toPort: number;
    readonly why: string;
}

/** An encapsulation tunnel between the nodes, as the kernel sees it. */
export interface Tunnel {
    readonly kind: "vxlan" | "ipip" | "wireguard";
    /** VXLAN network identifier; absent where the plugin varies it (Cilium carries the source
     * security identity in the VNI) or the tunnel has none. */
    readonly vni?: number;
    /** UDP destination port (VXLAN, WireGuard). */
    readonly port?: number;
    /** Bytes the outer headers take from the node MTU. */
    readonly overhead: number;
    /** Who puts these frames on the wire, for security-group rule descriptions. */
    readonly owner: string;
    /** The tunnel device the plugin creates on each node (the lab builds it under this name). */
    readonly device: string;
    /** A kernel module the tunnel needs on every node, which upstream requires to be there before
     * the cluster starts: the node script loads it and fails, naming it, when it cannot. */
    readonly kernelModule?: string;
}

/**
 * How the guestbook is attached to the network: what the comparison measures.
 * - "pod-network": pods on the mode's pod network behind Services; the load balancer reaches a
 *   NodePort through the mode's Service proxy (every Kubernetes row of the field report).
 * - "host-network": no container network and no NAT: hostNetwork pods that listen on the
 *   nodes' own addresses (the report's VM and Mesos HOST rows; Docker `--network host`).
 * - "published-ports": pods on the node's bridge (the k3s flannel CNI's cni0) whose ports are
 *   published on the node by DNAT, as Docker's `-p` does (the report's Mesos BRIDGE row): the
 *   CNI portmap plugin, which k3s chains after flannel in its CNI config (k3s-io/k3s
 *   pkg/agent/flannel/setup_linux.go, cniConf: flannel, portmap with portMappings, bandwidth),
 *   turns a container's `hostPort` into that DNAT: PREROUTING and OUTPUT jump to
 *   CNI-HOSTPORT-DNAT for `--dst-type LOCAL`, which rewrites to the container's IP and port, and
 *   hairpin traffic from the container itself is masqueraded (containernetworking/plugins
 *   plugins/meta/portmap/README.md, "Rule structure"; vendored by k3s).
 * The two baselines run one frontend per node and reach Redis at node addresses, never through
 * a Service, CoreDNS or the pod network between the nodes (docs/baselines.md).
 */
export type GuestbookAttachment = { readonly kind: "pod-network" } | { readonly kind: "host-network" | "published-ports"; readonly frontendPort: number };

export interface ModeFacts {
    /** How the guestbook reaches clients and Redis; see GuestbookAttachment. */
    readonly guestbook: GuestbookAttachment;
    readonly plugin: "flannel" | "calico" | "cilium";
    /** One line for reports and the README. */
    readonly description: string;
    /** k3s `--flannel-backend`; "none" hands the pod network to Calico or Cilium. The baselines
     * keep k3s's default (vxlan) for the cluster's own pods (CoreDNS, metrics-server, the
     * benchmark's pod-network probes); the guestbook does not use it. */
    readonly flannelBackend: "vxlan" | "host-gw" | "wireguard-native" | "none";
    /** The Service proxies a stack of this mode may choose (stack config `serviceProxy`), its
     * default first: kube-proxy's iptables or nftables mode wherever k3s runs kube-proxy, Cilium's
     * eBPF kube-proxy replacement in the Cilium modes (k3s then runs with --disable-kube-proxy).
     * All of a mode's proxies have one runner (serviceProxy.ts serviceProxyRunner). */
    readonly serviceProxies: readonly [ServiceProxyMode, ...ServiceProxyMode[]];
    /** Calico Installation settings (Calico modes only). */
    readonly calico?: { readonly encapsulation: "None" | "IPIP" | "VXLAN"; readonly bgp: "Enabled" | "Disabled" };
    /** Cilium's routing mode (Cilium modes only): its VXLAN tunnel, or native routes between nodes. */
    readonly cilium?: { readonly routingMode: "tunnel" | "native" };
    /** Encapsulation between nodes; undefined when pod IPs are routed natively. */
    readonly tunnel?: Tunnel;
    /** Pod routes are exchanged over BGP (TCP 179) between the nodes. */
    readonly bgp: boolean;
    /** Control-plane traffic the nodes must admit from each other beyond k3s's own and the
     * tunnel's (which `tunnelTraffic` derives from `tunnel`, so each port is written once). */
    readonly nodeTraffic: readonly NodeTraffic[];
}

/**
 * Who forwards NodePort traffic to a frontend on the other node, by `serviceProxy`, for rule
 * descriptions and flow names. Both masquerade it to the forwarding node's IP: kube-proxy with
 * externalTrafficPolicy Cluster (kubernetes pkg/proxy/iptables/proxier.go), Cilium's eBPF NodePort
 * in its default SNAT mode (Cilium docs, "Kubernetes Without kube-proxy", Direct Server Return:
 * "By default, Cilium's eBPF NodePort implementation operates in SNAT mode").
 */
export const serviceProxyNames: Readonly<Record<(typeof serviceProxyRunner)[ServiceProxyMode], string>> = {
    "kube-proxy": "kube-proxy",
    cilium: "Cilium eBPF NodePort",
};

/** The name of the mode's Service proxy (see serviceProxyNames). */
export function serviceProxyName(mode: NetworkMode): string {
    return serviceProxyNames[serviceProxyRunner[defaultServiceProxy(mode)]];
}

/** The proxy a stack of this mode runs when its config names none: the first the mode allows. */
export function defaultServiceProxy(mode: NetworkMode): ServiceProxyMode {
    return modeFacts[mode].serviceProxies[0];
}

/** kube-proxy's two modes, where k3s runs kube-proxy; Cilium's eBPF replacement in its modes. */
const kubeProxyModes: ModeFacts["serviceProxies"] = ["iptables", "nftables"];
const ciliumProxy: ModeFacts["serviceProxies"] = ["ebpf"];

/** k3s's own node-to-node traffic, needed in every mode. */
export const k3sTraffic: readonly NodeTraffic[] = [
    // Security-group rule descriptions allow only a-zA-Z0-9, space and ._-:/()#,@[]+=&;{}!$*
    // (EC2 API reference, IpRange.Description): no apostrophes in any `why`.
    { protocol: "tcp", fromPort: 6443, toPort: 6443, why: "k3s agent to the Kubernetes API of the server" },
    { protocol: "tcp", fromPort: 10250, toPort: 10250, why: "kubelet API (logs, exec, metrics) between nodes" },
];

// The ports and VNIs are the plugins' defaults, which the program does not override (k3s passes
// no flannel backend options; the Installation CRD has no VXLAN port or VNI field): flannel's
// vxlan backend uses VNI 1 and the Linux kernel's port 8472; Calico's Felix VXLANPort 4789 and
// VXLANVNI 4096 (docs/facts.md). Everything else (security group, lab, reports) reads them from here.
// Devices: flannel names its VTEP "flannel.<VNI>" (flannel-io/flannel pkg/backend/vxlan, vxlan.go
// RegisterNetwork); Felix "vxlan.calico" (projectcalico/calico felix dataplanedefs
// VXLANIfaceNameV4); Calico IP-in-IP uses the ipip module's fallback device tunl0.
const flannelVni = 1;
const flannelVxlanTunnel: Tunnel = { kind: "vxlan", vni: flannelVni, port: 8472, overhead: 50, owner: "flannel VXLAN", device: `flannel.${flannelVni}` };
const calicoVxlanTunnel: Tunnel = { kind: "vxlan", vni: 4096, port: 4789, overhead: 50, owner: "Calico VXLAN", device: "vxlan.calico" };
const ipipTunnel: Tunnel = { kind: "ipip", overhead: 20, owner: "Calico IP-in-IP", device: "tunl0" }; // one extra IPv4 header

/** What a tunnel puts on the wire between the nodes: outer packets from the peer's node IP. */
export function tunnelTraffic(tunnel: Tunnel): NodeTraffic {
    if (tunnel.kind === "ipip") return { protocol: "4", fromPort: 0, toPort: 0, why: `${tunnel.owner} (IP protocol 4)` };
    const what = tunnel.kind === "wireguard" ? "encrypted packets" : tunnel.vni === undefined ? "frames" : `frames (VNI ${tunnel.vni})`;
    return { protocol: "udp", fromPort: tunnel.port!, toPort: tunnel.port!, why: `${tunnel.owner} ${what}` };
}

// flannel's wireguard backend: UDP 51820 and 80 bytes of overhead, the IPv6 worst case, which
// flannel subtracts whatever the family (flannel-io/flannel pkg/backend/wireguard: wireguard.go
// defaults and the device name flannel-wg, wireguard_network.go overhead; k3s docs, inbound
// rules: UDP 51820). It uses the kernel's WireGuard: "You must ensure that WireGuard kernel
// modules are available on every node" (docs.k3s.io, Networking, "Basic Network Options",
// wireguard-native).
const flannelWireguardTunnel: Tunnel = { kind: "wireguard", port: 51820, overhead: 80, owner: "flannel WireGuard", device: "flannel-wg", kernelModule: "wireguard" };
// Cilium's VXLAN: UDP 8472 (values.yaml tunnelPort 0 = 8472 for vxlan), 50 bytes (pkg/mtu
// TunnelOverheadIPv4); the VNI carries the sender's security identity, so no fixed VNI; the
// device is cilium_vxlan (pkg/defaults/node.go VxlanDevice).
const ciliumVxlanTunnel: Tunnel = { kind: "vxlan", port: 8472, overhead: 50, owner: "Cilium VXLAN", device: "cilium_vxlan" };

// Cilium's health checks between nodes: TCP 4240 and ICMP echo (Cilium docs, System Requirements,
// "Firewall Rules", 1.18). Hubble is disabled (it would run on the measured nodes), so no 4244.
const ciliumHealth: NodeTraffic = { protocol: "tcp", fromPort: 4240, toPort: 4240, why: "Cilium health checks between nodes" };
const ciliumPing: NodeTraffic = { protocol: "icmp", fromPort: 8, toPort: 0, why: "Cilium health checks: ICMP echo between nodes" };

const typha: NodeTraffic = { protocol: "tcp", fromPort: 5473, toPort: 5473, why: "Calico Typha (operator installs always run it)" };
const bgp: NodeTraffic = { protocol: "tcp", fromPort: 179, toPort: 179, why: "BGP sessions carrying pod routes" };

const podNetwork: GuestbookAttachment = { kind: "pod-network" };

/**
 * The baselines' frontend ports on the nodes. host: the gb-frontend image's Apache listens on 80
 * and a hostNetwork container's port is the node's (the Kubernetes API, ContainerPort.hostPort:
 * "If HostNetwork is specified, this must match ContainerPort"). The seed's host row listened on
 * 8080, its own application's port; this image serves 80. bridge: the seed's published port 8081
 * (docs/field-reports.md §1), DNAT'ed to the container's 80.
 */
export const baselineFrontendPorts = { host: guestbookPorts.frontend, bridge: 8081 } as const;

export const modeFacts: Readonly<Record<NetworkMode, ModeFacts>> = {
    vxlan: {
        guestbook: podNetwork,
        plugin: "flannel",
        description: `Flannel VXLAN overlay (VNI ${flannelVxlanTunnel.vni}, UDP ${flannelVxlanTunnel.port})`,
        flannelBackend: "vxlan",
        serviceProxies: kubeProxyModes,
        tunnel: flannelVxlanTunnel,
        bgp: false,
        nodeTraffic: [],
    },
    "host-gw": {
        guestbook: podNetwork,
        plugin: "flannel",
        description: "Flannel host-gw: pod subnets routed via the peer's node IP (needs L2 adjacency)",
        flannelBackend: "host-gw",
        serviceProxies: kubeProxyModes,
        bgp: false,
        nodeTraffic: [],
    },
    wireguard: {
        guestbook: podNetwork,
        plugin: "flannel",
        description: `Flannel WireGuard (wireguard-native): pod traffic encrypted between nodes, UDP ${flannelWireguardTunnel.port}`,
        flannelBackend: "wireguard-native",
        serviceProxies: kubeProxyModes,
        tunnel: flannelWireguardTunnel,
        bgp: false,
        nodeTraffic: [],
    },
    calico: {
        guestbook: podNetwork,
        plugin: "calico",
        description: "Calico BGP, no encapsulation: pod IPs routed natively",
        flannelBackend: "none",
        serviceProxies: kubeProxyModes,
        calico: { encapsulation: "None", bgp: "Enabled" },
        bgp: true,
        nodeTraffic: [bgp, typha],
    },
    "calico-ipip": {
        guestbook: podNetwork,
        plugin: "calico",
        description: "Calico IP-in-IP with BGP",
        flannelBackend: "none",
        serviceProxies: kubeProxyModes,
        calico: { encapsulation: "IPIP", bgp: "Enabled" },
        tunnel: ipipTunnel,
        bgp: true,
        nodeTraffic: [bgp, typha],
    },
    "calico-vxlan": {
        guestbook: podNetwork,
        plugin: "calico",
        description: `Calico VXLAN, BGP off (VNI ${calicoVxlanTunnel.vni}, UDP ${calicoVxlanTunnel.port})`,
        flannelBackend: "none",
        serviceProxies: kubeProxyModes,
        calico: { encapsulation: "VXLAN", bgp: "Disabled" },
        tunnel: calicoVxlanTunnel,
        bgp: false,
        nodeTraffic: [typha],
    },
    cilium: {
        guestbook: podNetwork,
        plugin: "cilium",
        description: `Cilium eBPF, VXLAN tunnel (UDP ${ciliumVxlanTunnel.port}), kube-proxy replaced by eBPF`,
        flannelBackend: "none",
        serviceProxies: ciliumProxy,
        cilium: { routingMode: "tunnel" },
        tunnel: ciliumVxlanTunnel,
        bgp: false,
        nodeTraffic: [ciliumHealth, ciliumPing],
    },
    "cilium-native": {
        guestbook: podNetwork,
        plugin: "cilium",
        description: "Cilium eBPF, native routing between the nodes (no tunnel), kube-proxy replaced by eBPF",
        flannelBackend: "none",
        serviceProxies: ciliumProxy,
        cilium: { routingMode: "native" },
        bgp: false,
        nodeTraffic: [ciliumHealth, ciliumPing],
    },
    host: {
        guestbook: { kind: "host-network", frontendPort: baselineFrontendPorts.host },
        plugin: "flannel",
        description: `Baseline, no container network: the guestbook on the node IPs (hostNetwork, frontends on ${baselineFrontendPorts.host}, Redis on ${guestbookPorts.redis}), no NAT; like the VM / Mesos host rows`,
        flannelBackend: "vxlan",
        serviceProxies: kubeProxyModes,
        tunnel: flannelVxlanTunnel,
        bgp: false,
        nodeTraffic: [],
    },
    bridge: {
        guestbook: { kind: "published-ports", frontendPort: baselineFrontendPorts.bridge },
        plugin: "flannel",
        description: `Baseline, Docker-style bridge: the guestbook in pods on the node bridge, ports published by DNAT (frontends ${baselineFrontendPorts.bridge} to ${guestbookPorts.frontend}, Redis ${guestbookPorts.redis}); like the Mesos bridge row`,
        flannelBackend: "vxlan",
        serviceProxies: kubeProxyModes,
        tunnel: flannelVxlanTunnel,
        bgp: false,
        nodeTraffic: [],
    },
};

/** Whether the mode is one of the field report's baselines (the guestbook off the pod network). */
export function isBaseline(mode: NetworkMode): boolean {
    return modeFacts[mode].guestbook.kind !== "pod-network";
}

/** The port the guestbook's frontends answer on at every node, which the load balancer targets:
 * the frontend Service's NodePort, or a baseline's host or published port. */
export function frontendPortOnNodes(mode: NetworkMode, nodePort: number): number {
    const guestbook = modeFacts[mode].guestbook;
    return guestbook.kind === "pod-network" ? nodePort : guestbook.frontendPort;
}

/**
 * Guestbook traffic that crosses between the nodes' own addresses in the baselines: frontends
 * reach Redis, and the follower replicates from the leader, at the peer node's IP on 6379 (the
 * upstream PHP hard-codes port 6379, GoogleCloudPlatform/kubernetes-engine-samples
 * quickstarts/guestbook/php-redis/guestbook.php). In "published-ports" the sending pod's packet
 * leaves masqueraded to its node IP (k3s applies flannel's IPv4 masquerade rules: k3s docs,
 * "Network Options", --flannel-ipv6-masq "default for IPv4") and is DNAT'ed to Redis on arrival.
 */
export function guestbookNodeTraffic(mode: NetworkMode): NodeTraffic[] {
    if (!isBaseline(mode)) return [];
    return [{ protocol: "tcp", fromPort: guestbookPorts.redis, toPort: guestbookPorts.redis, why: "guestbook Redis on the node address of the peer (frontends and replication)" }];
}

/** The cluster's own traffic from the other node's IP: k3s, the mode's control plane, its tunnel. */
export function clusterNodeTraffic(mode: NetworkMode): NodeTraffic[] {
    const facts = modeFacts[mode];
    return [...k3sTraffic, ...facts.nodeTraffic, ...(facts.tunnel ? [tunnelTraffic(facts.tunnel)] : [])];
}

/** Everything one node must admit from the other's node IP: the cluster's own traffic, and the
 * guestbook's where it runs on node addresses (the baselines). */
export function nodeToNodeTraffic(mode: NetworkMode): NodeTraffic[] {
    return [...clusterNodeTraffic(mode), ...guestbookNodeTraffic(mode)];
}

/** EC2 NICs carry 9001-byte jumbo frames inside a VPC. */
export const ec2NicMtu = 9001;

/** Pod packets carry pod IPs on the wire: the cloud must not drop them (src/dst check off) and
 * the security group must admit the pod CIDR as a source (a self-referencing rule does not match). */
export function routesPodIpsNatively(mode: NetworkMode): boolean {
    return modeFacts[mode].tunnel === undefined;
}

/** The pod interface MTU this mode gets on a NIC of `nicMtu` bytes. */
export function podMtu(mode: NetworkMode, nicMtu: number = ec2NicMtu): number {
    return nicMtu - (modeFacts[mode].tunnel?.overhead ?? 0);
}

/** The MTU of the interface the guestbook's frontends send on: the node NIC's in "host-network",
 * else the pod interface's (in "published-ports" a veth on flannel's cni0, whose MTU flannel's
 * CNI plugin takes from the backend: the vxlan one, 50 bytes under the NIC). */
export function guestbookMtu(mode: NetworkMode, nicMtu: number = ec2NicMtu): number {
    return modeFacts[mode].guestbook.kind === "host-network" ? nicMtu : podMtu(mode, nicMtu);
}

export function isNetworkMode(value: string): value is NetworkMode {
    return (networkModes as readonly string[]).includes(value);
}
