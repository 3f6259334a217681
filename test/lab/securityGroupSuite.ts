/**
 * The stacks' security group on real packets (root only): each mode is built with its node
 * security group enforced on the nodes' underlay interfaces (lab/securityGroup.ts), then real
 * packets cross the real rule set. Whether a packet got through is read from the receiving node's
 * drop counter, so no listener is needed and nothing is inferred from a missing answer.
 *
 * - With the rules the program declares, the guestbook works through every node's NodePort and
 *   every flow of the flow matrix the lab can send gets through.
 * - With the rules as they were before the kube-proxy fix (no node-IP source to the frontend and
 *   CoreDNS ports), host-gw and calico lose the NodePort requests kube-proxy forwards to the
 *   other node, exactly as they would on AWS.
 * - Removing any one rule blocks the flows the matrix says depend on it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockedFlows, flowMatrix } from "../../components/flows";
import { asSecurityGroupRules } from "../../components/nodePair";
import { inNamespace, runCommand, runStep } from "../../lab/exec";
import { httpGetInLoadGenerator, Lab, unsupportedReason, type BuiltMode, type KernelSupport } from "../../lab/lab";
import { isClusterMode, type LabMode } from "../../lab/modes";
import {
    droppedPackets,
    labFlowAddresses,
    labSecurityGroupRules,
    labStackAddresses,
    listChainArgv,
    probeArgv,
    securityGroupMembers,
    securityGroupRuleSteps,
    unprobeableFlow,
} from "../../lab/securityGroup";

const isRoot = process.getuid?.() === 0;

/** The rules the fix added for unencapsulated modes (components/nodePair.ts). */
const fixRules = ["snat-frontend", "node-dns-udp", "node-dns-tcp"];

/** The suite for `modes`; each test file runs some of the modes, so the files run side by side. */
export function securityGroupSuite(modes: readonly LabMode[]): void {
    describe.skipIf(!isRoot)("the stacks' security group, enforced in the lab (root)", () => {
        let ledgerDir: string;
        let lab: Lab;
        let kernel: KernelSupport;

        beforeAll(async () => {
            ledgerDir = mkdtempSync(`${tmpdir()}/cni-lab-sg-`);
            lab = Lab.open(ledgerDir);
            kernel = await lab.probeKernel();
        });

        afterAll(async () => {
            await lab?.close();
            if (ledgerDir) rmSync(ledgerDir, { recursive: true, force: true });
        });

        describe.each(modes.map((m) => [m]))("%s", (mode) => {
            let built: BuiltMode | undefined;
            let skipReason: string | undefined;
            const receiver = () => built!.topology.nodes[0];
            const dropped = async () => droppedPackets((await runCommand(listChainArgv(receiver()))).stdout);
            const load = async (rules: ReturnType<typeof asSecurityGroupRules>) => {
                for (const step of securityGroupRuleSteps(built!.topology, receiver(), rules)) await runStep(step);
            };
            const declared = () => asSecurityGroupRules(labSecurityGroupRules(built!.topology));
            /** Sends a packet of the flow; true when the receiver dropped it, twice in a row (a late
             * segment of some closed connection can land on the drop counter during one probe). */
            const probeDropped = async (flow: ReturnType<typeof flowMatrix>[number]) => {
                for (let attempt = 0; attempt < 2; attempt++) {
                    const before = await dropped();
                    await runCommand(probeArgv(built!.topology, flow, receiver()), 5000);
                    if ((await dropped()) === before) return false;
                }
                return true;
            };

            beforeAll(async () => {
                skipReason = unsupportedReason(mode, kernel);
                if (!skipReason) built = await lab.build(mode);
            }, 120_000);
            afterAll(async () => {
                if (built) await lab.teardown(mode);
            });

            const withMode = (name: string, check: () => Promise<void>) =>
                it(name, async (ctx) => {
                    if (skipReason) {
                        ctx.skip(`${mode} cannot be built here: ${skipReason}`);
                        return;
                    }
                    await check();
                });

            withMode("with the declared rules, the guestbook answers through both nodes' frontend ports, requests crossing nodes included", async () => {
                await load(declared());
                const urls = built!.target.lab!.frontendUrls;
                // kube-proxy-style random DNAT: 12 requests per node cross to the other node's
                // frontend about half the time; all must answer.
                for (const url of urls) {
                    for (let i = 0; i < 12; i++) {
                        const answer = await httpGetInLoadGenerator(built!.topology, `${url}/guestbook.php?cmd=get&key=guestbook`);
                        expect(answer.code, `${url} request ${i}: ${answer.stderr}`).toBe(0);
                    }
                }
                // Whether each flow gets through is the next test's, probe by probe: the drop counter
                // also sees late segments of closed connections, which tell nothing about a rule.
            });

            withMode("with the declared rules, every flow of the flow matrix the lab can send gets through", async () => {
                await load(declared());
                const flows = flowMatrix({ mode: mode as any, nodePort: labStackAddresses(built!.topology).nodePort }).filter((f) => !unprobeableFlow(f, built!.topology));
                expect(flows.length).toBeGreaterThan(isClusterMode(mode) ? 20 : 12);
                const blocked: string[] = [];
                for (const flow of flows) if (await probeDropped(flow)) blocked.push(flow.name);
                expect(blocked).toEqual([]);
            });

            if (mode === "host-gw" || mode === "calico") {
                withMode("with the rules before the fix, NodePort requests forwarded to the other node are dropped", async () => {
                    await load(declared().filter((r) => !fixRules.includes(r.name)));
                    try {
                        const before = await dropped();
                        // Through node 2's NodePort: requests kube-proxy sends to node 1's frontend
                        // arrive from node 2's IP on port 80, and node 1 drops them.
                        const url = built!.target.lab!.frontendUrls[1];
                        // kube-proxy's random DNAT sends each request to node 1 with probability 1/2:
                        // stop at the first lost one (20 all-local requests would be a 1-in-a-million run).
                        let failed = 0;
                        for (let i = 0; i < 20 && failed === 0; i++) {
                            const answer = await runCommand(inNamespace(built!.topology.loadGenerator.netns, ["curl", "-sS", "--max-time", "1", `${url}/guestbook.php?cmd=get&key=guestbook`]), 3000);
                            if (answer.code !== 0) failed++;
                        }
                        expect(failed, "a NodePort request forwarded to the other node timed out").toBe(1);
                        expect(await dropped()).toBeGreaterThan(before);
                        const snat = flowMatrix({ mode: mode as any, nodePort: 30099 }).find((f) => f.from === "peer-node" && f.to === "pod" && f.port === 80)!;
                        expect(await probeDropped(snat)).toBe(true);
                    } finally {
                        await load(declared());
                    }
                });
            }

            withMode("removing any one rule blocks the flows the matrix says depend on it", async () => {
                const t = built!.topology;
                const rules = declared();
                const flows = flowMatrix({ mode: mode as any, nodePort: labStackAddresses(t).nodePort });
                const addresses = labFlowAddresses(t, receiver());
                const members = securityGroupMembers(t);
                const unproven: string[] = [];
                try {
                    for (const rule of rules) {
                        const without = rules.filter((r) => r !== rule);
                        const expected = blockedFlows(mode as any, flows, without, addresses, members)
                            .map((b) => b.flow)
                            .filter((f) => !unprobeableFlow(f, built!.topology));
                        if (expected.length === 0) continue; // only unprobeable flows need it (ICMP from the internet)
                        await load(without);
                        for (const flow of expected) {
                            if (!(await probeDropped(flow))) unproven.push(`${rule.name}: "${flow.name}" still got through`);
                        }
                    }
                } finally {
                    await load(rules);
                }
                expect(unproven).toEqual([]);
            });
        });
    });
}
