/**
 * How many extra Services the Service-count axis may ask a cluster for (issue 23;
 * docs/service-proxy.md). Each Service takes a ClusterIP from the service CIDR, k3s's default
 * 10.43.0.0/16 (k3s v1.33 `k3s server --service-cidr`, docs.k3s.io/cli/server "Networking"):
 * 65,534 addresses, a few of them already the cluster's own (kubernetes, kube-dns, the guestbook's).
 * The bound stays well inside that, at five times the largest count the issue asks for (10,000).
 */
export const maxServiceCount = 50_000;
