/**
 * Reading `cilium-dbg status` (bench/measure/cilium-status.ts). The outputs in testdata/ are cilium 1.18's
 * layout: pkg/client/client.go `FormatStatusResponse` through cilium-dbg/cmd/status.go's
 * tabwriter (see aws-k3s.test.ts for how they were laid out). Host routing is the API's
 * Routing.intra-host-routing-mode, enum BPF | Legacy (api/v1/models/routing.go).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { describeCiliumDatapath, parseCiliumStatus } from "./cilium-status";

const output = (which: "bpf" | "legacy") => fs.readFileSync(path.join(__dirname, "..", "testdata", `cilium-dbg-status-${which}.txt`), "utf8");

describe("cilium-dbg status", () => {
    it("eBPF host routing with BPF masquerading, and the legacy fallback with iptables masquerading", () => {
        expect(describeCiliumDatapath(parseCiliumStatus(output("bpf")))).toBe("host routing: BPF, masquerading: BPF");
        expect(describeCiliumDatapath(parseCiliumStatus(output("legacy")))).toBe("host routing: Legacy, masquerading: IPTables");
    });

    it("the ip-masq-agent variant and disabled masquerading keep their words", () => {
        const withMasq = (line: string) => `Routing:                 Network: Native   Host: BPF\n${line}\n`;
        expect(parseCiliumStatus(withMasq("Masquerading:            BPF (ip-masq-agent)   [ens5]   10.42.0.0/16 [IPv4: Enabled, IPv6: Disabled]")).masquerading).toBe("BPF (ip-masq-agent)");
        expect(parseCiliumStatus(withMasq("Masquerading:            Disabled")).masquerading).toBe("Disabled");
    });

    it("an output without the Routing or Masquerading line, or with an unknown host routing, is an error naming it, never a guess", () => {
        const bpf = output("bpf");
        expect(() => parseCiliumStatus(bpf.replace(/^Routing:.*\n/m, ""))).toThrow(/no "Routing: Network: … Host: …" line \(got: KVStore: Disabled/);
        expect(() => parseCiliumStatus(bpf.replace(/^Masquerading:.*\n/m, ""))).toThrow(/no "Masquerading:" line/);
        expect(() => parseCiliumStatus(bpf.replace("Host: BPF", "Host: XDP"))).toThrow('host routing "XDP" is neither BPF nor Legacy (line: Routing: Network: Tunnel [vxlan] Host: XDP)');
        expect(() => parseCiliumStatus("")).toThrow(/got: nothing/);
    });
});
