/**
 * Every program a lab command starts on this machine, checked before the lab creates anything
 * (lab/cli.ts). Most are read off the command lines themselves: the same builders that make the
 * datapath steps, the guestbook processes and BIRD's argv are run for a throwaway topology, so a
 * program a builder starts joins the list by construction. The few command lines written inline
 * (readiness checks, the evidence of --verify, cleanup) are named here with where they run.
 * Each program's Debian package: core/tools.ts debianTool.
 */
import type { MeasurementId } from "../bench/measure/measurements";
import { labSessionTools } from "../bench/sessions/lab";
import { modeFacts } from "../components/modes";
import { debianTool, essentialPrograms, uniqueTools, type Tool } from "../core/tools";
import { backgroundLoadArgv } from "./backgroundLoad";
import { birdArgv, birdFiles } from "./bird";
import { datapathSteps } from "./datapath";
import { guestbookProcesses } from "./guestbook";
import { awsOnlyReason, isClusterMode, type LabMode } from "./modes";
import { labTopology } from "./topology";
import type { LabServiceProxyMode } from "./serviceProxy";

/**
 * The programs an argv starts: unwrapped from `ip netns exec <ns>` (both count), and for a shell
 * script (`sh|bash -c <script>`) the script's first word too (e.g. the WireGuard step's `wg`).
 */
export function programsOf(argv: readonly string[]): string[] {
    if (argv[0] === "ip" && argv[1] === "netns" && argv[2] === "exec") return ["ip", ...programsOf(argv.slice(4))];
    if ((argv[0] === "sh" || argv[0] === "bash") && argv[1] === "-c") return [argv[0], ...(argv[2]?.trim().split(/\s+/, 1) ?? [])];
    return argv.length > 0 ? [argv[0]] : [];
}

/** The programs building `mode` starts, read off its command lines (a throwaway run id; nothing runs). */
export function buildPrograms(mode: LabMode): string[] {
    const t = labTopology(mode, "000000");
    const argvs: (readonly string[])[] = [
        ["ip", "netns", "add"], // Lab.build and Lab.probeKernel
        ...datapathSteps(t).map((s) => s.argv),
        ...guestbookProcesses(t, "/nonexistent").map((p) => p.argv),
    ];
    if (isClusterMode(mode) && modeFacts[mode].bgp) {
        argvs.push(birdArgv(birdFiles("/nonexistent", t, t.nodes[0])));
        argvs.push(["birdc"]); // lab.ts waitForBgp: `birdc show protocols`
    }
    argvs.push(["redis-cli"], ["curl"]); // lab.ts waitForGuestbook: replication, then the frontends
    return [...new Set(argvs.flatMap(programsOf))];
}

/** The evidence `--verify` prints (lab/verify.ts): a capture on the underlay and pings across nodes. */
const verifyPrograms = ["tcpdump", "ping", "timeout"];

/** `--cleanup` (lab/ledger.ts removeResources): `ip netns pids` and `ip netns delete`. */
const cleanupPrograms = ["ip"];

/** What of a lab command decides the programs it starts (lab/cli.ts LabCommand has these fields). */
export interface LabToolNeeds {
    readonly action: "run" | "verify" | "cleanup" | "help";
    readonly modes: readonly LabMode[];
    /** With these, what installs and reads back kube-proxy's rule sets (nft only for nftables). */
    readonly serviceProxies?: readonly LabServiceProxyMode[];
    readonly backgroundLoadPercent?: number;
    readonly bench: { readonly measurements?: readonly string[] };
}

/** The programs a lab command starts, as tools to check; for a run, what the runner starts too. */
export function labTools(command: LabToolNeeds): Tool[] {
    const { action, modes } = command;
    if (action === "help") return [];
    if (action === "cleanup") return cleanupPrograms.map(debianTool);
    const built = modes.filter((m) => !awsOnlyReason(m)).flatMap(buildPrograms);
    const disturbance = command.backgroundLoadPercent === undefined ? [] : programsOf(backgroundLoadArgv(command.backgroundLoadPercent, 1));
    const programs = [...built, ...(action === "verify" ? verifyPrograms : []), ...disturbance];
    const own = programs.filter((p) => !essentialPrograms.includes(p)).map(debianTool);
    // The lab's targets always carry a CPU group (lab.ts labTarget).
    const measuring = action === "run" ? labSessionTools((command.bench.measurements ?? []) as readonly MeasurementId[], true, command.serviceProxies ?? []) : [];
    return uniqueTools([...own, ...measuring]);
}
