/**
 * The benchmark's profiles: the settings each caller of `runBenchmark` starts from, and why they
 * differ. A value the caller does not set comes from `runnerProfile` (bench/run.ts resolveSettings).
 */
import { measurementPorts } from "../components/measurementPorts";
import { caseIds, optInCases } from "./measure/measurements";
import { serviceAxisCases } from "./service-axis";

/** `npm run bench`: the full plan on real clusters (docs/benchmark.md computes run time from these). */
export const runnerProfile = {
    repetitions: 3,
    durationSeconds: 10,
    warmupSeconds: 2,
    scalingPods: [2, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
    httpConnections: 64,
    httpThreads: 4,
    requestTimeoutSeconds: 10,
    udpBitrate: "1G",
    // The ports the stacks' security group opens between the nodes for the host baseline.
    iperf3Port: measurementPorts.iperf3.first,
    sockperfPort: measurementPorts.sockperf.first,
} as const;

/**
 * `npm run lab`. On one machine every "node" and "pod" shares the same cores, so a saturating
 * run measures who wins the CPU, not what a datapath costs, and whatever else runs on the
 * machine makes the same work dearer by a factor that changes from second to second. The lab's
 * figures are therefore costs at a fixed offered load, and its schedule interleaves them
 * (docs/lab.md "The method under load"):
 *   - CPU-µs per packet at a fixed packet rate (iperf3 UDP), pod↔pod and host↔host, counted in
 *     the mode's CPU group plus ksoftirqd, warm-up excluded;
 *   - CPU-ms per guestbook read (Apache + mod_php + Redis + wrk, keep-alive);
 *   - rounds in which each case runs on every mode in a fresh random order, compared round by
 *     round, as many rounds as the run's 5-minute budget holds (at least 6).
 * Saturating throughput and round trips are left to `--measurements`: on shared cores they are
 * a contest, and they would halve the rounds (docs/lab.md "Budget").
 * `scaling` is left out: every "pod" shares the same CPUs.
 */
export const labProfile = {
    schedule: "interleaved",
    /** Rounds stop at the budget; this only caps them. */
    repetitions: 100,
    /** The whole default run, building and removing included. */
    budgetSeconds: 300,
    durationSeconds: 1,
    warmupSeconds: 1,
    measurements: ["guestbook", "iperf3"],
    cases: ["iperf3.pod.cross.udpcost", "iperf3.host.cross.udpcost", "guestbook.read"],
    // docs/lab.md "Pinning": no consistent effect on the spread on a quiet machine; on, as the documented runs were made.
    pinCpus: true,
} as const;

/**
 * `npm run lab -- --service-proxy … --services …` (docs/service-proxy.md): new connections and the
 * keep-alive reads, at every Service count, for every mode × proxy. The command (3 counts ×
 * 2 proxies) must finish within 10 minutes on this machine: 6 targets-at-a-count × 5 repetitions ×
 * (connect 1 + 2 s + the curl run's 2 s, reads 1 + 2 s) = 240 s of tools (bench/run.ts
 * plannedToolSeconds, tested in lab/service-axis.test.ts), leaving the rest for building the two
 * topologies, installing the rule sets and the per-repetition probes.
 */
export const serviceAxisLabProfile = {
    repetitions: 5,
    durationSeconds: 2,
    warmupSeconds: 1,
    measurements: ["guestbook"],
    cases: serviceAxisCases,
    counts: [0, 1000, 10000],
    mode: "vxlan",
} as const;

/**
 * Cases the comparison leaves out by default, each with why: they buy no certainty about the
 * difference between modes. `--cases` on `npm run bench` runs them.
 */
export const casesLeftOut: Readonly<Record<string, string>> = {
    "iperf3.host.cross.tcp8": "host network: the CNI is not on the path, so every mode measures the same thing; host TCP 1 stream stays as the control",
    "iperf3.host.cross.udp": "host network, as above",
    "iperf3.pod.same.tcp8": "one node: no tunnel or route between nodes is on the path; pod same-node TCP 1 stream stays",
};

/**
 * `npm run compare`: where the minutes go (docs/compare.md "The default plan").
 * - repetitions 3: the fewest that give a 95 % interval at all with a sane width (t(0.975, n−1)/√n
 *   is 9.0 for n = 2, 2.48 for 3, 1.59 for 4); `--dry-run` prints what a 4th costs.
 * - duration 5 s, warm-up 1 s: iperf3 reports per second, so 5 intervals per run; TCP reaches
 *   line rate within milliseconds on a < 1 ms path, so 1 s of discarded warm-up is ample. The
 *   interval of the mean comes from repetitions, not from longer runs: a repetition buys more
 *   certainty than 5 more seconds of the same run.
 * - scaling 2, 20, 100 pods: the ends and one middle point of the curve instead of eleven.
 */
export const comparisonProfile = {
    repetitions: 3,
    durationSeconds: 5,
    warmupSeconds: 1,
    scalingPods: [2, 20, 100],
    // The runner's own default set (its opt-in lab cost cases stay opt-in), minus `casesLeftOut`.
    cases: caseIds.filter((c) => !optInCases.includes(c) && !(c in casesLeftOut)),
} as const;

/**
 * `npm run bench -- sample` (docs/sample-report): every measurement, short runs and few
 * connections, because it shows the report's shape on loopback, not a network's figures.
 */
export const sampleProfile = {
    repetitions: 3,
    durationSeconds: 2,
    warmupSeconds: 1,
    scalingPods: [2, 4, 6],
    httpConnections: 4,
    httpThreads: 2,
    udpBitrate: "1G",
} as const;
