/**
 * The Service-proxy axis on the command line: `npm run lab -- --service-proxy iptables,nftables
 * --services 0,1000,10000` (issue 23) parses to mode × proxy targets and the axis's cases, bad
 * values are refused with exit 2's UsageError naming the option, the planned time of that command
 * fits 10 minutes, and `npm run bench -- … --service-proxy` refuses a stack that runs another proxy.
 */
import { describe, expect, it } from "vitest";
import { checkServiceProxies, parseBenchCommand } from "../bench/cli";
import { serviceAxisLabProfile } from "../bench/profiles";
import { plannedToolSeconds, resolveSettings } from "../bench/run";
import type { Target } from "../bench/targets";
import { UsageError } from "../core/errors";
import { parseLabCommand } from "./cli";
import { labTarget, labTargetName } from "./lab";
import { labTopology, topologyNamespaces } from "./topology";

const issueCommand = ["--service-proxy", "iptables,nftables", "--services", "0,1000,10000"];

describe("npm run lab -- --service-proxy … --services …", () => {
    it("the issue's command: vxlan × both proxies, the axis's cases at 0, 1000 and 10000 Services", () => {
        const cmd = parseLabCommand(issueCommand);
        expect(cmd).toMatchObject({ action: "run", modes: ["vxlan"], serviceProxies: ["iptables", "nftables"] });
        expect(cmd.bench).toMatchObject({ serviceCounts: [0, 1000, 10000], measurements: ["guestbook"], cases: ["guestbook.connect", "guestbook.read"] });
        expect(cmd.bench.baseline).toBeUndefined();
    });

    it("--services defaults to the issue's counts; --modes picks the pod-network modes", () => {
        expect(parseLabCommand(["--service-proxy", "nftables"]).bench.serviceCounts).toEqual([0, 1000, 10000]);
        expect(parseLabCommand(["--service-proxy", "iptables", "--modes", "vxlan,host-gw"]).modes).toEqual(["vxlan", "host-gw"]);
    });

    it.each([
        [["--service-proxy", "ebpf"], /--service-proxy: "ebpf" is not allowed; use iptables, nftables/],
        [["--service-proxy", "iptables,iptables"], /--service-proxy: .*iptables.*twice/],
        [["--service-proxy", "iptables", "--services", "0,-1"], /--services: /],
        [["--service-proxy", "iptables", "--services", "0,50001"], /--services: .*50001/],
        [["--service-proxy", "iptables", "--services", "1000,1000"], /--services: .*1000.*twice/],
        [["--service-proxy", "iptables", "--services", "1e3"], /--services: /],
        [["--services", "0,1000"], /--services: needs --service-proxy/],
        [["--service-proxy", "iptables", "--modes", "host"], /--modes: host has no Service proxy in its path/],
        [["--service-proxy", "iptables", "--measurements", "iperf3"], /--measurements: not with --service-proxy/],
        [[...issueCommand, "--services", "0"], /--services: given twice/],
    ])("%j is refused", (argv, message) => {
        expect(() => parseLabCommand(argv)).toThrow(UsageError);
        expect(() => parseLabCommand(argv)).toThrow(message);
    });

    it("the issue's command plans at most 5 minutes of tools, leaving half of the 10 for building, rule sets and probes", () => {
        const cmd = parseLabCommand(issueCommand);
        const targets = cmd.serviceProxies!.map((p) => labTarget(labTopology("vxlan", "a1b2c3", p)));
        const seconds = plannedToolSeconds(targets, resolveSettings(targets, { ...cmd.bench, outDir: "x" }));
        // 3 counts × 2 targets × 5 repetitions × (connect 1 + 2 s and curl's 2 s; reads 1 + 2 s).
        expect(seconds).toBe(3 * 2 * serviceAxisLabProfile.repetitions * (3 + 2 + 3));
        expect(seconds).toBeLessThanOrEqual(300);
    });

    it("one mode built once per proxy: its own names, target and proxy field", () => {
        const [a, b] = (["iptables", "nftables"] as const).map((p) => labTopology("vxlan", "a1b2c3", p));
        expect(topologyNamespaces(a).filter((n) => topologyNamespaces(b).includes(n))).toEqual([]);
        expect(labTarget(b)).toMatchObject({ name: "lab-vxlan-nftables", mode: "vxlan", lab: { serviceProxy: { mode: "nftables" } } });
        expect(labTargetName("vxlan")).toBe("lab-vxlan");
        expect(labTarget(labTopology("vxlan", "a1b2c3")).lab).not.toHaveProperty("serviceProxy");
    });
});

describe("npm run bench -- … --service-proxy … --services …", () => {
    const stack = (name: string, serviceProxy?: Target["serviceProxy"]): Target => ({
        name,
        platform: "aws-k3s",
        mode: "vxlan",
        nodePort: 30080,
        nodes: [],
        podCidr: "10.42.0.0/16",
        mtu: { node: 9001, pod: 8951 },
        serviceProxy,
    });

    it("--services feeds the axis with its cases; --service-proxy is kept for the check", () => {
        const cmd = parseBenchCommand(["s1", "--service-proxy", "iptables,nftables", "--services", "0,1000"]);
        expect(cmd.serviceProxies).toEqual(["iptables", "nftables"]);
        expect(cmd.options).toMatchObject({ serviceCounts: [0, 1000], measurements: ["guestbook"], cases: ["guestbook.connect", "guestbook.read"] });
        expect(parseBenchCommand(["s1", "--services", "0", "--cases", "guestbook.connect"]).options).toMatchObject({ cases: ["guestbook.connect"], measurements: undefined });
    });

    it("refuses a stack running another proxy, or one whose outputs do not say, naming it", () => {
        expect(() => checkServiceProxies([stack("vx-ipt", "iptables"), stack("vx-nft", "nftables")], ["iptables", "nftables"])).not.toThrow();
        expect(() => checkServiceProxies([stack("vx-ipt", "iptables"), stack("cilium", "ebpf")], ["iptables", "nftables"])).toThrow(/--service-proxy: cilium runs ebpf; allowed: iptables, nftables/);
        expect(() => checkServiceProxies([stack("old")], ["iptables"])).toThrow(/old runs an unknown proxy \(its outputs have no serviceProxy\)/);
    });
});
