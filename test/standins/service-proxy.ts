/**
 * TEST ONLY: a stand-in ServiceProxyControl (bench/sessions/session.ts) on a loopback session.
 * It refuses what the real ones refuse before touching anything — a count that is not a whole
 * number, a negative one, one above `maxServiceCount` (more ClusterIPs than the service CIDR
 * leaves; components/serviceCounts.ts), a call after an abort — and reports installed counts
 * that grow with the Services it was given, in the shape the real ones read back (names of
 * kube-proxy's chains and maps; the numbers are the stand-in's own, not kube-proxy's).
 * Never imported by production code.
 */
import { maxServiceCount } from "../../components/serviceCounts";
import type { ServiceProxyMode } from "../../components/serviceProxy";
import { InterruptedError } from "../../core/errors";
import { LoopbackSession, type LoopbackOptions } from "../../bench/sessions/loopback";
import type { ServiceProxyControl } from "../../bench/sessions/session";
import type { Target } from "../../bench/targets";

/** The guestbook's own Services (frontend, Redis leader, Redis follower), there at count 0. */
const ownServices = 3;

export class StandinServiceProxy implements ServiceProxyControl {
    private services = 0;
    /** Every call, in order: "set 1000", "installed". */
    readonly calls: string[] = [];

    constructor(
        readonly mode: ServiceProxyMode,
        /** Fails `setServices` for this count (as an API server answering 5xx would), to test what the runner keeps. */
        private readonly failAt?: number,
    ) {}

    async setServices(count: number, signal?: AbortSignal): Promise<void> {
        if (signal?.aborted) throw new InterruptedError("aborted");
        if (!Number.isInteger(count) || count < 0 || count > maxServiceCount) {
            throw new Error(`setServices: ${count} is not allowed; use a whole number from 0 to ${maxServiceCount}`);
        }
        if (count === this.failAt) throw new Error(`stand-in: creating ${count} Services failed`);
        this.calls.push(`set ${count}`);
        this.services = count;
    }

    async installed(signal?: AbortSignal): Promise<Readonly<Record<string, number>>> {
        if (signal?.aborted) throw new InterruptedError("aborted");
        this.calls.push("installed");
        const n = ownServices + this.services;
        if (this.mode === "iptables") return { "KUBE-SVC-* chains": n, "iptables nat rules": 20 + 6 * n };
        if (this.mode === "nftables") return { "service-ips map elements": n, "service-* chains": n };
        return { "cilium service map entries": n };
    }
}

/** A loopback session whose Service count can be changed (the stand-in above). */
export class LoopbackServiceSession extends LoopbackSession {
    constructor(
        target: Target,
        options: LoopbackOptions,
        readonly serviceProxy: StandinServiceProxy,
    ) {
        super(target, options);
    }
}
