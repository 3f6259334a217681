/**
 * TEST ONLY: network namespaces and veth pairs for the root tests, named by the caller's prefix so
 * a test only ever deletes its own.
 */
import { execFileSync } from "node:child_process";

export function ip(...args: string[]): void {
    execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Runs a command in a namespace and returns what it printed. */
export function inNs(name: string, ...args: string[]): string {
    return execFileSync("ip", ["netns", "exec", name, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Makes the namespaces, each with its loopback up. */
export function addNamespaces(names: Iterable<string>): void {
    for (const n of names) {
        ip("netns", "add", n);
        inNs(n, "ip", "link", "set", "lo", "up");
    }
}

/** A veth pair between namespaces `a` and `b`, named `aIf` and `bIf` there, addressed and up. */
export function vethPair(prefix: string, a: string, aIf: string, aAddr: string, b: string, bIf: string, bAddr: string, mtu = 1500): void {
    ip("link", "add", `${prefix}a`, "type", "veth", "peer", "name", `${prefix}b`);
    ip("link", "set", `${prefix}a`, "netns", a);
    ip("link", "set", `${prefix}b`, "netns", b);
    inNs(a, "ip", "link", "set", `${prefix}a`, "name", aIf);
    inNs(b, "ip", "link", "set", `${prefix}b`, "name", bIf);
    for (const [n, dev, addr] of [
        [a, aIf, aAddr],
        [b, bIf, bAddr],
    ]) {
        inNs(n, "ip", "link", "set", dev, "mtu", String(mtu));
        inNs(n, "ip", "addr", "add", addr, "dev", dev);
        inNs(n, "ip", "link", "set", dev, "up");
    }
}
