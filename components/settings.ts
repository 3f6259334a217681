/**
 * Stack configuration, parsed and validated once, before any resource is declared.
 * Every problem is reported together, each naming the key, the value and what is allowed.
 * Defaults live in Pulumi.yaml (the CLI applies them); this module only checks.
 */
import * as pulumi from "@pulumi/pulumi";
import { firstSubnet, overlaps, parseCidr, type Cidr } from "./cidr";
import { isNetworkMode, modeFacts, networkModes, type ModeFacts, type NetworkMode } from "./modes";
import { isServiceProxyMode, serviceProxyModes, type ServiceProxyMode } from "./serviceProxy";

/** EC2 types with exactly 16 vCPU and 32 GiB (FACTS.md; c5n.4xlarge has 42 GiB, so it is not one). */
export const comparisonInstanceTypes = ["c5.4xlarge", "c5a.4xlarge", "c5d.4xlarge", "c6i.4xlarge", "c6a.4xlarge", "c7i.4xlarge", "c7a.4xlarge"] as const;

/** k3s's default Service range: pods and the VPC must not overlap it either. */
export const serviceCidr = "10.43.0.0/16";

/**
 * The most extra Services a stack may hold (config `services`). The axis ends at 10000;
 * 20000 leaves one step beyond it. k3s's Service range (serviceCidr, a /16) holds 65534 ClusterIPs
 * (the apiserver never hands out the range's first and last address: kubernetes
 * pkg/registry/core/service/ipallocator), so the bound is the cluster's, not the range's.
 */
export const maxExtraServices = 20000;

/** Kubernetes' NodePort range (kube-apiserver --service-node-port-range default). */
export const nodePortRange = { min: 30000, max: 32767 } as const;

export interface GuestbookImages {
    readonly frontend: string;
    readonly redisLeader: string;
    readonly redisFollower: string;
}

export interface Settings {
    readonly mode: NetworkMode;
    readonly facts: ModeFacts;
    readonly operatorCidr: string;
    readonly instanceType: string;
    /** Undefined: generate a key pair. */
    readonly sshPublicKey?: string;
    readonly k3sVersion: string;
    readonly calicoVersion: string;
    readonly ciliumVersion: string;
    readonly frontendReplicas: number;
    readonly redisFollowerReplicas: number;
    readonly nodePort: number;
    /** Undefined: plain TCP listener on 80. */
    readonly certificateArn?: string;
    readonly vpcCidr: string;
    /** The nodes' (and load generator's) one subnet: the VPC's first /24. */
    readonly subnetCidr: string;
    readonly podCidr: string;
    readonly loadGenerator: boolean;
    /** Every instance on one-time Spot (both nodes and the load generator alike). */
    readonly spot: boolean;
    readonly images: GuestbookImages;
    /** Who implements Services: kube-proxy's iptables or nftables mode, or Cilium's eBPF. */
    readonly serviceProxy: ServiceProxyMode;
    /** Extra ClusterIP Services, each with endpoints, that exist while measuring (0: none). */
    readonly services: number;
}

/** The config keys this program reads (all declared in Pulumi.yaml). */
export const settingKeys = [
    "mode",
    "operatorCidr",
    "instanceType",
    "sshPublicKey",
    "k3sVersion",
    "calicoVersion",
    "ciliumVersion",
    "frontendReplicas",
    "redisFollowerReplicas",
    "nodePort",
    "certificateArn",
    "vpcCidr",
    "podCidr",
    "loadGenerator",
    "spot",
    "frontendImage",
    "redisLeaderImage",
    "redisFollowerImage",
    "serviceProxy",
    "services",
] as const;
export type SettingKey = (typeof settingKeys)[number];

/** Raised for invalid configuration; RunError prints the message without a stack trace. */
export class ConfigError extends pulumi.RunError {
    constructor(readonly problems: readonly string[]) {
        super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

/** Reads raw config values and collects every problem, each naming the key, the value and what is allowed. */
class ConfigReader {
    readonly problems: string[] = [];

    constructor(private readonly raw: (key: SettingKey) => string | undefined) {}

    bad(key: SettingKey, value: string | undefined, allowed: string): void {
        this.problems.push(`${key}: ${value === undefined ? "(not set)" : JSON.stringify(value)} ${allowed}`);
    }

    text(key: SettingKey): string {
        const value = this.raw(key)?.trim();
        if (!value) {
            this.bad(key, this.raw(key), `is required (pulumi config set ${key} …)`);
            return "";
        }
        return value;
    }

    optional(key: SettingKey): string | undefined {
        const value = this.raw(key)?.trim();
        return value ? value : undefined;
    }

    /** A required value that must match `pattern`. */
    matching(key: SettingKey, pattern: RegExp, allowed: string): string {
        const value = this.text(key);
        if (value !== "" && !pattern.test(value)) this.bad(key, value, allowed);
        return value;
    }

    integer(key: SettingKey, min: number, max: number): number {
        const value = this.text(key);
        const n = Number(value);
        if (value !== "" && !(Number.isInteger(n) && n >= min && n <= max)) {
            this.bad(key, value, `must be a whole number from ${min} to ${max}`);
        }
        return n;
    }

    flag(key: SettingKey): boolean {
        const value = this.text(key);
        if (value !== "" && value !== "true" && value !== "false") this.bad(key, value, "must be true or false");
        return value === "true";
    }

    cidr(key: SettingKey, minPrefix: number, maxPrefix: number, what: string): Cidr | undefined {
        const value = this.text(key);
        if (value === "") return undefined;
        const parsed = parseCidr(value);
        if ("problem" in parsed) {
            this.bad(key, value, parsed.problem);
            return undefined;
        }
        if (parsed.prefix < minPrefix || parsed.prefix > maxPrefix) {
            this.bad(key, value, `must have a prefix from /${minPrefix} to /${maxPrefix} (${what})`);
            return undefined;
        }
        return parsed;
    }
}

function checkMode(c: ConfigReader): string {
    const mode = c.text("mode");
    if (mode !== "" && !isNetworkMode(mode)) {
        c.bad("mode", mode, `is not a network mode; allowed: ${networkModes.join(", ")}`);
    }
    return mode;
}

function checkInstanceType(c: ConfigReader): string {
    const instanceType = c.text("instanceType");
    if (instanceType !== "" && !(comparisonInstanceTypes as readonly string[]).includes(instanceType)) {
        c.bad("instanceType", instanceType, `is not a 16 vCPU / 32 GiB type; allowed: ${comparisonInstanceTypes.join(", ")}`);
    }
    return instanceType;
}

function checkSshPublicKey(c: ConfigReader): string | undefined {
    const sshPublicKey = c.optional("sshPublicKey");
    if (sshPublicKey !== undefined && !/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?$/.test(sshPublicKey)) {
        c.bad("sshPublicKey", sshPublicKey.slice(0, 24) + "…", "is not an OpenSSH public key (ssh-ed25519 AAAA… comment)");
    }
    return sshPublicKey;
}

function checkVersions(c: ConfigReader): Pick<Settings, "k3sVersion" | "calicoVersion" | "ciliumVersion"> {
    return {
        k3sVersion: c.matching("k3sVersion", /^v1\.\d+\.\d+\+k3s\d+$/, "must be a k3s release tag like v1.33.4+k3s1"),
        calicoVersion: c.matching("calicoVersion", /^v3\.\d+\.\d+$/, "must be a Calico release tag like v3.30.3"),
        ciliumVersion: c.matching("ciliumVersion", /^1\.\d+\.\d+$/, "must be a Cilium chart version like 1.18.12"),
    };
}

function checkWorkloadSizes(c: ConfigReader): Pick<Settings, "frontendReplicas" | "redisFollowerReplicas" | "nodePort"> {
    return {
        frontendReplicas: c.integer("frontendReplicas", 1, 200),
        redisFollowerReplicas: c.integer("redisFollowerReplicas", 1, 50),
        nodePort: c.integer("nodePort", nodePortRange.min, nodePortRange.max),
    };
}

/**
 * The Service proxy: one the mode allows (modes.ts serviceProxies), or, unset, the mode's default.
 * Pulumi.yaml declares no default because it differs by mode. Checked only once the mode is valid.
 */
function checkServiceProxy(c: ConfigReader, mode: string): ServiceProxyMode | undefined {
    const raw = c.optional("serviceProxy");
    if (raw !== undefined && !isServiceProxyMode(raw)) {
        c.bad("serviceProxy", raw, `is not a Service proxy; allowed: ${serviceProxyModes.join(", ")}`);
        return undefined;
    }
    const value = raw as ServiceProxyMode | undefined;
    if (!isNetworkMode(mode)) return undefined;
    const allowed = modeFacts[mode].serviceProxies;
    if (value === undefined) return allowed[0];
    if (!(allowed as readonly string[]).includes(value)) {
        c.bad(
            "serviceProxy",
            value,
            `is not available in mode ${mode}; allowed there: ${allowed.join(", ")} (ebpf needs Cilium; iptables and nftables need kube-proxy, which the Cilium modes replace)`,
        );
    }
    return value;
}

function checkCertificateArn(c: ConfigReader): string | undefined {
    const certificateArn = c.optional("certificateArn");
    if (certificateArn !== undefined && !/^arn:aws[\w-]*:acm:[\w-]+:\d{12}:certificate\/[\w-]+$/.test(certificateArn)) {
        c.bad("certificateArn", certificateArn, "must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>) or empty");
    }
    return certificateArn;
}

/** The VPC and pod ranges, each within its prefix bounds, and no two of them (nor the Service range) overlapping. */
function checkAddressRanges(c: ConfigReader): { vpc?: Cidr; pods?: Cidr } {
    const vpc = c.cidr("vpcCidr", 16, 24, "AWS allows /16 to /28 and the nodes' subnet is a /24 inside it");
    // k3s gives each node a /24 of the pod range: two nodes need at least a /23.
    const pods = c.cidr("podCidr", 8, 23, "each node takes a /24 of it");
    const services = parseCidr(serviceCidr) as Cidr;
    if (vpc && pods && overlaps(vpc, pods)) {
        c.bad("podCidr", pods.text, `overlaps vpcCidr ${vpc.text}; pod and node addresses must be distinct`);
    }
    if (pods && overlaps(pods, services)) {
        c.bad("podCidr", pods.text, `overlaps k3s's service range ${serviceCidr}`);
    }
    if (vpc && overlaps(vpc, services)) {
        c.bad("vpcCidr", vpc.text, `overlaps k3s's service range ${serviceCidr}`);
    }
    return { vpc, pods };
}

function checkImages(c: ConfigReader): GuestbookImages {
    return {
        frontend: c.text("frontendImage"),
        redisLeader: c.text("redisLeaderImage"),
        redisFollower: c.text("redisFollowerImage"),
    };
}

/** Validates raw config values (as the engine delivers them: strings, or undefined). */
export function parseSettings(raw: (key: SettingKey) => string | undefined): Settings {
    // The problems are listed in the order of these checks.
    const c = new ConfigReader(raw);
    const mode = checkMode(c);
    // /8 at the widest: SSH and the Kubernetes API are never opened to the internet at large.
    const operator = c.cidr("operatorCidr", 8, 32, "your own address or network, never 0.0.0.0/0");
    const instanceType = checkInstanceType(c);
    const sshPublicKey = checkSshPublicKey(c);
    const versions = checkVersions(c);
    const sizes = checkWorkloadSizes(c);
    const certificateArn = checkCertificateArn(c);
    const { vpc, pods } = checkAddressRanges(c);
    const loadGenerator = c.flag("loadGenerator");
    const spot = c.flag("spot");
    const images = checkImages(c);
    const serviceProxy = checkServiceProxy(c, mode);
    const services = c.integer("services", 0, maxExtraServices);

    if (c.problems.length > 0) {
        throw new ConfigError(c.problems);
    }
    const validMode = mode as NetworkMode;
    return {
        mode: validMode,
        facts: modeFacts[validMode],
        operatorCidr: operator!.text,
        instanceType,
        sshPublicKey,
        ...versions,
        ...sizes,
        certificateArn,
        vpcCidr: vpc!.text,
        subnetCidr: firstSubnet(vpc!, 24),
        podCidr: pods!.text,
        loadGenerator,
        spot,
        images,
        serviceProxy: serviceProxy!,
        services,
    };
}

/** Reads this project's config namespace. */
export function readSettings(config: pulumi.Config = new pulumi.Config()): Settings {
    return parseSettings((key) => config.get(key));
}
