/**
 * TEST ONLY: a two-node routed lab in network namespaces the test creates and deletes (root):
 * hosts h1 (10.201.0.1) ↔ h2 (10.201.0.2); pod p1 10.202.1.2 behind h1, p2 10.202.2.2 behind
 * h2, with a smaller pod MTU. Namespaces are named `<prefix>-h1` … so a test only ever deletes
 * its own.
 */
import type { Target } from "../../bench/targets";
import { addNamespaces, inNs, ip, vethPair } from "../netns";

export interface RoutedLab {
    readonly ns: { readonly h1: string; readonly h2: string; readonly p1: string; readonly p2: string };
    readonly target: Target;
    build(): void;
    /** Deletes the namespaces this lab created (quiet for ones never created). */
    destroy(): void;
}

export function routedLab(prefix: string, podMtu = 1450): RoutedLab {
    const ns = { h1: `${prefix}-h1`, h2: `${prefix}-h2`, p1: `${prefix}-p1`, p2: `${prefix}-p2` };
    const target: Target = {
        name: "lab-routed",
        platform: "lab",
        mode: "host-gw",
        nodePort: 30080,
        nodes: [{ name: "h1" }, { name: "h2" }],
        podCidr: "10.202.0.0/16",
        mtu: { node: 1500, pod: podMtu },
        lab: {
            hosts: [
                { netns: ns.h1, ip: "10.201.0.1" },
                { netns: ns.h2, ip: "10.201.0.2" },
            ],
            pods: [
                { netns: ns.p1, ip: "10.202.1.2", node: 0 },
                { netns: ns.p2, ip: "10.202.2.2", node: 1 },
            ],
            loadGenerator: { netns: ns.h1, ip: "10.201.0.1" },
            frontendUrls: [],
        },
    };
    const build = () => {
        addNamespaces(Object.values(ns));
        const veth = (a: string, aIf: string, aAddr: string, b: string, bIf: string, bAddr: string, mtu = 1500) => vethPair(prefix, a, aIf, aAddr, b, bIf, bAddr, mtu);
        veth(ns.h1, "nic", "10.201.0.1/24", ns.h2, "nic", "10.201.0.2/24");
        veth(ns.h1, "cali1", "10.202.1.1/24", ns.p1, "eth0", "10.202.1.2/24", podMtu);
        veth(ns.h2, "cali2", "10.202.2.1/24", ns.p2, "eth0", "10.202.2.2/24", podMtu);
        inNs(ns.p1, "ip", "route", "add", "default", "via", "10.202.1.1");
        inNs(ns.p2, "ip", "route", "add", "default", "via", "10.202.2.1");
        inNs(ns.h1, "ip", "route", "add", "10.202.2.0/24", "via", "10.201.0.2");
        inNs(ns.h2, "ip", "route", "add", "10.202.1.0/24", "via", "10.201.0.1");
        for (const h of [ns.h1, ns.h2]) inNs(h, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    };
    const destroy = () => {
        for (const n of Object.values(ns)) {
            try {
                ip("netns", "del", n);
            } catch {
                // not created
            }
        }
    };
    return { ns, target, build, destroy };
}
