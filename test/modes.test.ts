/**
 * The mode table controls what it claims. Its tunnel ports and VNIs are the plugins' own
 * defaults, which the program does not override (k3s gets no flannel backend options; the
 * Installation has no VXLAN field, see test/schemas.test.ts), so they are pinned here to the
 * upstream sources: a change in components/modes.ts alone would open the wrong port in the
 * security group and the lab while the nodes kept using the default.
 */
import { describe, expect, it } from "vitest";
import { baselineFrontendPorts, frontendPortOnNodes, guestbookMtu, isBaseline, modeFacts, networkModes, nodeToNodeTraffic, podMtu, routesPodIpsNatively, tunnelTraffic } from "../components/modes";
import { guestbookPorts } from "../components/podPorts";
import { baselineFrontendPort } from "../workloads/guestbook";

describe("tunnel facts are the plugins' defaults", () => {
    it("flannel vxlan: VNI 1 and the Linux kernel's VXLAN port 8472 (flannel backend/vxlan: VNI default 1, Port 0 = kernel default)", () => {
        expect(modeFacts.vxlan.tunnel).toMatchObject({ kind: "vxlan", vni: 1, port: 8472, overhead: 50 });
    });

    it("Calico VXLAN: Felix's VXLANPort 4789 and VXLANVNI 4096 (projectcalico/calico felix/config/config_params.go)", () => {
        expect(modeFacts["calico-vxlan"].tunnel).toMatchObject({ kind: "vxlan", vni: 4096, port: 4789, overhead: 50 });
    });

    it("IP-in-IP adds one 20-byte IPv4 header; Calico's IPIP MTU on a 9001 NIC is 8981", () => {
        expect(modeFacts["calico-ipip"].tunnel).toMatchObject({ kind: "ipip", overhead: 20 });
        expect(podMtu("calico-ipip")).toBe(8981);
    });

    it('each tunnel device is named as its plugin names it (flannel backend/vxlan "flannel.<VNI>", backend/wireguard "flannel-wg"; Felix VXLANIfaceNameV4; the ipip module\'s tunl0; Cilium pkg/defaults VxlanDevice)', () => {
        const devices = Object.fromEntries(networkModes.map((m) => [m, modeFacts[m].tunnel?.device ?? null]));
        expect(devices).toEqual({
            vxlan: "flannel.1",
            "host-gw": null,
            wireguard: "flannel-wg",
            calico: null,
            "calico-ipip": "tunl0",
            "calico-vxlan": "vxlan.calico",
            cilium: "cilium_vxlan",
            "cilium-native": null,
            host: "flannel.1",
            bridge: "flannel.1",
        });
    });
});

describe("each port is written once", () => {
    it("the security group's tunnel rule is derived from the tunnel, so changing one changes the other", () => {
        for (const mode of ["vxlan", "calico-vxlan", "calico-ipip"] as const) {
            const tunnel = modeFacts[mode].tunnel!;
            expect(nodeToNodeTraffic(mode)).toContainEqual(tunnelTraffic(tunnel));
            expect(nodeToNodeTraffic(mode).filter((t) => t.protocol === tunnelTraffic(tunnel).protocol && t.fromPort === tunnelTraffic(tunnel).fromPort)).toHaveLength(1);
        }
        expect(tunnelTraffic({ ...modeFacts["calico-vxlan"].tunnel!, port: 4790 })).toMatchObject({ protocol: "udp", fromPort: 4790, toPort: 4790 });
    });

    it("descriptions name the tunnel's own VNI and port", () => {
        expect(modeFacts.vxlan.description).toContain("VNI 1, UDP 8472");
        expect(modeFacts["calico-vxlan"].description).toContain("VNI 4096, UDP 4789");
    });
});

describe("the field report's baselines (issue #14): host and bridge", () => {
    it("host: frontends on the gb-frontend image's Apache port 80 (php:7.4-apache, kubernetes-engine-samples quickstarts/guestbook/php-redis/Dockerfile); bridge: the seed's published 8081", () => {
        expect(modeFacts.host.guestbook).toEqual({ kind: "host-network", frontendPort: 80 });
        expect(modeFacts.bridge.guestbook).toEqual({ kind: "published-ports", frontendPort: 8081 });
        expect(baselineFrontendPorts.host).toBe(guestbookPorts.frontend);
    });

    it("every other mode puts the guestbook on its pod network behind the NodePort", () => {
        for (const mode of networkModes.filter((m) => !["host", "bridge"].includes(m))) {
            expect(modeFacts[mode].guestbook, mode).toEqual({ kind: "pod-network" });
            expect(isBaseline(mode), mode).toBe(false);
            expect(frontendPortOnNodes(mode, 30099), mode).toBe(30099);
        }
        expect(frontendPortOnNodes("host", 30099)).toBe(80);
        expect(frontendPortOnNodes("bridge", 30099)).toBe(8081);
    });

    it("both keep k3s's default flannel VXLAN for the cluster's own pods, so source/dest check stays on", () => {
        for (const mode of ["host", "bridge"] as const) {
            expect(modeFacts[mode]).toMatchObject({ plugin: "flannel", flannelBackend: "vxlan", serviceProxies: ["iptables", "nftables"], bgp: false });
            expect(modeFacts[mode].tunnel).toBe(modeFacts.vxlan.tunnel);
            expect(routesPodIpsNatively(mode), mode).toBe(false);
        }
    });

    it("the frontends send with the NIC's MTU on the host network, with flannel's pod MTU on the bridge", () => {
        expect(guestbookMtu("host")).toBe(9001);
        expect(guestbookMtu("bridge")).toBe(8951);
        expect(guestbookMtu("calico-ipip")).toBe(podMtu("calico-ipip"));
    });

    it("only the baselines admit Redis (TCP 6379, the PHP's fixed port) between the node addresses", () => {
        const redis = (mode: (typeof networkModes)[number]) => nodeToNodeTraffic(mode).filter((t) => t.protocol === "tcp" && t.fromPort === guestbookPorts.redis);
        expect(redis("host")).toHaveLength(1);
        expect(redis("bridge")).toHaveLength(1);
        for (const mode of networkModes.filter((m) => !isBaseline(m))) expect(redis(mode), mode).toEqual([]);
    });
});

describe("the baselines' frontend ports as the pod spec states them", () => {
    it("host: the container's own port on the node; bridge: 8081 published to Apache's 80; a hostNetwork port other than Apache's is refused", () => {
        expect(baselineFrontendPort({ kind: "host-network", frontendPort: 80 })).toEqual({ containerPort: 80, hostPort: 80 });
        expect(baselineFrontendPort({ kind: "published-ports", frontendPort: 8081 })).toEqual({ containerPort: 80, hostPort: 8081 });
        // Kubernetes API, ContainerPort.hostPort: with hostNetwork it must match containerPort.
        expect(() => baselineFrontendPort({ kind: "host-network", frontendPort: 8080 })).toThrow("host-network frontends answer where the image's Apache listens (80), not on 8080");
    });
});
