/**
 * What each Cilium agent says its datapath is, read per run from `cilium-dbg status` in the node's
 * cilium-agent container: the values ask for eBPF host routing (components/ciliumNetwork.ts), but
 * an agent that misses a requirement falls back to legacy host routing on its own, so a run
 * records what it got. The output format and its sources: docs/facts.md, "Cilium agent status".
 */

/** One agent's datapath, as it reported it. */
export interface CiliumDatapath {
    /** Intra-host routing: eBPF host routing, or the legacy path through the host stack. */
    readonly hostRouting: "BPF" | "Legacy";
    /** Masquerading implementation: "BPF", "BPF (ip-masq-agent)", "IPTables" or "Disabled". */
    readonly masquerading: string;
    /** Inter-host routing: "Native", or "Tunnel [vxlan]". */
    readonly network: string;
    /** The two lines as printed, runs of spaces folded, for the record. */
    readonly routingLine: string;
    readonly masqueradingLine: string;
}

/**
 * Runs `cilium-dbg status` in the node's own cilium-agent container, as root (crictl talks to
 * containerd's root-owned socket; k3s bundles crictl as `k3s crictl`). `crictl ps` lists running
 * containers by default and filters `--name` by regular expression; `-q` prints only ids
 * (kubernetes-sigs/cri-tools cmd/crictl/container.go). Each node's own agent, because each decides
 * its host routing for its own node.
 */
export function ciliumStatusCommand(): string {
    return (
        "id=$(k3s crictl ps --name '^cilium-agent$' -q | head -n 1); " +
        'if [ -z "$id" ]; then echo "no running cilium-agent container on this node (k3s crictl ps --name ^cilium-agent$)" >&2; exit 1; fi; ' +
        'k3s crictl exec "$id" cilium-dbg status'
    );
}

const routingPattern = /^Routing:\s+Network:\s+(Native|Tunnel(?: \[[^\]]*\])?)\s+Host:\s+(\S+)\s*$/m;
const masqueradingPattern = /^Masquerading:\s+(\S.*?)\s*$/m;

/** Reads the Routing and Masquerading lines; a missing line or an unknown host routing is an error naming it. */
export function parseCiliumStatus(stdout: string): CiliumDatapath {
    const routing = routingPattern.exec(stdout);
    if (!routing) throw new Error(`cilium-dbg status printed no "Routing: Network: … Host: …" line (got: ${firstLines(stdout)})`);
    const host = routing[2];
    if (host !== "BPF" && host !== "Legacy") throw new Error(`cilium-dbg status: host routing "${host}" is neither BPF nor Legacy (line: ${fold(routing[0])})`);
    const masq = masqueradingPattern.exec(stdout);
    if (!masq) throw new Error(`cilium-dbg status printed no "Masquerading:" line (got: ${firstLines(stdout)})`);
    const text = fold(masq[1]);
    const masquerading = /^BPF \(ip-masq-agent\)/.test(text) ? "BPF (ip-masq-agent)" : (text.split(" ")[0] ?? text);
    return { hostRouting: host, masquerading, network: fold(routing[1]), routingLine: fold(routing[0]), masqueradingLine: fold(masq[0]) };
}

/** "host routing: BPF, masquerading: BPF" for tables and notes. */
export function describeCiliumDatapath(d: CiliumDatapath): string {
    return `host routing: ${d.hostRouting}, masquerading: ${d.masquerading}`;
}

function fold(s: string): string {
    return s.replace(/\s+/g, " ").trim();
}

function firstLines(s: string): string {
    const text = fold(s.split("\n").slice(0, 3).join(" | "));
    return text === "" ? "nothing" : text.slice(0, 200);
}
