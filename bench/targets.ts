/**
 * The contract between a comparison cluster and the benchmark runner.
 *
 * `StackOutputs` is exactly what `index.ts` exports for a stack (read with the Automation API,
 * secrets included). A targets JSON file holds `Target[]`: the same shape plus a name, so that
 * clusters built any other way (by hand, or the local lab) are measured by the same code.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { strictObject } from "../core/schema";
import { networkModes, type GuestbookAttachment, type NetworkMode } from "../components/modes";
import type { CpuCgroup } from "./measure/commands";
import { serviceProxyModes, type ServiceProxyMode } from "../components/serviceProxy";

export interface NodeOutput {
    /** Kubernetes node name (also the instance's Name tag). */
    readonly name: string;
    readonly role: "server" | "agent";
    readonly instanceId: string;
    readonly privateIp: string;
    readonly publicIp: string;
    readonly instanceType: string;
    readonly availabilityZone: string;
    /** The instance's /etc/ssh/ssh_host_ed25519_key.pub line ("ssh-ed25519 AAAA…"); pinned by the runner. */
    readonly sshHostKey?: string;
}

export interface LoadGeneratorOutput {
    readonly publicIp: string;
    readonly privateIp: string;
    /** As `NodeOutput.sshHostKey`. */
    readonly sshHostKey?: string;
}

export interface MtuOutput {
    /** The node NIC's MTU (9001 on EC2). */
    readonly node: number;
    /** The MTU the mode gives pod interfaces. */
    readonly pod: number;
}

export interface VersionsOutput {
    readonly k3s: string;
    /** "flannel" (bundled with k3s) or "calico". */
    readonly cni: string;
    /** The CNI's version: k3s's bundled flannel or the pinned Calico release. */
    readonly cniVersion: string;
    readonly ubuntu: string;
}

/** How the guestbook's frontends are attached (components/modes.ts GuestbookAttachment kinds):
 * "pod-network" behind a NodePort Service, "host-network" on the node's own port (no Service,
 * no NAT), "published-ports" on a port the node DNATs to the container (Docker's `-p`). */
export const frontendAttachments = ["pod-network", "host-network", "published-ports"] as const;
export type FrontendAttachment = (typeof frontendAttachments)[number];
// Stops compiling when components/modes.ts gains or loses an attachment kind that this list lacks.
const attachmentsMatchModes: [FrontendAttachment, GuestbookAttachment["kind"]] = ["" as GuestbookAttachment["kind"], "" as FrontendAttachment];
void attachmentsMatchModes;

/** Where and how the guestbook's frontends answer on every node (index.ts `frontends`). */
export interface FrontendsOutput {
    /** The port on every node: the NodePort, or the baseline's host or published port (= nodePort). */
    readonly port: number;
    readonly attachment: FrontendAttachment;
    /** Frontend replicas in the whole cluster (the baselines: one per node). */
    readonly replicas: number;
    /** The MTU of the interface the frontends send on. */
    readonly mtu: number;
}

/** What every stack exports. */
export interface StackOutputs {
    readonly mode: NetworkMode;
    /** URL of the load balancer in front of the guestbook frontend. */
    readonly endpoint: string;
    readonly nodePort: number;
    readonly frontends: FrontendsOutput;
    readonly nodes: readonly NodeOutput[];
    readonly podCidr: string;
    readonly mtu: MtuOutput;
    readonly versions: VersionsOutput;
    /** Secret: kubeconfig whose server is the server node's public address. */
    readonly kubeconfig: string;
    /** Login user on every instance. */
    readonly sshUser: string;
    /** Secret, present only when the stack generated the key pair. */
    readonly sshPrivateKey?: string;
    /** Present when the stack's `loadGenerator` config is on (the default). */
    readonly loadGenerator?: LoadGeneratorOutput;
    /** Who implements Services on the nodes (stack config `serviceProxy`; docs/service-proxy.md); absent in older stacks. */
    readonly serviceProxy?: ServiceProxyMode;
}

/** Where a target runs; a targets file may name the first two. */
export const platforms = ["aws-k3s", "lab", "loopback"] as const;
export type Platform = (typeof platforms)[number];

/**
 * One cluster to measure. For AWS stacks: the stack's outputs plus its name. `platform: "lab"`
 * marks a local-lab cluster whose hosts and pods are network namespaces on this machine, named
 * in `lab`; SSH and Kubernetes fields are then unused.
 */
export interface Target extends Partial<Omit<StackOutputs, "mode" | "nodePort" | "nodes" | "podCidr" | "mtu">> {
    readonly name: string;
    /** "loopback": every node and pod is this machine (tests and the sample report; no network). */
    readonly platform: Platform;
    readonly mode: string;
    readonly nodePort: number;
    readonly nodes: readonly Partial<NodeOutput>[];
    readonly podCidr: string;
    readonly mtu: MtuOutput;
    /** Path to a private key file, as an alternative to `sshPrivateKey`. */
    readonly sshPrivateKeyPath?: string;
    /** SSH port of the load generator and the nodes; default 22 (e.g. another port through a tunnel). */
    readonly sshPort?: number;
    /** Path to a kubeconfig file, as an alternative to `kubeconfig`. */
    readonly kubeconfigPath?: string;
    /** Local lab only: which network namespace plays which role. */
    readonly lab?: LabLayout;
}

/** The local lab's namespaces, as the runner needs them. */
export interface LabLayout {
    /** Host namespaces, one per node, in node order (node 1 first). */
    readonly hosts: readonly { readonly netns: string; readonly ip: string }[];
    /** Pod namespaces with the node index (0-based) they are attached to. */
    readonly pods: readonly { readonly netns: string; readonly ip: string; readonly node: number }[];
    /** Where the load generator runs (wrk, clients). */
    readonly loadGenerator: { readonly netns: string; readonly ip: string };
    /** URL of the guestbook frontend through each node's NodePort-style DNAT. */
    readonly frontendUrls: readonly string[];
    /** URL of a load balancer in front of the frontends, if the lab has one (else the runner
     * measures only the NodePort path and says so). */
    readonly loadBalancerUrl?: string;
    /** The control group that counts the CPU time of everything the mode runs (daemons and tools). */
    readonly cpuCgroup?: CpuCgroup;
    /** The kube-proxy mode whose rule sets the lab installs for this target (docs/service-proxy.md); absent: none. */
    readonly serviceProxy?: "iptables" | "nftables";
}

// ---- Schemas: the same contract, checked at the boundary (a targets file, a stack's outputs).
// zod (https://zod.dev) reports the path of every wrong field; core/schema.ts formats it. Every
// object is strict (an unknown key is refused by its path: a misspelt optional field must not
// vanish), and every value that reaches a shell on a node or in a namespace is checked for what
// it is (an address, a URL, a namespace name, a cgroup folder) before anything runs; the command
// builders quote them as well (commands.ts).

const nonEmpty = z.string().min(1);
const port = z.number().int().min(1).max(65535);

/** An IPv4 or IPv6 address as node:net's isIP reads it (no prefix, port, zone or brackets). */
const ipAddress = z.string().refine((s) => isIP(s) !== 0, {
    error: (issue) => `${JSON.stringify(issue.input)} is not an IP address; allowed: an IPv4 address such as 10.0.1.10, or an IPv6 address`,
});

/** A network with its prefix length, e.g. 10.42.0.0/16. */
const cidr = z.string().refine(
    (s) => {
        const [address, prefix, ...rest] = s.split("/");
        const bits = isIP(address ?? "") === 4 ? 32 : isIP(address ?? "") === 6 ? 128 : 0;
        return rest.length === 0 && bits > 0 && /^\d{1,3}$/.test(prefix ?? "") && Number(prefix) <= bits;
    },
    { error: (issue) => `${JSON.stringify(issue.input)} is not a network; allowed: an address and a prefix length, such as 10.42.0.0/16` },
);

/** http(s) URL (what wrk and the load balancer take), printable ASCII without spaces: the URL
 * grammar has no place for blanks or control characters (RFC 3986, section 2). */
const httpUrl = z.string().refine(
    (s) => {
        if (!/^[\x21-\x7e]+$/.test(s)) return false;
        try {
            return ["http:", "https:"].includes(new URL(s).protocol);
        } catch {
            return false;
        }
    },
    { error: (issue) => `${JSON.stringify(issue.input)} is not an http(s) URL; allowed: http://host[:port]/path or https://…, no spaces` },
);

/** A network namespace name as `ip netns` makes them (/run/netns/<name>). iproute2 refuses "/",
 * "." and ".." (ip/ipnetns.c invalid_name); the lab's names are letters, digits and "-". */
const netnsName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a network namespace name; allowed: letters, digits, "_", "." and "-", not starting with "." or "-"`,
});

/** The runner writes its shell's pid into `<dir>/cgroup.procs` as root: only a folder of the
 * cgroup file system, where the lab makes its groups, reached directly or, as the lab passes
 * it, through the lab process's root (`/proc/<pid>/root/sys/fs/cgroup/…`, lab/cpuGroup.ts). */
const cgroupDir = z.string().regex(/^(\/proc\/\d+\/root)?\/sys\/fs\/cgroup(\/(?!\.\.?(\/|$))[A-Za-z0-9_.,:@+-]+)*$/, {
    error: (issue) =>
        `${JSON.stringify(issue.input)} is not a cgroup folder; allowed: an absolute path under /sys/fs/cgroup or /proc/<pid>/root/sys/fs/cgroup (letters, digits, "_.,:@+-"; no "." or ".." parts)`,
});

const mtuSchema = strictObject({ node: z.number().int().positive(), pod: z.number().int().positive() });
const nodeSchema = strictObject({
    name: nonEmpty,
    role: z.enum(["server", "agent"]),
    instanceId: nonEmpty,
    privateIp: ipAddress,
    publicIp: ipAddress,
    instanceType: nonEmpty,
    availabilityZone: nonEmpty,
    sshHostKey: z.string().optional(),
});
const versionsSchema = strictObject({ k3s: nonEmpty, cni: nonEmpty, cniVersion: nonEmpty, ubuntu: nonEmpty });
const loadGeneratorSchema = strictObject({ publicIp: ipAddress, privateIp: ipAddress, sshHostKey: z.string().optional() });
export const frontendsSchema = strictObject({
    port,
    attachment: z.enum(frontendAttachments),
    replicas: z.number().int().positive(),
    mtu: z.number().int().positive(),
});

/** What index.ts exports for a stack (StackOutputs above). */
export const stackOutputsSchema = strictObject({
    mode: z.enum(networkModes),
    endpoint: httpUrl,
    nodePort: port,
    frontends: frontendsSchema,
    nodes: z.array(nodeSchema).min(2),
    podCidr: cidr,
    mtu: mtuSchema,
    versions: versionsSchema,
    kubeconfig: nonEmpty,
    sshUser: nonEmpty,
    sshPrivateKey: z.string().optional(),
    loadGenerator: loadGeneratorSchema.optional(),
    serviceProxy: z.enum(serviceProxyModes).optional(),
});

const netnsAddress = strictObject({ netns: netnsName, ip: ipAddress });
const labLayoutSchema = strictObject({
    hosts: z.array(netnsAddress),
    pods: z.array(netnsAddress.extend({ node: z.number().int().min(0) })),
    loadGenerator: netnsAddress,
    frontendUrls: z.array(httpUrl),
    loadBalancerUrl: httpUrl.optional(),
    cpuCgroup: strictObject({ dir: cgroupDir, version: z.union([z.literal(1), z.literal(2)]) }).optional(),
    serviceProxy: z.enum(["iptables", "nftables"]).optional(),
});

/** One entry of a targets file: a Target whose platform is "aws-k3s" or "lab" (the lab needs its layout). */
export const targetSchema = strictObject({
    name: nonEmpty,
    platform: z.enum(["aws-k3s", "lab"]),
    mode: nonEmpty,
    endpoint: httpUrl.optional(),
    nodePort: port,
    frontends: frontendsSchema.optional(),
    nodes: z.array(nodeSchema.partial()),
    podCidr: cidr,
    mtu: mtuSchema,
    versions: versionsSchema.optional(),
    kubeconfig: z.string().optional(),
    kubeconfigPath: z.string().optional(),
    sshUser: z.string().optional(),
    sshPrivateKey: z.string().optional(),
    sshPrivateKeyPath: z.string().optional(),
    sshPort: port.optional(),
    loadGenerator: loadGeneratorSchema.optional(),
    serviceProxy: z.enum(serviceProxyModes).optional(),
    lab: labLayoutSchema.optional(),
}).superRefine((t, ctx) => {
    if (t.platform === "lab" && t.lab === undefined) {
        ctx.addIssue({ code: "custom", path: ["lab"], message: 'platform "lab" needs the lab layout (hosts, pods, loadGenerator, frontendUrls)' });
    }
});

export const targetsFileSchema = z.array(targetSchema);

// The schemas describe the interfaces above: a parsed value is a Target / StackOutputs as is
// (these two lines stop compiling if the schemas and the interfaces drift apart).
export const parsedTargetIsTarget = (t: z.output<typeof targetSchema>): Target => t;
export const parsedOutputsAreStackOutputs = (o: z.output<typeof stackOutputsSchema>): StackOutputs => o;
