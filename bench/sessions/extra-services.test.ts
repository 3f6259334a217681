/**
 * The aws-k3s session's Service proxy (issue 23) against the stand-in Kubernetes API (which refuses
 * what the API server refuses: a name taken, a name that is not a DNS-1035 label, a delete of
 * nothing) and a node-1 shell whose dump is what kube-proxy's nftables mode would hold.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { extraServiceName, extraServicesNamespace } from "../../workloads/extraServices";
import { KubeApiStandin } from "../../test/standins/kube-api";
import { ExtraServicesControl, installedCounts, proxyDumpCommand } from "./extra-services";
import { loadKubernetesClient } from "./kubernetes";
import type { Shell } from "./shell";

let api: KubeApiStandin;
beforeEach(async () => {
    api = new KubeApiStandin();
    await api.start();
});
afterEach(() => api.stop());

/** Node 1 as kube-proxy's nftables mode leaves it: one service-ips element per Service in the API,
 * once `lag` reads have passed (kube-proxy programs asynchronously). */
function nftablesNode(lag = 1): Shell & { commands: string[] } {
    let reads = 0;
    const commands: string[] = [];
    return {
        name: "node 1",
        commands,
        async run(command) {
            commands.push(command);
            const ips = reads++ < lag ? [] : [...api.services.values()].map((s) => s.spec.clusterIP);
            const elements = ["10.43.0.1 . tcp . 443 : goto service-2QRHZV4L-default/kubernetes/tcp/https", ...ips.map((ip, i) => `${ip} . tcp . 80 : goto service-X${i}-extra-services/e/tcp/http`)];
            return { code: 0, signal: null, stdout: `table ip kube-proxy {\n\tmap service-ips {\n\t\telements = { ${elements.join(",\n\t\t\t")} }\n\t}\n}\n`, stderr: "" };
        },
        start: () => {
            throw new Error("not used");
        },
        close: async () => undefined,
    } as Shell & { commands: string[] };
}

async function control(node: Shell) {
    const client = await loadKubernetesClient();
    const kc = new client.KubeConfig();
    kc.loadFromString(api.kubeconfig());
    return new ExtraServicesControl("nftables", kc.makeApiClient(client.CoreV1Api), node, "target t");
}

describe("aws-k3s serviceProxy (issue 23)", () => {
    it("setServices makes exactly N labelled Services exist and returns once node 1 holds them all", async () => {
        const node = nftablesNode(2);
        const c = await control(node);
        await c.setServices(40);
        expect([...api.services.keys()].sort()).toEqual(Array.from({ length: 40 }, (_, i) => `${extraServicesNamespace}/${extraServiceName(i)}`));
        expect(await c.installed()).toEqual({ "service-ips map elements": 41, "extra Services programmed": 40 });
        expect(node.commands.length).toBeGreaterThanOrEqual(3); // it waited for the proxy
        await c.setServices(15);
        expect(api.services.size).toBe(15);
        await c.setServices(0);
        expect(api.services.size).toBe(0);
    });

    it("touches only labelled Services in its namespace", async () => {
        api.services.set(`${extraServicesNamespace}/someone-else`, { metadata: { name: "someone-else", labels: {} }, spec: { clusterIP: "10.43.9.9" } });
        const c = await control(nftablesNode(0));
        await c.setServices(3);
        await c.setServices(0);
        expect([...api.services.keys()]).toEqual([`${extraServicesNamespace}/someone-else`]);
    });

    it("refuses a count that is not a whole number ≥ 0, before any call", async () => {
        const c = await control(nftablesNode(0));
        await expect(c.setServices(-2)).rejects.toThrow("Service count -2 is not a whole number");
        expect(api.requests).toEqual([]);
    });

    it("reads counts from each proxy's own dump, by ClusterIP", () => {
        const ips = ["10.43.0.100", "10.43.0.101"];
        const iptables = [
            ":KUBE-SVC-AAAA - [0:0]",
            ":KUBE-SVC-BBBB - [0:0]",
            '-A KUBE-SERVICES -d 10.43.0.100/32 -p tcp -m comment --comment "extra-services/extra-00000:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-AAAA',
            "-A KUBE-SVC-AAAA -j KUBE-SEP-1",
        ].join("\n");
        expect(installedCounts("iptables", iptables, ips)).toEqual({ "iptables nat rules": 2, "KUBE-SVC-* chains": 2, "extra Services programmed": 1 });
        const cilium =
            "ID   Frontend            Service Type   Backend\n1    10.43.0.1:443/TCP   ClusterIP      1 => 10.0.0.10:6443/TCP (active)\n2    10.43.0.101:80/TCP  ClusterIP      1 => 10.42.1.5:80/TCP (active)\n";
        expect(installedCounts("ebpf", cilium, ips)).toEqual({ "Cilium service frontends": 2, "extra Services programmed": 1 });
        expect(proxyDumpCommand("nftables")).toContain("nft list map ip kube-proxy service-ips");
        expect(proxyDumpCommand("iptables")).toContain("iptables-save -t nat");
        expect(proxyDumpCommand("ebpf")).toContain("cilium-dbg service list");
    });
});
