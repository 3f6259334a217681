/**
 * Config validation: every bad value fails before any resource exists, with a message naming
 * the key, the value and what is allowed. Defaults come from Pulumi.yaml, as the CLI applies them.
 */
import { describe, expect, it } from "vitest";
import { readProject } from "../components/project";
import { stackConfig } from "../render/evaluate";
import { ConfigError, parseSettings, settingKeys, type SettingKey } from "../components/settings";

function settingsWith(overrides: Record<string, string | null>) {
    const config = stackConfig("vxlan", overrides);
    return parseSettings((key: SettingKey) => config[`cni-compare:${key}`]);
}

function problemsOf(overrides: Record<string, string | null>): string[] {
    try {
        settingsWith(overrides);
    } catch (e) {
        if (e instanceof ConfigError) return [...e.problems];
        throw e;
    }
    throw new Error(`config ${JSON.stringify(overrides)} was accepted`);
}

describe("config schema", () => {
    it("Pulumi.yaml declares exactly the keys the program reads, each with a description", () => {
        const declared = readProject().config ?? {};
        expect(Object.keys(declared).sort()).toEqual([...settingKeys].sort());
        for (const [key, schema] of Object.entries(declared)) {
            expect((schema as { description?: string }).description, key).toBeTruthy();
        }
    });

    it("the defaults plus a stack file's mode and an operator CIDR are a valid configuration", () => {
        const settings = settingsWith({});
        expect(settings).toMatchObject({
            mode: "vxlan",
            instanceType: "c6i.4xlarge",
            frontendReplicas: 10,
            redisFollowerReplicas: 5,
            nodePort: 30099,
            vpcCidr: "10.0.0.0/16",
            subnetCidr: "10.0.0.0/24",
            podCidr: "10.42.0.0/16",
            loadGenerator: true,
            spot: false,
        });
        expect(settings.sshPublicKey).toBeUndefined();
        expect(settings.certificateArn).toBeUndefined();
    });
});

describe("bad input is refused, naming the key, the value and what is allowed", () => {
    it.each<[string, Record<string, string | null>, string]>([
        ["an unknown mode", { mode: "weave" }, 'mode: "weave" is not a network mode; allowed: vxlan, host-gw, wireguard, calico, calico-ipip, calico-vxlan, cilium, cilium-native, host, bridge'],
        ["a missing mode", { mode: null }, "mode: (not set) is required"],
        ["a type that is not 16 vCPU / 32 GiB", { instanceType: "c5n.4xlarge" }, 'instanceType: "c5n.4xlarge" is not a 16 vCPU / 32 GiB type; allowed: c5.4xlarge,'],
        ["a malformed CIDR", { operatorCidr: "203.0.113.300/32" }, 'operatorCidr: "203.0.113.300/32" is not an IPv4 CIDR'],
        ["an address without a prefix", { operatorCidr: "203.0.113.7" }, 'operatorCidr: "203.0.113.7" is an address, not a range (did you mean 203.0.113.7/32?)'],
        ["a CIDR with host bits", { vpcCidr: "10.0.1.0/16" }, 'vpcCidr: "10.0.1.0/16" has host bits set (the range is 10.0.0.0/16)'],
        ["an operator CIDR of 0.0.0.0/0", { operatorCidr: "0.0.0.0/0" }, 'operatorCidr: "0.0.0.0/0" must have a prefix from /8 to /32 (your own address or network, never 0.0.0.0/0)'],
        ["a missing operator CIDR", { operatorCidr: null }, "operatorCidr: (not set) is required"],
        ["an empty operator CIDR", { operatorCidr: "" }, 'operatorCidr: "" is required'],
        ["an empty image", { frontendImage: " " }, 'frontendImage: " " is required'],
        ["overlapping VPC and pod CIDRs", { vpcCidr: "10.42.0.0/16" }, 'podCidr: "10.42.0.0/16" overlaps vpcCidr 10.42.0.0/16'],
        ["a pod CIDR inside the service range", { podCidr: "10.43.0.0/20" }, 'podCidr: "10.43.0.0/20" overlaps k3s\'s service range 10.43.0.0/16'],
        ["a pod CIDR too small for two nodes", { podCidr: "10.44.0.0/24" }, 'podCidr: "10.44.0.0/24" must have a prefix from /8 to /23'],
        ["a NodePort below the range", { nodePort: "8080" }, 'nodePort: "8080" must be a whole number from 30000 to 32767'],
        ["a NodePort above the range", { nodePort: "32768" }, 'nodePort: "32768" must be a whole number from 30000 to 32767'],
        ["zero frontends", { frontendReplicas: "0" }, 'frontendReplicas: "0" must be a whole number from 1 to 200'],
        ["zero followers", { redisFollowerReplicas: "0" }, 'redisFollowerReplicas: "0" must be a whole number from 1 to 50'],
        ["fractional replicas", { frontendReplicas: "2.5" }, 'frontendReplicas: "2.5" must be a whole number'],
        ["a k3s version that is not a release tag", { k3sVersion: "latest" }, 'k3sVersion: "latest" must be a k3s release tag like v1.33.4+k3s1'],
        ["a Calico version that is not a release tag", { calicoVersion: "3.30" }, 'calicoVersion: "3.30" must be a Calico release tag like v3.30.3'],
        ["a certificate that is not an ACM ARN", { certificateArn: "my-cert" }, 'certificateArn: "my-cert" must be an ACM certificate ARN'],
        ["a key that is not an OpenSSH public key", { sshPublicKey: "-----BEGIN RSA PRIVATE KEY-----" }, 'sshPublicKey: "-----BEGIN RSA PRIVATE K…" is not an OpenSSH public key'],
        ["a non-boolean loadGenerator", { loadGenerator: "yes" }, 'loadGenerator: "yes" must be true or false'],
        ["a non-boolean spot", { spot: "on" }, 'spot: "on" must be true or false'],
        ["an unknown Service proxy", { serviceProxy: "ipvs" }, 'serviceProxy: "ipvs" is not a Service proxy; allowed: iptables, nftables, ebpf'],
        ["eBPF without Cilium", { serviceProxy: "ebpf" }, 'serviceProxy: "ebpf" is not available in mode vxlan; allowed there: iptables, nftables'],
        ["kube-proxy's nftables in a Cilium mode", { mode: "cilium", serviceProxy: "nftables" }, 'serviceProxy: "nftables" is not available in mode cilium; allowed there: ebpf'],
        ["negative extra Services", { services: "-1" }, 'services: "-1" must be a whole number from 0 to 20000'],
        ["more extra Services than the bound", { services: "20001" }, 'services: "20001" must be a whole number from 0 to 20000'],
    ])("%s", (_what, overrides, message) => {
        const problems = problemsOf(overrides);
        expect(
            problems.some((p) => p.startsWith(message)),
            `got:\n${problems.join("\n")}`,
        ).toBe(true);
    });

    it("reports every problem at once", () => {
        const problems = problemsOf({ mode: "weave", nodePort: "1", operatorCidr: "0.0.0.0/0" });
        expect(problems.map((p) => p.split(":")[0]).sort()).toEqual(["mode", "nodePort", "operatorCidr"]);
    });

    it("accepts every allowed value at the edges", () => {
        for (const mode of ["vxlan", "host-gw", "wireguard", "calico", "calico-ipip", "calico-vxlan", "cilium", "cilium-native", "host", "bridge"]) {
            expect(settingsWith({ mode }).mode).toBe(mode);
        }
        // The baselines carry their guestbook attachment from the mode table (issue #14).
        expect(settingsWith({ mode: "host" }).facts.guestbook).toEqual({ kind: "host-network", frontendPort: 80 });
        expect(settingsWith({ mode: "bridge" }).facts.guestbook).toEqual({ kind: "published-ports", frontendPort: 8081 });
        expect(settingsWith({ nodePort: "30000" }).nodePort).toBe(30000);
        expect(settingsWith({ nodePort: "32767" }).nodePort).toBe(32767);
        expect(settingsWith({ operatorCidr: "10.0.0.0/8" }).operatorCidr).toBe("10.0.0.0/8");
        expect(settingsWith({ vpcCidr: "172.16.0.0/20" }).subnetCidr).toBe("172.16.0.0/24");
        // The Service proxy (issue 23): unset, the mode's own; each mode's allowed set.
        expect(settingsWith({}).serviceProxy).toBe("iptables");
        expect(settingsWith({ mode: "cilium" }).serviceProxy).toBe("ebpf");
        expect(settingsWith({ mode: "cilium-native" }).serviceProxy).toBe("ebpf");
        expect(settingsWith({ serviceProxy: "nftables" }).serviceProxy).toBe("nftables");
        expect(settingsWith({ mode: "host", serviceProxy: "nftables" }).serviceProxy).toBe("nftables");
        expect(settingsWith({}).services).toBe(0);
        expect(settingsWith({ services: "20000" }).services).toBe(20000);
    });
});
