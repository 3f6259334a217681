/**
 * kube-proxy's rule sets in a real kernel (root only), in namespaces this test makes: a "node"
 * routes between a "client" on its NIC and two "pods", each with a TCP listener that answers
 * with its name. Each mode's rules for N = 0, 1000 and (iptables) 10 000 Services are installed
 * into the node; the counts are read back from the kernel and compared with what kube-proxy's scheme
 * implies for N; connections to a ClusterIP and to the NodePort must reach a pod (DNAT), both
 * pods over a few tries (random endpoint choice). Install times are printed. Everything is
 * removed afterwards.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addNamespaces, inNs, ip, vethPair } from "../test/netns";
import { runProcess } from "../core/process";
import { inNamespace } from "./exec";
import {
    guestbookFrontendService,
    installServiceProxy,
    iptablesRuleSet,
    labServices,
    nftablesRuleSet,
    readServiceProxy,
    removeServiceProxy,
    labServiceProxyModes,
    type LabServiceProxyMode,
} from "./serviceProxy";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { openLabSession } from "../bench/sessions/lab";
import { httpGetInLoadGenerator, Lab } from "./lab";
import { tmpdir } from "node:os";
import { join } from "node:path";

const isRoot = process.getuid?.() === 0;
const prefix = `cnisp-${randomBytes(3).toString("hex")}`;
const ns = { node: `${prefix}-node`, client: `${prefix}-client`, pod1: `${prefix}-pod1`, pod2: `${prefix}-pod2` };
const node = { ip: "10.0.0.11", clusterCidr: "10.42.0.0/16" };
const clientIp = "10.0.0.10";
const pods = [
    { netns: ns.pod1, name: "pod1", ip: "10.42.0.3", gw: "10.42.0.1", nodeIf: "vpod1" },
    { netns: ns.pod2, name: "pod2", ip: "10.42.1.3", gw: "10.42.1.1", nodeIf: "vpod2" },
];
const podPort = 80;
const endpoints = pods.map((p) => ({ ip: p.ip, port: podPort }));
const nodePort = 30080;
/** The counts each mode is installed at. nftables stops at 1000: 10 000 costs this kernel 60–100 s
 * of its own time (one anonymous verdict map per Service: numgen … vmap { … }; docs/service-proxy.md),
 * which would slow every other test file running beside it; the issue's lab command installs it and
 * its report says how long that took. iptables' 10 000 takes 3–4 s. */
const counts: Record<LabServiceProxyMode, readonly number[]> = { iptables: [0, 1000, 10_000], nftables: [0, 1000] };
/** A bound on one install on this 2-core machine shared with other work (iptables' 10 000: 3–4 s). */
const installBoundMs = 60_000;

/** A TCP listener that writes its name to every connection, in a pod namespace. */
function listener(netns: string, name: string): ChildProcess {
    const script = `require("net").createServer((s) => s.end(${JSON.stringify(name + "\n")})).listen(${podPort}, "0.0.0.0", () => console.log("ready"))`;
    return spawn("ip", ["netns", "exec", netns, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
}

/** Connects from the client namespace and returns what the far end wrote ("" when nothing answered). */
async function connect(address: string, port: number): Promise<string> {
    const script = `const s = require("net").connect(${port}, ${JSON.stringify(address)}); let d = ""; s.on("data", (c) => (d += c)); s.on("end", () => { process.stdout.write(d); process.exit(0); }); s.on("error", (e) => { console.error(e.message); process.exit(1); }); setTimeout(() => process.exit(2), 3000);`;
    const r = await runProcess(inNamespace(ns.client, [process.execPath, "-e", script]), { timeoutMs: 10_000 });
    return r.code === 0 ? r.stdout.trim() : "";
}

/** The pods that answered `tries` connections to address:port. */
async function answering(address: string, port: number, tries = 12): Promise<Set<string>> {
    const seen = new Set<string>();
    for (let i = 0; i < tries; i++) seen.add(await connect(address, port));
    return seen;
}

/** What kube-proxy's scheme implies for the guestbook's NodePort Service plus n Services of 2 endpoints. */
function expected(mode: LabServiceProxyMode, n: number): Record<string, number> {
    const services = n + 1;
    if (mode === "iptables") {
        return {
            // 3 jumps from PREROUTING/OUTPUT/POSTROUTING, KUBE-POSTROUTING 3, KUBE-MARK-MASQ 1, the NodePort
            // (KUBE-NODEPORTS 1, KUBE-EXT 2, KUBE-SERVICES' last rule 1), and per Service 8: KUBE-SERVICES 1,
            // KUBE-SVC 3 (masquerade, 2 endpoints), KUBE-SEP 2 × 2.
            "iptables nat rules": 3 + 3 + 1 + 4 + 8 * services,
            // 11 jumps from INPUT/FORWARD/OUTPUT, KUBE-FIREWALL 1, KUBE-FORWARD 3.
            "iptables filter rules": 11 + 1 + 3,
            "KUBE-SERVICES rules": services + 1,
            "KUBE-SVC-* chains": services,
            "KUBE-SEP-* chains": 2 * services,
        };
    }
    return {
        // 8 base chains, 8 top-level chains, 3 per Service (service + 2 endpoints), the NodePort's external chain.
        "nft chains": 8 + 8 + 3 * services + 1,
        // 23 fixed rules (11 jumps, marks, masquerading 3, checks, services 2), 6 per Service, 2 in the external chain.
        "nft rules": 23 + 6 * services + 2,
        "service-* chains": services,
        "endpoint-* chains": 2 * services,
        "service-ips elements": services,
    };
}

describe.skipIf(!isRoot)("kube-proxy rule sets in a kernel (root: builds network namespaces)", () => {
    const listeners: ChildProcess[] = [];

    beforeAll(async () => {
        addNamespaces(Object.values(ns));
        vethPair(prefix, ns.node, "eth0", `${node.ip}/24`, ns.client, "eth0", `${clientIp}/24`);
        inNs(ns.client, "ip", "route", "add", "default", "via", node.ip);
        for (const p of pods) {
            vethPair(prefix, ns.node, p.nodeIf, `${p.gw}/24`, p.netns, "eth0", `${p.ip}/24`);
            inNs(p.netns, "ip", "route", "add", "default", "via", p.gw);
        }
        inNs(ns.node, "sysctl", "-qw", "net.ipv4.ip_forward=1");
        for (const p of pods) {
            const l = listener(p.netns, p.name);
            listeners.push(l);
            await new Promise<void>((resolve, reject) => {
                l.stdout!.once("data", () => resolve());
                l.once("exit", (code) => reject(new Error(`listener in ${p.netns} exited with ${code}`)));
            });
        }
    }, 30_000);

    afterAll(() => {
        for (const l of listeners) l.kill("SIGKILL");
        for (const n of Object.values(ns)) {
            try {
                ip("netns", "delete", n);
            } catch {
                // never created
            }
        }
    });

    it("the kernel's tools accept the text in check mode (nft -c, iptables-restore --test) for 1000 Services", async () => {
        const services = labServices(nodePort, endpoints, 1000);
        const dir = mkdtempSync(join(tmpdir(), "cnisp-"));
        try {
            writeFileSync(join(dir, "nft"), nftablesRuleSet(services, node));
            writeFileSync(join(dir, "ipt"), iptablesRuleSet(services, node));
            // --test still needs the chains the rules jump to that the input does not declare: none here.
            for (const argv of [
                ["nft", "-c", "-f", join(dir, "nft")],
                ["iptables-restore", "--test", "--noflush", join(dir, "ipt")],
            ]) {
                const r = await runProcess(inNamespace(ns.node, argv), { timeoutMs: 60_000 });
                expect(r.code, `${argv.join(" ")}: ${r.stderr}`).toBe(0);
            }
            expect(await readServiceProxy(ns.node, "nftables"), "check mode installs nothing").toMatchObject({ "nft chains": 0 });
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    }, 120_000);

    describe.each(labServiceProxyModes.map((m) => [m] as [LabServiceProxyMode]))("%s", (mode) => {
        afterAll(async () => {
            await removeServiceProxy(ns.node, mode);
        }, 120_000);

        const largest = counts[mode].at(-1)!;
        for (const [n, again] of [...counts[mode].map((c) => [c, ""] as const), [0, ` again (replacing ${largest}: their chains go)`] as const]) {
            it(`${n} Services${again}: installed in bounded time, counts read back from the kernel are kube-proxy's for N = ${n}, ClusterIP and NodePort DNAT to both pods`, async () => {
                const services = labServices(nodePort, endpoints, n);
                const started = performance.now();
                await installServiceProxy(ns.node, mode, services, node);
                const ms = performance.now() - started;
                console.log(`service proxy ${mode}: ${n} Services installed in ${(ms / 1000).toFixed(2)} s`);
                expect(ms, `install of ${n} Services`).toBeLessThan(installBoundMs);
                expect(await readServiceProxy(ns.node, mode)).toEqual(expected(mode, n));
                const both = new Set(pods.map((p) => p.name));
                expect(await answering(guestbookFrontendService.clusterIP, guestbookFrontendService.port), "the guestbook Service's ClusterIP").toEqual(both);
                expect(await answering(node.ip, nodePort), "the NodePort on the node's address").toEqual(both);
                const last = services.at(-1)!;
                expect(await answering(last.clusterIP, last.port), `the last Service's ClusterIP ${last.clusterIP}`).toEqual(both);
                expect(await connect("10.43.255.254", 81), "a port no Service has").toBe("");
            }, 240_000);
        }
    });
});

describe.skipIf(!isRoot)("a lab mode built with a Service proxy (root: the whole vxlan lab)", () => {
    let ledgerDir: string;
    let lab: Lab;

    beforeAll(() => {
        ledgerDir = mkdtempSync(join(tmpdir(), "cnisp-ledger-"));
        lab = Lab.open(ledgerDir);
    });
    afterAll(async () => {
        const report = await lab?.close();
        if (ledgerDir) rmSync(ledgerDir, { recursive: true, force: true });
        expect(report?.problems ?? []).toEqual([]);
    }, 60_000);

    it.each(labServiceProxyModes.map((m) => [m] as [LabServiceProxyMode]))(
        "%s: the guestbook answers through kube-proxy's NodePort on both nodes with 0 and 1000 extra Services, the session scaling and reading them back",
        async (mode) => {
            const built = await lab.build("vxlan", { serviceProxy: mode });
            try {
                const session = await openLabSession(built.target);
                try {
                    const control = session.serviceProxy!;
                    expect(control.mode).toBe(mode);
                    for (const n of [0, 1000]) {
                        await control.setServices(n);
                        const counts = await control.installed();
                        expect(counts, `${n} Services`).toEqual(expected(mode, n));
                        for (const url of built.target.lab!.frontendUrls) {
                            const r = await httpGetInLoadGenerator(built.topology, `${url}/guestbook.php?cmd=get&key=guestbook`);
                            expect(r.stdout, `${url} with ${n} Services`).toMatch(/^\{"data":/);
                        }
                    }
                } finally {
                    await session.close();
                }
            } finally {
                const report = await lab.teardown(built.topology.name);
                expect(report?.problems).toEqual([]);
            }
        },
        180_000,
    );
});
