/** IPv4 CIDR arithmetic for validation and subnet carving (no library covers both in a few lines). */
import { isIPv4 } from "node:net";

export interface Cidr {
    readonly text: string;
    /** Network address as an unsigned 32-bit integer. */
    readonly base: number;
    readonly prefix: number;
}

function toInt(ip: string): number {
    return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function toIp(value: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

function size(prefix: number): number {
    return 2 ** (32 - prefix);
}

/** Parses "a.b.c.d/n". Returns a reason instead of a Cidr when the text is not a canonical CIDR. */
export function parseCidr(text: string): Cidr | { readonly problem: string } {
    const match = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
    if (!match) {
        return isIPv4(text.trim()) ? { problem: `is an address, not a range (did you mean ${text.trim()}/32?)` } : { problem: "is not an IPv4 CIDR like 203.0.113.7/32" };
    }
    const [, ip, prefixText] = match;
    const prefix = Number(prefixText);
    if (!isIPv4(ip) || prefix > 32) {
        return { problem: "is not an IPv4 CIDR like 203.0.113.7/32" };
    }
    const address = toInt(ip);
    const base = address - (address % size(prefix));
    if (base !== address) {
        return { problem: `has host bits set (the range is ${toIp(base)}/${prefix})` };
    }
    return { text: `${ip}/${prefix}`, base, prefix };
}

export function overlaps(a: Cidr, b: Cidr): boolean {
    return a.base < b.base + size(b.prefix) && b.base < a.base + size(a.prefix);
}

/** The first subnet of `prefix` bits inside `cidr` (the cidr itself when it is already that small). */
export function firstSubnet(cidr: Cidr, prefix: number): string {
    return `${toIp(cidr.base)}/${Math.max(prefix, cidr.prefix)}`;
}

/** True when the IPv4 address `ip` lies inside `cidr` (a canonical CIDR, as parseCidr accepts). */
export function containsIp(cidr: string, ip: string): boolean {
    const range = parseCidr(cidr);
    if ("problem" in range) throw new Error(`${cidr} ${range.problem}`);
    if (!isIPv4(ip)) throw new Error(`${ip} is not an IPv4 address`);
    const address = toInt(ip);
    return range.base <= address && address < range.base + size(range.prefix);
}

/** The address `offset` places after the network address of `cidr` (offset 0 is the network itself). */
export function addressIn(cidr: string, offset: number): string {
    const range = parseCidr(cidr);
    if ("problem" in range) throw new Error(`${cidr} ${range.problem}`);
    if (!Number.isInteger(offset) || offset < 0 || offset >= size(range.prefix)) throw new Error(`${cidr} has no address at offset ${offset}`);
    return toIp(range.base + offset);
}
