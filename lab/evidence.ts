/** What `npm run lab -- --verify` prints for each built mode (the checks themselves: verify.ts). */
import type { BuiltMode, Lab } from "./lab";
import { birdProtocols, birdRoutes, captureOnUnderlay, crossNodePair, fullSizePayload, ping, underlayCaptureFilter } from "./verify";

/** Prints the evidence that each mode's datapath is what it claims; false when some is missing. */
export async function printModeEvidence(lab: Lab, built: BuiltMode): Promise<boolean> {
    const t = built.topology;
    const subnets = t.attachment === "cni-bridge" || t.attachment === "calico-veth";
    console.log(`\n== ${t.mode}: ${t.nodes.map((n) => `${n.name} ${n.ip}${subnets ? ` pods ${n.podSubnet}` : ""}`).join("; ")}; pod MTU ${t.mtu.pod}`);
    for (const [i, files] of built.bird.entries()) {
        console.log(`-- birdc -s ${files.socket} show protocols (${t.nodes[i].name})\n${(await birdProtocols(files.socket)).trim()}`);
        console.log(`-- ip route show proto bird (${t.nodes[i].name})\n${await birdRoutes(t.nodes[i].netns)}`);
    }
    if (t.attachment === "host-network" || t.attachment === "docker-bridge") {
        console.log(
            t.attachment === "host-network"
                ? "-- no pods: Redis and PHP run on the nodes themselves; the guestbook answered through every node"
                : "-- containers reach each other only through published ports (no pod addresses across hosts); the guestbook answered through every node",
        );
        return true;
    }
    const { from, to } = crossNodePair(t);
    const filter = underlayCaptureFilter(t, from, to);
    const capture = await captureOnUnderlay(t, lab.ledger.runDir, filter, () => ping(from.netns, to.ip));
    console.log(`-- tcpdump on the underlay, filter "${filter}", while ${from.ip} pings ${to.ip}:\n${capture.text || "(nothing captured)"}`);
    const full = await ping(from.netns, to.ip, { count: 1, size: fullSizePayload(t.mtu.pod), dontFragment: true });
    console.log(`-- ${t.mtu.pod}-byte packet with DF set, pod to pod across nodes: ${full.ok ? "delivered" : "FAILED"}`);
    return capture.packets > 0 && full.ok;
}
