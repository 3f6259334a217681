/**
 * Names and addresses of one lab mode: which namespaces exist, which address each holds, where
 * each guestbook process runs. Pure: the same (mode, run id) always gives the same topology, so
 * tests read it and the ledger can name everything before it is created.
 */
import { labModeFacts, labPodMtu, underlayMtu, type LabMode, type PodAttachment } from "./modes";
import type { LabServiceProxyMode } from "./serviceProxy";

/** Every namespace, ledger file and run directory the lab creates starts with this. */
export const labPrefix = "cnilab";

/** The pod range, as the stacks' default (Pulumi.yaml `podCidr`, k3s `--cluster-cidr`). */
export const labPodCidr = "10.42.0.0/16";
/** The "VPC subnet" the nodes and the load generator share (the stacks' first /24 of 10.0.0.0/16). */
export const underlaySubnet = { prefix: "10.0.0", length: 24 } as const;
/** Docker's default bridge network (the `bridge` baseline). */
export const dockerBridge = { gateway: "172.17.0.1", prefix: "172.17.0", length: 16 } as const;

export const redisPort = 6379;
/** The port the frontend listens on inside its pod (the upstream image's Apache listens on 80). */
export const frontendPodPort = 80;

export type GuestbookRole = "redis-leader" | "redis-follower" | "frontend";

/** A node: a namespace with one underlay NIC (`eth0`) and, in cluster modes, a pod subnet. */
export interface LabNode {
    readonly index: number;
    readonly name: string;
    readonly netns: string;
    /** Address on the underlay (the node's "private IP"). */
    readonly ip: string;
    /** The /24 of the pod range this node owns (k3s: 10.42.<index>.0/24). */
    readonly podSubnet: string;
    /** First address of the pod subnet: flannel's cni0 .1 is `.1`; tunnel devices take `.0`. */
    readonly podSubnetBase: string;
}

/** One guestbook process and where it runs. */
export interface LabWorkload {
    readonly role: GuestbookRole;
    /** Index of the node it runs on. */
    readonly node: number;
    /** Short name used in namespace and interface names. */
    readonly name: string;
    /** Its own pod namespace, or the node's namespace when the mode has no pods. */
    readonly netns: string;
    /** The address it listens on (pod IP, or node IP without pods). */
    readonly ip: string;
    /** The port it listens on there. */
    readonly port: number;
    /** The node-side interface of its veth pair; undefined without pods. */
    readonly hostInterface?: string;
}

export interface LabTopology {
    readonly mode: LabMode;
    /** The mode, or mode-proxy when built for the Service-proxy axis (`vxlan-nftables`): names this topology's namespaces, files and CPU group. */
    readonly name: string;
    /** The kube-proxy mode whose rule sets this topology gets (docs/service-proxy.md); absent: none. */
    readonly serviceProxy?: LabServiceProxyMode;
    readonly runId: string;
    /** `cnilab-<run>-<mode>`: every namespace of this mode starts with it. */
    readonly prefix: string;
    readonly attachment: PodAttachment;
    /** The namespace holding the underlay switch (a bridge, like the VPC subnet). */
    readonly underlay: { readonly netns: string; readonly bridge: string };
    readonly nodes: readonly LabNode[];
    readonly loadGenerator: { readonly netns: string; readonly ip: string };
    readonly workloads: readonly LabWorkload[];
    readonly podCidr: string;
    readonly mtu: { readonly node: number; readonly pod: number };
    /** NodePort (cluster modes) or published port (baselines) on every node. */
    readonly servicePort: number;
    /** Where the frontends find Redis: what a Service (cluster) or a published port (bridge) resolves to. */
    readonly redis: { readonly leader: { ip: string; port: number }; readonly follower: { ip: string; port: number } };
}

/** The guestbook's placement: leader and one frontend on node 1, follower and one frontend on node 2,
 * so that reads (frontend → follower) and replication cross the node pair. */
const placement: readonly { readonly role: GuestbookRole; readonly node: number; readonly name: string }[] = [
    { role: "redis-leader", node: 0, name: "leader" },
    { role: "frontend", node: 0, name: "fe" },
    { role: "redis-follower", node: 1, name: "follower" },
    { role: "frontend", node: 1, name: "fe" },
];

/** Lab run ids: short, lowercase hex, so names stay readable. */
export function isRunId(value: string): boolean {
    return /^[0-9a-f]{6}$/.test(value);
}

export function labTopology(mode: LabMode, runId: string, serviceProxy?: LabServiceProxyMode): LabTopology {
    if (!isRunId(runId)) throw new Error(`runId: ${JSON.stringify(runId)} must be 6 lowercase hex digits`);
    const facts = labModeFacts[mode];
    // One mode can be built once per proxy mode in a run: the proxy is part of every name.
    const name = serviceProxy ? `${mode}-${serviceProxy}` : mode;
    const prefix = `${labPrefix}-${runId}-${name}`;
    const nodes: LabNode[] = [0, 1].map((index) => ({
        index,
        name: `node${index + 1}`,
        netns: `${prefix}-node${index + 1}`,
        ip: `${underlaySubnet.prefix}.${11 + index}`,
        podSubnet: `10.42.${index}.0/24`,
        podSubnetBase: `10.42.${index}.0`,
    }));
    const perNode = [0, 0];
    const workloads: LabWorkload[] = placement.map(({ role, node, name }) => {
        const slot = perNode[node]++;
        const port = role === "frontend" ? frontendPodPort : redisPort;
        if (facts.attachment === "host-network") {
            const hostPort = role === "frontend" ? facts.servicePort : redisPort;
            return { role, node, name, netns: nodes[node].netns, ip: nodes[node].ip, port: hostPort };
        }
        const ip = facts.attachment === "docker-bridge" ? `${dockerBridge.prefix}.${2 + slot}` : `10.42.${node}.${2 + slot}`;
        // Interface names are at most 15 bytes; Calico names host veths cali…, flannel and Docker veth….
        const hostInterface = `${facts.attachment === "calico-veth" ? "cali" : "veth"}${name}`;
        return { role, node, name, netns: `${nodes[node].netns}-${name}`, ip, port, hostInterface };
    });
    const leader = workloads.find((w) => w.role === "redis-leader")!;
    const follower = workloads.find((w) => w.role === "redis-follower")!;
    // Docker containers on different hosts reach each other only through published ports on the host.
    const redis =
        facts.attachment === "docker-bridge"
            ? { leader: { ip: nodes[leader.node].ip, port: redisPort }, follower: { ip: nodes[follower.node].ip, port: redisPort } }
            : { leader: { ip: leader.ip, port: leader.port }, follower: { ip: follower.ip, port: follower.port } };
    return {
        mode,
        name,
        ...(serviceProxy ? { serviceProxy } : {}),
        runId,
        prefix,
        attachment: facts.attachment,
        underlay: { netns: `${prefix}-underlay`, bridge: "underlay" },
        nodes,
        loadGenerator: { netns: `${prefix}-loadgen`, ip: `${underlaySubnet.prefix}.10` },
        workloads,
        podCidr: labPodCidr,
        mtu: { node: underlayMtu, pod: labPodMtu(mode) },
        servicePort: facts.servicePort,
        redis,
    };
}

/** Every namespace of a topology, in creation order (underlay first, pods last). */
export function topologyNamespaces(topology: LabTopology): string[] {
    const pods = topology.workloads.filter((w) => w.hostInterface !== undefined).map((w) => w.netns);
    return [topology.underlay.netns, ...topology.nodes.map((n) => n.netns), topology.loadGenerator.netns, ...pods];
}
