/**
 * Ports the benchmark runner's servers listen on. The node security group opens them between
 * the nodes so that the host-network baseline (hostNetwork pods, node to node) is measured at
 * all; pod-to-pod traffic reaches them through the pod network. One place for both.
 */
export const measurementPorts = {
    /** iperf3 servers: one port per concurrent server (TCP and UDP). */
    iperf3: { first: 5201, last: 5210 },
    /** sockperf server (TCP and UDP). */
    sockperf: { first: 11111, last: 11111 },
} as const;
