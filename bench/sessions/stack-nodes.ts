/**
 * The nodes of an AWS stack as the session's parts see them: their names and private addresses,
 * their SSH connections, how errors name them, and the host-network endpoints (the node itself).
 */
import { NodeEndpointShell, type NodeTransport } from "./pod-netns";
import type { Endpoint } from "./session";
import type { SshShell } from "./ssh";

export class StackNodes {
    /** Host-network endpoints' shells, one per node, layered on the node's connection. */
    private readonly endpointShells = new Map<number, NodeEndpointShell>();

    constructor(
        readonly targetName: string,
        readonly nodes: readonly { name: string; privateIp: string }[],
        readonly hosts: readonly SshShell[],
    ) {}

    /** How errors name the target. */
    get where(): string {
        return `target "${this.targetName}"`;
    }

    label(node: number): string {
        return `node ${node + 1} (${this.nodes[node].name})`;
    }

    /** Runs commands on a node over its connection (for the shells layered on it). */
    transport(node: number): NodeTransport {
        return (c, o, t, s) => this.hosts[node].stream(c, o, t, s);
    }

    /** The node itself, `count` times (host-network endpoints share one shell per node). */
    endpoints(node: number, count: number): Endpoint[] {
        let shell = this.endpointShells.get(node);
        if (!shell) {
            shell = new NodeEndpointShell(`${this.targetName} ${this.label(node)}, host network`, this.transport(node));
            this.endpointShells.set(node, shell);
        }
        return Array.from({ length: count }, (_, i) => ({ name: `${this.nodes[node].name}#${i}`, ip: this.nodes[node].privateIp, node, hostNetwork: true, shell }));
    }

    /** The host-network endpoints' shells (to stop what they still run; the connections stay). */
    endpointShellList(): NodeEndpointShell[] {
        return [...this.endpointShells.values()];
    }
}
