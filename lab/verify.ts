/**
 * Evidence that a built mode's datapath is what it claims: what crosses the underlay (a bounded
 * tcpdump capture, read back from the pcap), pod-to-pod reachability across nodes, the pod MTU
 * (interface and path), and BGP state. Used by the tests and by `npm run lab -- --verify`.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { modeFacts } from "../components/modes";
import { inNamespace, runCommand } from "./exec";
import { isClusterMode } from "./modes";
import type { LabTopology, LabWorkload } from "./topology";

/** The tcpdump capture filter that selects this mode's node-to-node pod traffic on the underlay. */
export function underlayCaptureFilter(t: LabTopology, from: LabWorkload, to: LabWorkload): string {
    const tunnel = isClusterMode(t.mode) ? modeFacts[t.mode].tunnel : undefined;
    if (tunnel?.kind === "vxlan") return `udp dst port ${tunnel.port}`;
    if (tunnel?.kind === "ipip") return "ip proto 4";
    return `icmp and src host ${from.ip} and dst host ${to.ip}`;
}

/** Options for tcpdump's reader: port 8472 is not VXLAN's IANA port, so tcpdump is told (-T vxlan). */
export function pcapReadArgs(t: LabTopology, pcap: string): string[] {
    const tunnel = isClusterMode(t.mode) ? modeFacts[t.mode].tunnel : undefined;
    return ["tcpdump", "-r", pcap, "-nn", ...(tunnel?.kind === "vxlan" ? ["-T", "vxlan"] : [])];
}

/** A pod on node 1 and one on node 2 (the pair every cross-node check uses). */
export function crossNodePair(t: LabTopology): { from: LabWorkload; to: LabWorkload } {
    const pods = t.workloads.filter((w) => w.hostInterface !== undefined);
    const from = pods.find((w) => w.node === 0);
    const to = pods.find((w) => w.node === 1);
    if (!from || !to) throw new Error(`${t.mode}: no pod pair across nodes (mode without routable pod addresses)`);
    return { from, to };
}

export interface Capture {
    /** `tcpdump -r` output, one packet per line (encapsulated packets show the inner packet too). */
    readonly text: string;
    readonly packets: number;
}

/**
 * Captures on the underlay port of node 1 (in the underlay namespace, where frames are still
 * encapsulated), bounded by packet count and time, while `traffic` runs; returns the decoded pcap.
 */
export async function captureOnUnderlay(t: LabTopology, runDir: string, filter: string, traffic: () => Promise<unknown>, count = 2, timeoutSeconds = 6): Promise<Capture> {
    const pcap = `${runDir}/${t.name}-underlay-${Date.now()}.pcap`;
    const [program, ...args] = inNamespace(t.underlay.netns, ["timeout", String(timeoutSeconds), "tcpdump", "-i", t.nodes[0].name, "-nn", "-U", "-c", String(count), "-w", pcap, filter]);
    const dump = spawn(program, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    const exited = new Promise<void>((resolve) => dump.once("exit", () => resolve()));
    await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`tcpdump did not start listening: ${stderr}`)), 5000);
        dump.stderr.on("data", (chunk: Buffer) => {
            stderr += chunk.toString();
            if (stderr.includes("listening on")) {
                clearTimeout(timer);
                resolve();
            }
        });
        void exited.then(() => {
            clearTimeout(timer);
            reject(new Error(`tcpdump exited before listening: ${stderr.trim()}`));
        });
    });
    await traffic();
    await exited;
    const read = await runCommand(pcapReadArgs(t, pcap));
    rmSync(pcap, { force: true });
    const text = read.stdout.trim();
    return { text, packets: text === "" ? 0 : text.split("\n").filter((l) => /^\d/.test(l)).length };
}

export interface PingResult {
    readonly ok: boolean;
    readonly output: string;
}

/** `ping` from one namespace to an address: `size` bytes of payload, DF set when `dontFragment`. */
export async function ping(netns: string, ip: string, options: { count?: number; size?: number; dontFragment?: boolean } = {}): Promise<PingResult> {
    const argv = [
        "ping",
        "-n",
        "-c",
        String(options.count ?? 2),
        "-i",
        "0.2",
        "-W",
        "1",
        ...(options.size !== undefined ? ["-s", String(options.size)] : []),
        ...(options.dontFragment ? ["-M", "do"] : []),
        ip,
    ];
    const r = await runCommand(inNamespace(netns, argv), 10_000);
    return { ok: r.code === 0, output: (r.stdout + r.stderr).trim() };
}

/** The MTU of an interface in a namespace, as the kernel reports it. */
export async function interfaceMtu(netns: string, device: string): Promise<number> {
    const r = await runCommand(["ip", "-n", netns, "-o", "link", "show", device]);
    const mtu = /\bmtu (\d+)/.exec(r.stdout)?.[1];
    if (!mtu) throw new Error(`no MTU for ${device} in ${netns}: ${r.stderr.trim() || r.stdout.trim()}`);
    return Number(mtu);
}

/** ICMP echo payload that fills a packet of `mtu` bytes exactly (20 B IPv4 + 8 B ICMP headers). */
export function fullSizePayload(mtu: number): number {
    return mtu - 28;
}

/** `birdc show protocols` through a node's BIRD socket. */
export async function birdProtocols(socket: string): Promise<string> {
    const r = await runCommand(["birdc", "-s", socket, "show", "protocols"], 5000);
    return r.stdout + r.stderr;
}

/** Routes BIRD installed in a node's kernel table. */
export async function birdRoutes(netns: string): Promise<string> {
    const r = await runCommand(["ip", "-n", netns, "route", "show", "proto", "bird"]);
    return r.stdout.trim();
}
