/**
 * The measurement ids, in the order the runner runs them: the vocabulary the session contract
 * (`cannotMeasure`), the CLIs and the measurements share, kept apart so none of them imports another.
 */
export const measurementIds = ["http", "guestbook", "iperf3", "latency", "scaling"] as const;
export type MeasurementId = (typeof measurementIds)[number];

/**
 * The program each measurement starts where its servers and clients run (the command builders
 * of commands.ts): wrk for HTTP, iperf3 for throughput and the scaling curve, sockperf for latency.
 * Run on this machine for lab targets, so checked before a run (bench/sessions/lab.ts labSessionTools).
 */
export const measurementTools: Readonly<Record<MeasurementId, readonly string[]>> = {
    http: ["wrk"],
    // Not curl, which the new-connection case's first-byte run starts too (connect.ts): this list is
    // exactly what the load generator installs (components/nodeScripts.ts loadGeneratorPackages), and
    // curl comes with Ubuntu's images (imdsCommand relies on it) and scripts/install-deps.sh.
    guestbook: ["wrk"],
    iperf3: ["iperf3"],
    latency: ["sockperf"],
    scaling: ["iperf3"],
};
