/**
 * Measures what every result is recorded with: kernel, CPUs, the MTU actually on the NIC and on
 * a pod's interface (FACTS.md: MTU is the biggest single cause of wrong conclusions).
 */
import { environmentCommand } from "./commands";
import { parseKeyValues } from "./parse";
import { runChecked, type Shell } from "./shell";
import type { NodeEnvironment } from "./session";

const environmentTimeoutMs = 20_000;

/** Kernel, CPUs and measured NIC MTU of one node, toward `peerIp`. */
export async function measureNode(name: string, shell: Shell, peerIp: string, signal?: AbortSignal): Promise<NodeEnvironment> {
    const kv = parseKeyValues((await runChecked(shell, environmentCommand(peerIp), { timeoutMs: environmentTimeoutMs, signal })).stdout);
    return {
        name,
        kernel: kv.kernel ?? "unknown",
        cpus: Number(kv.cpus),
        clkTck: Number(kv.clkTck) || 100,
        nicInterface: kv.interface ?? "unknown",
        nicMtu: Number(kv.mtu),
    };
}

/** The measured MTU of a pod's interface toward `peerIp`. */
export async function measurePodMtu(shell: Shell, peerIp: string, signal?: AbortSignal): Promise<{ mtu: number; iface: string }> {
    const kv = parseKeyValues((await runChecked(shell, environmentCommand(peerIp), { timeoutMs: environmentTimeoutMs, signal })).stdout);
    return { mtu: Number(kv.mtu), iface: kv.interface ?? "unknown" };
}
