/**
 * Ports that pods listen on and that the security group and the flow matrix must know about:
 * the guestbook's, and the k3s add-ons' that a node reaches from its own address. One place
 * for the workload, the security group and the flow matrix.
 */

/** The guestbook: the upstream gb-frontend image's Apache listens on 80; Redis on 6379. */
export const guestbookPorts = { frontend: 80, redis: 6379 } as const;

/** CoreDNS's container ports in k3s (k3s-io/k3s manifests/coredns.yaml: 53/UDP "dns", 53/TCP "dns-tcp"). */
export const clusterDnsPort = 53;

/** metrics-server's secure port in k3s's bundled deployment (`--secure-port=10250`); the API
 * server on node 1 reaches it as an aggregated API wherever the pod runs. */
export const metricsServerPort = 10250;
