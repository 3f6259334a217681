/**
 * kube-proxy's Service rule sets on a lab node, as kube-proxy writes them, for the guestbook's
 * NodePort Service plus N extra Services (issue 23; docs/service-proxy.md "Lab rule sets").
 * Rendering is pure (Services in, `iptables-restore` / `nft -f` text out); installing and reading
 * back run in a node's namespace, and the counts come from the kernel, never from the text.
 *
 * Sources (kubernetes/kubernetes; the search index holds no v1.33.4 copy of these two files, so the
 * renderers follow the stored versions below, which agree on every rule rendered here):
 * - iptables: pkg/proxy/iptables/proxier.go (1.30-era copy): `iptablesJumpChains`, `syncProxyRules`,
 *   `writeServiceToEndpointRules`, `portProtoHash`, `servicePortEndpointChainName`, `computeProbability`.
 * - nftables: pkg/proxy/nftables/proxier.go (main, commit b0f823e6): `nftablesBaseChains`,
 *   `nftablesJumpChains`, `setupNFTables`, `syncProxyRules`, `writeServiceToEndpointRules`,
 *   `hashAndTruncate`, `servicePortChainNameBase`, `servicePortEndpointChainNameBase`.
 * What kube-proxy is told on k3s: `--cluster-cidr` (the local-traffic detector: pods are 10.42.0.0/16),
 * the masquerade bit 14 (mark 0x4000), the Service range 10.43.0.0/16 (cluster-ips-check) and no
 * `--nodeport-addresses` (iptables: every local address; nftables: the node's primary address).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import { describeExit, runProcess } from "../core/process";
import type { ServiceProxyMode } from "../components/serviceProxy";
import { inNamespace } from "./exec";

/** The proxy modes the lab renders; `ebpf` (Cilium's replacement) is AWS only, like Cilium itself. */
export const labServiceProxyModes = ["iptables", "nftables"] as const satisfies readonly ServiceProxyMode[];
export type LabServiceProxyMode = (typeof labServiceProxyModes)[number];

export function isLabServiceProxyMode(value: string): value is LabServiceProxyMode {
    return (labServiceProxyModes as readonly string[]).includes(value);
}

/** k3s's Service range (components/settings.ts `serviceCidr`; serviceProxy.test.ts checks they agree). */
export const labServiceCidr = "10.43.0.0/16";

/** Where an endpoint listens: a pod address and port. */
export interface ServiceEndpoint {
    readonly ip: string;
    readonly port: number;
}

/** One Service port as kube-proxy sees it (a ServicePortName plus its ClusterIP, ports and endpoints). */
export interface LabService {
    readonly namespace: string;
    readonly name: string;
    /** The port's name; "" for an unnamed port (the guestbook's). */
    readonly portName: string;
    readonly protocol: "tcp";
    readonly clusterIP: string;
    readonly port: number;
    readonly nodePort?: number;
    readonly endpoints: readonly ServiceEndpoint[];
}

/** What kube-proxy on one node knows besides the Services. */
export interface ProxyNode {
    /** The node's primary address (nftables mode accepts NodePorts only there). */
    readonly ip: string;
    /** `--cluster-cidr`: traffic from outside it to a ClusterIP is masqueraded. */
    readonly clusterCidr: string;
}

/** The guestbook's frontend Service (workloads/guestbook.ts: namespace "guestbook", Service
 * "frontend", one unnamed port 80, type NodePort). Its ClusterIP: 10.43.0.1 and .10 are k3s's
 * `kubernetes` and `kube-dns`; any other free address stands for the allocator's random pick. */
export const guestbookFrontendService = { namespace: "guestbook", name: "frontend", portName: "", port: 80, clusterIP: "10.43.0.2" } as const;

/** The extra Services' namespace, and the port each exposes (named, as most Services' are). */
const extraServices = { namespace: "svc-scale", portName: "http", port: 80 } as const;

/** Extra Services take 10.43.1.0 onwards (one per address, below the range's broadcast address). */
export const maxLabServices = 255 * 256 - 1;

/** The ClusterIP of extra Service `k` (0-based). */
function extraClusterIp(k: number): string {
    const n = 256 + k;
    return `10.43.${n >> 8}.${n & 255}`;
}

/**
 * The Services a lab node's proxy programs: the guestbook's NodePort Service first, then `extra`
 * ClusterIP Services, each with the same endpoints (the frontend pods), so every Service's chains
 * and map entries lead to a real listener.
 */
export function labServices(nodePort: number, endpoints: readonly ServiceEndpoint[], extra: number): LabService[] {
    if (!Number.isInteger(extra) || extra < 0 || extra > maxLabServices) {
        throw new RangeError(`services: ${JSON.stringify(extra)} is not a Service count; allowed: a whole number from 0 to ${maxLabServices} (one ClusterIP each in ${labServiceCidr})`);
    }
    if (endpoints.length === 0) throw new RangeError("endpoints: none given; every lab Service needs at least one (the frontend pods)");
    const { namespace, name, portName, port, clusterIP } = guestbookFrontendService;
    const frontend: LabService = { namespace, name, portName, protocol: "tcp", clusterIP, port, nodePort, endpoints };
    const rest = Array.from({ length: extra }, (_, k): LabService => ({
        namespace: extraServices.namespace,
        name: `svc-${k + 1}`,
        portName: extraServices.portName,
        protocol: "tcp",
        clusterIP: extraClusterIp(k),
        port: extraServices.port,
        endpoints,
    }));
    return [frontend, ...rest];
}

// ---- Names: kube-proxy's hashes (sha256, base32 with the standard alphabet, truncated).

const base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (Go's base32.StdEncoding) without padding: only prefixes are ever used. */
function base32(bytes: Uint8Array): string {
    let out = "";
    let bits = 0;
    let value = 0;
    for (const b of bytes) {
        value = ((value << 8) | b) & 0xffff;
        bits += 8;
        while (bits >= 5) {
            out += base32Alphabet[(value >>> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    return bits > 0 ? out + base32Alphabet[(value << (5 - bits)) & 31] : out;
}

function sha256Base32(text: string): string {
    return base32(createHash("sha256").update(text).digest());
}

/** proxy.ServicePortName.String(): "namespace/name", then ":port" when the port has a name. */
export function servicePortNameString(s: LabService): string {
    return `${s.namespace}/${s.name}${s.portName ? `:${s.portName}` : ""}`;
}

const endpointString = (e: ServiceEndpoint) => `${e.ip}:${e.port}`;

/** iptables `portProtoHash`: the first 16 characters of base32(sha256(servicePortName + protocol)). */
function portProtoHash(s: LabService): string {
    return sha256Base32(servicePortNameString(s) + s.protocol).slice(0, 16);
}

/** iptables `servicePortPolicyClusterChain`: KUBE-SVC-<hash>. */
export function kubeSvcChain(s: LabService): string {
    return `KUBE-SVC-${portProtoHash(s)}`;
}

/** iptables `serviceExternalChainName`: KUBE-EXT-<hash> (NodePort traffic enters here). */
export function kubeExtChain(s: LabService): string {
    return `KUBE-EXT-${portProtoHash(s)}`;
}

/** iptables `servicePortEndpointChainName`: KUBE-SEP-<hash of servicePortName + protocol + "ip:port">. */
export function kubeSepChain(s: LabService, e: ServiceEndpoint): string {
    return `KUBE-SEP-${sha256Base32(servicePortNameString(s) + s.protocol + endpointString(e)).slice(0, 16)}`;
}

/** nftables `chainNameBaseLengthMax`: knftables' 256-byte name limit less a 16-byte prefix. */
const nftChainNameBaseLengthMax = 256 - 16;

/** nftables `hashAndTruncate`: 8 base32 characters of the name's hash, "-", the name. */
function hashAndTruncate(name: string): string {
    const named = `${sha256Base32(name).slice(0, 8)}-${name}`;
    return named.length > nftChainNameBaseLengthMax ? `${named.slice(0, nftChainNameBaseLengthMax - 3)}...` : named;
}

/** nftables `servicePortChainNameBase`: "HASH-namespace/name/protocol/portName". */
export function nftServiceChainBase(s: LabService): string {
    return hashAndTruncate(`${s.namespace}/${s.name}/${s.protocol}/${s.portName}`);
}

/** nftables `servicePortEndpointChainNameBase`: "HASH-namespace/name/protocol/portName__ip/port". */
export function nftEndpointChainBase(s: LabService, e: ServiceEndpoint): string {
    return hashAndTruncate(`${s.namespace}/${s.name}/${s.protocol}/${s.portName}__${e.ip}/${e.port}`);
}

// ---- iptables mode

/** kube-proxy's `--masquerade-bit` default, 14, printed as Go's `%#08x` prints 1<<14. */
export const masqueradeMark = "0x00004000";

/** Above this many endpoints kube-proxy drops the per-endpoint comments (`largeClusterEndpointsThreshold`). */
const largeClusterEndpointsThreshold = 1000;

/** A rule kube-proxy keeps in a built-in chain with `EnsureRule(Prepend, …)`: not part of its restore input. */
export interface IptablesJump {
    readonly table: "filter" | "nat";
    readonly chain: string;
    /** The rule's arguments after `-I <chain>`. */
    readonly rule: readonly string[];
    /** The chain the rule jumps to (created first). */
    readonly target: string;
}

const jump = (table: IptablesJump["table"], target: string, chain: string, comment: string, extra: readonly string[] = []): IptablesJump => ({
    table,
    chain,
    target,
    rule: [...extra, ...(comment ? ["-m", "comment", "--comment", comment] : []), "-j", target],
});
const ctNew = ["-m", "conntrack", "--ctstate", "NEW"];

/** `iptablesJumpChains` and `iptablesKubeletJumpChains`, in kube-proxy's order. */
export const iptablesJumps: readonly IptablesJump[] = [
    jump("filter", "KUBE-EXTERNAL-SERVICES", "INPUT", "kubernetes externally-visible service portals", ctNew),
    jump("filter", "KUBE-EXTERNAL-SERVICES", "FORWARD", "kubernetes externally-visible service portals", ctNew),
    jump("filter", "KUBE-NODEPORTS", "INPUT", "kubernetes health check service ports"),
    jump("filter", "KUBE-SERVICES", "FORWARD", "kubernetes service portals", ctNew),
    jump("filter", "KUBE-SERVICES", "OUTPUT", "kubernetes service portals", ctNew),
    jump("filter", "KUBE-FORWARD", "FORWARD", "kubernetes forwarding rules"),
    jump("filter", "KUBE-PROXY-FIREWALL", "INPUT", "kubernetes load balancer firewall", ctNew),
    jump("filter", "KUBE-PROXY-FIREWALL", "OUTPUT", "kubernetes load balancer firewall", ctNew),
    jump("filter", "KUBE-PROXY-FIREWALL", "FORWARD", "kubernetes load balancer firewall", ctNew),
    jump("nat", "KUBE-SERVICES", "OUTPUT", "kubernetes service portals"),
    jump("nat", "KUBE-SERVICES", "PREROUTING", "kubernetes service portals"),
    jump("nat", "KUBE-POSTROUTING", "POSTROUTING", "kubernetes postrouting rules"),
    jump("filter", "KUBE-FIREWALL", "INPUT", ""),
    jump("filter", "KUBE-FIREWALL", "OUTPUT", ""),
];

/** An iptables-restore argument, quoted as kube-proxy quotes comments with spaces. */
const arg = (a: string) => (/[\s"]/.test(a) ? `"${a.replace(/"/g, '\\"')}"` : a);
const line = (...args: readonly string[]) => args.map(arg).join(" ");

/**
 * The `iptables-restore --noflush` input kube-proxy writes for a full sync (`syncProxyRules`):
 * the filter and nat tables' KUBE-* chains, each declared (which flushes it) and filled, every
 * Service with Cluster traffic policy and its endpoints, and `stale` service chains flushed and
 * deleted. The built-in chains' jumps into these are `iptablesJumps` (installed apart).
 */
export function iptablesRuleSet(services: readonly LabService[], node: ProxyNode): string {
    const mark = `${masqueradeMark}/${masqueradeMark}`;
    const filter: string[] = ["*filter", ...["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"].map((c) => `:${c} - [0:0]`)];
    const natChains: string[] = ["*nat", ...["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"].map((c) => `:${c} - [0:0]`)];
    const nat: string[] = [
        line("-A", "KUBE-POSTROUTING", "-m", "mark", "!", "--mark", mark, "-j", "RETURN"),
        line("-A", "KUBE-POSTROUTING", "-j", "MARK", "--xor-mark", masqueradeMark),
        // iptables ≥ 1.6.2 has --random-fully (`HasRandomFully`); Debian 12's 1.8.9 does.
        line("-A", "KUBE-POSTROUTING", "-m", "comment", "--comment", "kubernetes service traffic requiring SNAT", "-j", "MASQUERADE", "--random-fully"),
        line("-A", "KUBE-MARK-MASQ", "-j", "MARK", "--or-mark", masqueradeMark),
    ];
    // No --nodeport-addresses: localhost NodePorts are on, and with them the kubelet's localnet guard.
    filter.push(":KUBE-FIREWALL - [0:0]");
    const filterRules = [
        line(
            "-A",
            "KUBE-FIREWALL",
            "-m",
            "comment",
            "--comment",
            "block incoming localnet connections",
            "-d",
            "127.0.0.0/8",
            "!",
            "-s",
            "127.0.0.0/8",
            "-m",
            "conntrack",
            "!",
            "--ctstate",
            "RELATED,ESTABLISHED,DNAT",
            "-j",
            "DROP",
        ),
    ];
    const totalEndpoints = services.reduce((sum, s) => sum + s.endpoints.length, 0);
    const large = totalEndpoints > largeClusterEndpointsThreshold;
    const comment = (text: string) => (large ? [] : ["-m", "comment", "--comment", text]);
    for (const s of services) {
        const name = servicePortNameString(s);
        const svc = kubeSvcChain(s);
        const match = ["-m", s.protocol, "-p", s.protocol, "-d", s.clusterIP, "--dport", String(s.port)];
        nat.push(line("-A", "KUBE-SERVICES", "-m", "comment", "--comment", `${name} cluster IP`, ...match, "-j", svc));
        if (s.nodePort !== undefined) {
            nat.push(line("-A", "KUBE-NODEPORTS", "-m", "comment", "--comment", name, "-m", s.protocol, "-p", s.protocol, "--dport", String(s.nodePort), "-j", kubeExtChain(s)));
        }
        // The local-traffic detector by cluster CIDR: `IfNotLocal()` is `! -s <cidr>`.
        nat.push(line("-A", svc, "-m", "comment", "--comment", `${name} cluster IP`, ...match, "!", "-s", node.clusterCidr, "-j", "KUBE-MARK-MASQ"));
        if (s.nodePort !== undefined) {
            const ext = kubeExtChain(s);
            natChains.push(`:${ext} - [0:0]`);
            nat.push(line("-A", ext, "-m", "comment", "--comment", `masquerade traffic for ${name} external destinations`, "-j", "KUBE-MARK-MASQ"));
            nat.push(line("-A", ext, "-j", svc));
        }
        natChains.push(`:${svc} - [0:0]`);
        s.endpoints.forEach((e, i) => {
            const left = s.endpoints.length - i;
            // Each rule but the last is a probabilistic match (`computeProbability`: "%0.10f" of 1/n).
            const pick = left > 1 ? ["-m", "statistic", "--mode", "random", "--probability", (1 / left).toFixed(10)] : [];
            nat.push(line("-A", svc, ...comment(`${name} -> ${endpointString(e)}`), ...pick, "-j", kubeSepChain(s, e)));
        });
        for (const e of s.endpoints) {
            const sep = kubeSepChain(s, e);
            natChains.push(`:${sep} - [0:0]`);
            nat.push(line("-A", sep, ...comment(name), "-s", e.ip, "-j", "KUBE-MARK-MASQ"));
            nat.push(line("-A", sep, ...comment(name), "-m", s.protocol, "-p", s.protocol, "-j", "DNAT", "--to-destination", endpointString(e)));
        }
    }
    // Last in KUBE-SERVICES: every local destination tries the NodePorts (no --nodeport-addresses).
    nat.push(
        line(
            "-A",
            "KUBE-SERVICES",
            "-m",
            "comment",
            "--comment",
            "kubernetes service nodeports; NOTE: this must be the last rule in this chain",
            "-m",
            "addrtype",
            "--dst-type",
            "LOCAL",
            "-j",
            "KUBE-NODEPORTS",
        ),
    );
    // nf_conntrack_tcp_be_liberal is 0 in a fresh namespace, so kube-proxy drops INVALID packets.
    filterRules.push(
        line("-A", "KUBE-FORWARD", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"),
        line("-A", "KUBE-FORWARD", "-m", "comment", "--comment", "kubernetes forwarding rules", "-m", "mark", "--mark", mark, "-j", "ACCEPT"),
        line("-A", "KUBE-FORWARD", "-m", "comment", "--comment", "kubernetes forwarding conntrack rule", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
    );
    return [...filter, ...filterRules, "COMMIT", ...natChains, ...nat, "COMMIT", ""].join("\n");
}

/** The two tables kube-proxy writes, as `iptables-save -t <table>` prints them. */
export interface IptablesTables {
    readonly filter: string;
    readonly nat: string;
}

const iptablesTableNames = ["filter", "nat"] as const;

/** A line of kube-proxy's: in a KUBE-* chain, or a jump into one from a built-in chain. */
const isKubeLine = (l: string) => /^(:|-A )KUBE-/.test(l) || / -[jg] KUBE-\S+( |$)/.test(l);

/**
 * Whole-table `iptables-restore` input (no --noflush) that leaves `current` as kube-proxy would
 * after a full sync with `kubeProxyInput` (`iptablesRuleSet`; undefined: kube-proxy gone): every
 * rule that is not kube-proxy's kept as it was, kube-proxy's jumps first in their built-in chains
 * (`EnsureRule(Prepend, …)` in `iptablesJumps` order, so the last prepended is first), its KUBE-*
 * chains replaced, old Service chains gone. Why not --noflush as kube-proxy: iptables-nft 1.8.9
 * took 110 s of CPU to restore 10 000 Services with --noflush here, 2.3 s without (docs/service-proxy.md).
 */
export function iptablesTables(current: IptablesTables, kubeProxyInput?: string): string {
    const rendered = new Map<string, string[]>();
    let section: string[] = [];
    for (const l of kubeProxyInput?.split("\n") ?? []) {
        if (l.startsWith("*")) rendered.set(l.slice(1), (section = []));
        else if (l !== "COMMIT" && l !== "") section.push(l);
    }
    const out: string[] = [];
    for (const t of iptablesTableNames) {
        const lines = current[t].split("\n").filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("*") && l !== "COMMIT");
        const builtIn = lines.filter((l) => /^:[A-Z]+ (ACCEPT|DROP) /.test(l)).map((l) => l.replace(/\[\d+:\d+\]$/, "[0:0]"));
        const kept = lines.filter((l) => !builtIn.some((b) => b.split(" ")[0] === l.split(" ")[0]) && !isKubeLine(l));
        const mine = rendered.get(t) ?? [];
        const jumps = kubeProxyInput === undefined ? [] : iptablesJumps.filter((j) => j.table === t).reverse();
        out.push(
            `*${t}`,
            ...builtIn,
            ...kept.filter((l) => l.startsWith(":")),
            ...mine.filter((l) => l.startsWith(":")),
            ...jumps.map((j) => line("-A", j.chain, ...j.rule)),
            ...kept.filter((l) => !l.startsWith(":")),
            ...mine.filter((l) => !l.startsWith(":")),
            "COMMIT",
        );
    }
    return out.join("\n") + "\n";
}

// ---- nftables mode

const table = "ip kube-proxy";

/** `nftablesBaseChains`: name, type, hook, priority. knftables writes the priorities as numbers
 * (DNATPriority = -100, SNATPriority = 100; pkg/proxy/nftables/proxier_test.go `baseRules`:
 * "nat-output { type nat hook output priority -100 ; }"); nft 1.0.6 refuses "dstnat" on the input hook. */
const nftBaseChains = [
    ["filter-prerouting", "filter", "prerouting", "-110"],
    ["filter-input", "filter", "input", "-110"],
    ["filter-forward", "filter", "forward", "-110"],
    ["filter-output", "filter", "output", "-110"],
    ["filter-output-post-dnat", "filter", "output", "-90"],
    ["nat-prerouting", "nat", "prerouting", "-100"],
    ["nat-output", "nat", "output", "-100"],
    ["nat-postrouting", "nat", "postrouting", "100"],
] as const;

/** `nftablesJumpChains`: destination, source, extra match. */
const nftJumpChains = [
    ["nodeport-endpoints-check", "filter-input", "ct state new"],
    ["service-endpoints-check", "filter-input", "ct state new"],
    ["service-endpoints-check", "filter-forward", "ct state new"],
    ["service-endpoints-check", "filter-output", "ct state new"],
    ["firewall-check", "filter-prerouting", "ct state new"],
    ["firewall-check", "filter-output", "ct state new"],
    ["services", "nat-output", ""],
    ["services", "nat-prerouting", ""],
    ["masquerading", "nat-postrouting", ""],
    ["cluster-ips-check", "filter-forward", "ct state new"],
    ["cluster-ips-check", "filter-output-post-dnat", "ct state new"],
] as const;

const quoted = (text: string) => `"${text}"`;

/**
 * The `nft -f` input for a full sync of table `ip kube-proxy` (`setupNFTables` + `syncProxyRules`),
 * preceded by an add+delete of the table so that one transaction replaces whatever was there.
 * The NodePort is accepted on the node's primary address only (`nodeport-ips`), as kube-proxy's
 * nftables mode does without --nodeport-addresses.
 */
export function nftablesRuleSet(services: readonly LabService[], node: ProxyNode): string {
    const out: string[] = [];
    const add = (text: string) => out.push(`add ${text}`);
    const rule = (chain: string, text: string) => add(`rule ${table} ${chain} ${text}`);
    const element = (set: string, text: string) => add(`element ${table} ${set} { ${text} }`);
    const created = new Set<string>();
    const chain = (name: string, spec = "") => {
        if (created.has(name)) return;
        created.add(name);
        add(`chain ${table} ${name}${spec ? ` { ${spec} ; }` : ""}`);
    };
    // Replace atomically: nft -f runs the whole file as one transaction.
    add(`table ${table}`);
    out.push(`delete table ${table}`);
    add(`table ${table} { comment ${quoted("rules for kube-proxy")} ; }`);
    for (const [name, type, hook, priority] of nftBaseChains) chain(name, `type ${type} hook ${hook} priority ${priority}`);
    for (const [dst, src, extra] of nftJumpChains) {
        chain(dst);
        rule(src, `${extra ? `${extra} ` : ""}jump ${dst}`);
    }
    for (const name of ["services", "cluster-ips-check", "masquerading", "mark-for-masquerade"]) chain(name);
    rule("mark-for-masquerade", `mark set mark or ${masqueradeMark}`);
    rule("masquerading", `mark and ${masqueradeMark} == 0 return`);
    rule("masquerading", `mark set mark xor ${masqueradeMark}`);
    rule("masquerading", "masquerade fully-random");
    add(`set ${table} cluster-ips { type ipv4_addr ; comment ${quoted("Active ClusterIPs")} ; }`);
    rule("cluster-ips-check", `ip daddr @cluster-ips reject comment ${quoted("Reject traffic to invalid ports of ClusterIPs")}`);
    rule("cluster-ips-check", `ip daddr { ${labServiceCidr} } drop comment ${quoted("Drop traffic to unallocated ClusterIPs")}`);
    add(`set ${table} nodeport-ips { type ipv4_addr ; comment ${quoted("IPs that accept NodePort traffic")} ; }`);
    element("nodeport-ips", node.ip);
    add(`map ${table} no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment ${quoted("vmap to drop or reject packets to services with no endpoints")} ; }`);
    add(`map ${table} no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment ${quoted("vmap to drop or reject packets to service nodeports with no endpoints")} ; }`);
    add(`chain ${table} reject-chain { comment ${quoted("helper for @no-endpoint-services / @no-endpoint-nodeports")} ; }`);
    rule("reject-chain", "reject");
    rule("service-endpoints-check", "ip daddr . meta l4proto . th dport vmap @no-endpoint-services");
    rule("nodeport-endpoints-check", "ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports");
    add(`map ${table} firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment ${quoted("destinations that are subject to LoadBalancerSourceRanges")} ; }`);
    rule("firewall-check", "ip daddr . meta l4proto . th dport vmap @firewall-ips");
    add(`map ${table} service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment ${quoted("ClusterIP, ExternalIP and LoadBalancer IP traffic")} ; }`);
    add(`map ${table} service-nodeports { type inet_proto . inet_service : verdict ; comment ${quoted("NodePort traffic")} ; }`);
    rule("services", "ip daddr . meta l4proto . th dport vmap @service-ips");
    rule("services", "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports");
    for (const s of services) {
        const base = nftServiceChainBase(s);
        const svc = `service-${base}`;
        const ext = `external-${base}`;
        const endpoints = s.endpoints.map((e) => ({ e, chain: `endpoint-${nftEndpointChainBase(s, e)}` }));
        for (const { chain: c } of endpoints) chain(c);
        chain(svc);
        if (s.nodePort !== undefined) chain(ext);
        element("cluster-ips", s.clusterIP);
        element("service-ips", `${s.clusterIP} . ${s.protocol} . ${s.port} : goto ${svc}`);
        if (s.nodePort !== undefined) element("service-nodeports", `${s.protocol} . ${s.nodePort} : goto ${ext}`);
        // `IfNotLocalNFT()` of the cluster-CIDR detector.
        rule(svc, `ip daddr ${s.clusterIP} ${s.protocol} dport ${s.port} ip saddr != ${node.clusterCidr} jump mark-for-masquerade`);
        if (s.nodePort !== undefined) {
            rule(ext, "jump mark-for-masquerade");
            rule(ext, `goto ${svc}`);
        }
        rule(svc, `numgen random mod ${endpoints.length} vmap { ${endpoints.map(({ chain: c }, i) => `${i} : goto ${c}`).join(" , ")} }`);
        for (const { e, chain: c } of endpoints) {
            rule(c, `ip saddr ${e.ip} jump mark-for-masquerade`);
            rule(c, `meta l4proto ${s.protocol} dnat to ${endpointString(e)}`);
        }
    }
    return out.join("\n") + "\n";
}

// ---- Installing and reading back, in a node's namespace

/** How long one install or read-back may take (10 000 Services install in seconds; see docs). */
const commandTimeoutMs = 120_000;

async function run(netns: string, argv: readonly string[], signal?: AbortSignal): Promise<string> {
    const r = await runProcess(inNamespace(netns, argv), { timeoutMs: commandTimeoutMs, signal });
    if (r.code !== 0 || r.timedOut || r.aborted) {
        const why = r.timedOut ? `timed out after ${commandTimeoutMs / 1000} s` : r.aborted ? "aborted" : describeExit(r);
        throw new Error(`${netns}: ${argv.join(" ")} failed (${why}): ${r.stderr.trim().split("\n").slice(0, 3).join(" | ")}`);
    }
    return r.stdout;
}

/** Runs `argv` with `text` in a temporary file as its last argument (the lab's processes get no stdin). */
async function withFile(text: string, use: (file: string) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), "cnilab-svc-"));
    try {
        const file = join(dir, "rules");
        writeFileSync(file, text);
        await use(file);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

async function iptablesSave(netns: string, signal?: AbortSignal): Promise<IptablesTables> {
    return { filter: await run(netns, ["iptables-save", "-t", "filter"], signal), nat: await run(netns, ["iptables-save", "-t", "nat"], signal) };
}

/**
 * Makes `services` what `mode`'s proxy has programmed in `netns`, replacing the previous set in
 * one kernel transaction per table: iptables as one `iptables-restore` of the filter and nat
 * tables with kube-proxy's chains and jumps in place (`iptablesTables`); nftables as one `nft -f`
 * that deletes and re-adds table `ip kube-proxy`.
 */
export async function installServiceProxy(netns: string, mode: LabServiceProxyMode, services: readonly LabService[], node: ProxyNode, signal?: AbortSignal): Promise<void> {
    if (mode === "nftables") {
        await withFile(nftablesRuleSet(services, node), (file) => run(netns, ["nft", "-f", file], signal).then(() => undefined));
        return;
    }
    // kube-proxy sets route_localnet for localhost NodePorts (`localhostNodePorts`, the default).
    await run(netns, ["sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1"], signal);
    const text = iptablesTables(await iptablesSave(netns, signal), iptablesRuleSet(services, node));
    await withFile(text, (file) => run(netns, ["iptables-restore", "-w", "5", file], signal).then(() => undefined));
}

/** Removes what `installServiceProxy` installed for `mode` (nftables: the table; iptables: the jumps and KUBE-* chains). */
export async function removeServiceProxy(netns: string, mode: LabServiceProxyMode, signal?: AbortSignal): Promise<void> {
    const text = mode === "nftables" ? `add table ${table}\ndelete table ${table}\n` : iptablesTables(await iptablesSave(netns, signal));
    await withFile(text, (file) => run(netns, mode === "nftables" ? ["nft", "-f", file] : ["iptables-restore", "-w", "5", file], signal).then(() => undefined));
}

/** Counts in an `iptables-save` of one table: rules, and chains by prefix. */
export function countIptablesSave(save: string): { rules: number; chains: (prefix: string) => number; rulesIn: (chain: string) => number } {
    const lines = save.split("\n");
    return {
        rules: lines.filter((l) => l.startsWith("-A ")).length,
        chains: (prefix) => lines.filter((l) => l.startsWith(`:${prefix}`)).length,
        rulesIn: (chain) => lines.filter((l) => l.startsWith(`-A ${chain} `)).length,
    };
}

/** Counts in `nft -j list table ip kube-proxy` output (libnftables JSON: one object per table, chain, rule, set, map). */
export function countNftJson(json: string): Record<string, number> {
    const items = (JSON.parse(json) as { nftables: Record<string, { name?: string; elem?: unknown[] }>[] }).nftables;
    const chains = items.filter((i) => i.chain).map((i) => i.chain?.name ?? "");
    const serviceIps = items.find((i) => i.map?.name === "service-ips")?.map;
    return {
        "nft chains": chains.length,
        "nft rules": items.filter((i) => i.rule).length,
        "service-* chains": chains.filter((c) => c.startsWith("service-") && c.includes("/")).length,
        "endpoint-* chains": chains.filter((c) => c.startsWith("endpoint-")).length,
        "service-ips elements": serviceIps?.elem?.length ?? 0,
    };
}

/** What `mode`'s proxy has installed in `netns`, read from the kernel. */
export async function readServiceProxy(netns: string, mode: LabServiceProxyMode, signal?: AbortSignal): Promise<Record<string, number>> {
    if (mode === "nftables") {
        const listed = await runProcess(inNamespace(netns, ["nft", "-j", "list", "table", "ip", "kube-proxy"]), { timeoutMs: commandTimeoutMs, signal });
        if (listed.code !== 0 && /No such file or directory/.test(listed.stderr)) return countNftJson('{"nftables": []}');
        if (listed.code !== 0) throw new Error(`${netns}: nft -j list table ip kube-proxy failed (${describeExit(listed)}): ${listed.stderr.trim()}`);
        return countNftJson(listed.stdout);
    }
    const nat = countIptablesSave(await run(netns, ["iptables-save", "-t", "nat"], signal));
    const filter = countIptablesSave(await run(netns, ["iptables-save", "-t", "filter"], signal));
    return {
        "iptables nat rules": nat.rules,
        "iptables filter rules": filter.rules,
        "KUBE-SERVICES rules": nat.rulesIn("KUBE-SERVICES"),
        "KUBE-SVC-* chains": nat.chains("KUBE-SVC-"),
        "KUBE-SEP-* chains": nat.chains("KUBE-SEP-"),
    };
}

/** The programs installing and reading back `mode` starts (lab/tools.ts; core/tools.ts has their packages). */
export function serviceProxyPrograms(mode: LabServiceProxyMode): string[] {
    return mode === "nftables" ? ["nft"] : ["iptables", "iptables-save", "iptables-restore", "sysctl"];
}

// ---- IPVS

/** What this machine shows of IPVS (the kernel's, shared by every namespace). */
export interface IpvsProbe {
    /** /proc/net/ip_vs exists: IPVS is built in or its module is loaded. */
    readonly procNetIpVs: boolean;
    /** The running kernel's modules.dep lists ip_vs.ko (loadable with modprobe). */
    readonly moduleAvailable: boolean;
    readonly kernelRelease: string;
}

export function probeIpvs(): IpvsProbe {
    const kernelRelease = release();
    let moduleAvailable = false;
    try {
        moduleAvailable = /(^|\/)ip_vs\.ko/m.test(readFileSync(`/lib/modules/${kernelRelease}/modules.dep`, "utf8"));
    } catch {
        moduleAvailable = false;
    }
    return { procNetIpVs: existsSync("/proc/net/ip_vs"), moduleAvailable, kernelRelease };
}

/** Why kube-proxy's IPVS mode cannot run here, or undefined when it can (as lab.ts `unsupportedReason` words kernels without ipip or WireGuard). */
export function ipvsUnsupportedReason(p: IpvsProbe): string | undefined {
    if (p.procNetIpVs || p.moduleAvailable) return undefined;
    return `this kernel has no IPVS (CONFIG_IP_VS / module ip_vs: /proc/net/ip_vs is absent and /lib/modules/${p.kernelRelease}/modules.dep lists no ip_vs.ko)`;
}
