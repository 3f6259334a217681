/**
 * The mode table controls what it claims. Its tunnel ports and VNIs are the plugins' own
 * defaults, which the program does not override (k3s gets no flannel backend options; the
 * Installation has no VXLAN field, see test/schemas.test.ts), so they are pinned here to the
 * upstream sources: a change in components/modes.ts alone would open the wrong port in the
 * security group and the lab while the nodes kept using the default.
 */
import { describe, expect, it } from "vitest";
import { modeFacts, nodeToNodeTraffic, podMtu, tunnelTraffic } from "../components/modes";

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
