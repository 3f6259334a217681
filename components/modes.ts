/**
 * Everything that differs between network modes, in one table. Components, the benchmark
 * runner and the local lab read it; nobody else branches on a mode name.
 *
 * Sources: ../shared/FACTS.md (k3s flags, flannel and Calico ports, MTUs, AWS quirks).
 */

export const networkModes = ["vxlan", "host-gw", "calico", "calico-ipip", "calico-vxlan"] as const;
export type NetworkMode = (typeof networkModes)[number];

/** A protocol as an AWS security-group rule spells it ("4" is IP-in-IP). */
export type RuleProtocol = "tcp" | "udp" | "4";

/** Traffic one node must admit from the other, with the reason it exists. */
export interface NodeTraffic {
    readonly protocol: RuleProtocol;
    /** First port; 0 for protocols without ports (IP-in-IP). */
    readonly fromPort: number;
    readonly toPort: number;
    readonly why: string;
}

/** An encapsulation tunnel between the nodes, as the kernel sees it. */
export interface Tunnel {
    readonly kind: "vxlan" | "ipip";
    /** VXLAN network identifier (VXLAN only). */
    readonly vni?: number;
    /** UDP destination port (VXLAN only). */
    readonly port?: number;
    /** Bytes the outer headers take from the node MTU. */
    readonly overhead: number;
}

export interface ModeFacts {
    readonly plugin: "flannel" | "calico";
    /** One line for reports and the README. */
    readonly description: string;
    /** k3s `--flannel-backend`; "none" hands the pod network to Calico. */
    readonly flannelBackend: "vxlan" | "host-gw" | "none";
    /** Calico Installation settings (Calico modes only). */
    readonly calico?: { readonly encapsulation: "None" | "IPIP" | "VXLAN"; readonly bgp: "Enabled" | "Disabled" };
    /** Encapsulation between nodes; undefined when pod IPs are routed natively. */
    readonly tunnel?: Tunnel;
    /** Pod routes are exchanged over BGP (TCP 179) between the nodes. */
    readonly bgp: boolean;
    /** Ports and protocols the nodes must open to each other beyond k3s's own. */
    readonly nodeTraffic: readonly NodeTraffic[];
}

/** k3s's own node-to-node traffic, needed in every mode. */
export const k3sTraffic: readonly NodeTraffic[] = [
    { protocol: "tcp", fromPort: 6443, toPort: 6443, why: "k3s agent to the server's Kubernetes API" },
    { protocol: "tcp", fromPort: 10250, toPort: 10250, why: "kubelet API (logs, exec, metrics) between nodes" },
];

const flannelVxlanTunnel: Tunnel = { kind: "vxlan", vni: 1, port: 8472, overhead: 50 }; // Linux default port, flannel VNI 1
const calicoVxlanTunnel: Tunnel = { kind: "vxlan", vni: 4096, port: 4789, overhead: 50 }; // IANA port, Calico's default VNI
const ipipTunnel: Tunnel = { kind: "ipip", overhead: 20 }; // one extra IPv4 header

const typha: NodeTraffic = { protocol: "tcp", fromPort: 5473, toPort: 5473, why: "Calico Typha (operator installs always run it)" };
const bgp: NodeTraffic = { protocol: "tcp", fromPort: 179, toPort: 179, why: "BGP sessions carrying pod routes" };

export const modeFacts: Readonly<Record<NetworkMode, ModeFacts>> = {
    vxlan: {
        plugin: "flannel",
        description: "Flannel VXLAN overlay (VNI 1, UDP 8472)",
        flannelBackend: "vxlan",
        tunnel: flannelVxlanTunnel,
        bgp: false,
        nodeTraffic: [{ protocol: "udp", fromPort: 8472, toPort: 8472, why: "flannel VXLAN frames" }],
    },
    "host-gw": {
        plugin: "flannel",
        description: "Flannel host-gw: pod subnets routed via the peer's node IP (needs L2 adjacency)",
        flannelBackend: "host-gw",
        bgp: false,
        nodeTraffic: [],
    },
    calico: {
        plugin: "calico",
        description: "Calico BGP, no encapsulation: pod IPs routed natively",
        flannelBackend: "none",
        calico: { encapsulation: "None", bgp: "Enabled" },
        bgp: true,
        nodeTraffic: [bgp, typha],
    },
    "calico-ipip": {
        plugin: "calico",
        description: "Calico IP-in-IP with BGP",
        flannelBackend: "none",
        calico: { encapsulation: "IPIP", bgp: "Enabled" },
        tunnel: ipipTunnel,
        bgp: true,
        nodeTraffic: [bgp, typha, { protocol: "4", fromPort: 0, toPort: 0, why: "IP-in-IP (IP protocol 4)" }],
    },
    "calico-vxlan": {
        plugin: "calico",
        description: "Calico VXLAN, BGP off (VNI 4096, UDP 4789)",
        flannelBackend: "none",
        calico: { encapsulation: "VXLAN", bgp: "Disabled" },
        tunnel: calicoVxlanTunnel,
        bgp: false,
        nodeTraffic: [typha, { protocol: "udp", fromPort: 4789, toPort: 4789, why: "Calico VXLAN frames" }],
    },
};

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

export function isNetworkMode(value: string): value is NetworkMode {
    return (networkModes as readonly string[]).includes(value);
}
