#!/usr/bin/env bash
set -euo pipefail
# cloud-init may still hold the apt/dpkg locks on first boot.
cloud-init status --wait >/dev/null || true
node_ip='10.0.0.11'
# The NIC that carries the node IP (ens5 on Nitro instances, but never assumed): flannel
# otherwise picks the default-route interface.
iface=$(ip -o -4 addr show | awk -v ip="$node_ip" '{split($4, a, "/"); if (a[1] == ip) {print $2; exit}}')
if [[ -z "$iface" ]]; then
  echo "no interface holds $node_ip" >&2
  exit 1
fi
# The cluster token arrives on standard input, never on the command line or in the script.
IFS= read -r K3S_TOKEN
export K3S_TOKEN

export DEBIAN_FRONTEND=noninteractive
apt_wait=(-o DPkg::Lock::Timeout=600)
for attempt in 1 2 3 4 5 6; do
  apt-get "${apt_wait[@]}" update -qq && break
  if ((attempt == 6)); then
    echo "apt-get update failed 6 times; is another apt run holding the package lists?" >&2
    exit 1
  fi
  sleep 10
done
echo 'iperf3 iperf3/start_daemon boolean false' | debconf-set-selections
apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends iperf3 sockperf >/dev/null
for tool in iperf3 sockperf ip timeout setsid nsenter awk getconf; do
  command -v "$tool" >/dev/null || { echo "$tool missing after install" >&2; exit 1; }
done
if systemctl is-active --quiet iperf3.service || systemctl is-enabled --quiet iperf3.service; then
  echo "an iperf3 daemon is running or enabled after the install; it would hold the benchmark's port" >&2
  exit 1
fi

# k3s's own images from the release's archive: Docker Hub allows 10 anonymous pulls an hour.
release='https://github.com/k3s-io/k3s/releases/download/v1.33.4%2Bk3s1'
images_tmp=$(mktemp -d)
trap 'rm -rf "$images_tmp"' EXIT
if ! curl -sfL --max-time 600 -o "$images_tmp/k3s-airgap-images-amd64.tar.zst" "$release/k3s-airgap-images-amd64.tar.zst" ||
  ! curl -sfL --max-time 60 -o "$images_tmp/sha256sum-amd64.txt" "$release/sha256sum-amd64.txt"; then
  echo "could not download k3s-airgap-images-amd64.tar.zst or sha256sum-amd64.txt from $release" >&2
  exit 1
fi
if ! (cd "$images_tmp" && grep ' k3s-airgap-images-amd64.tar.zst$' sha256sum-amd64.txt | sha256sum --check --strict --status); then
  echo "k3s-airgap-images-amd64.tar.zst from $release does not match its sha256 in sha256sum-amd64.txt (or is not listed there)" >&2
  exit 1
fi
mkdir -p /var/lib/rancher/k3s/agent/images
mv "$images_tmp/k3s-airgap-images-amd64.tar.zst" /var/lib/rancher/k3s/agent/images/

if ! curl -sfL --max-time 60 https://get.k3s.io | INSTALL_K3S_VERSION='v1.33.4+k3s1' timeout 600 sh -s - \
  server \
  --node-name=node-1 \
  --node-ip="$node_ip" \
  --flannel-iface="$iface" \
  --kube-proxy-arg=proxy-mode=nftables \
  --tls-san=198.51.100.11 \
  --cluster-cidr=10.42.0.0/16 \
  --flannel-backend=vxlan \
  --disable=traefik,servicelb
then
  echo "k3s install failed or took over 600 s; last log lines of k3s:" >&2
  journalctl -u k3s --no-pager -n 50 >&2 || true
  exit 1
fi

# The API answers before the node object exists; wait for it before the kubeconfig is handed out.
for _ in $(seq 1 120); do
  k3s kubectl get node 'node-1' >/dev/null 2>&1 && exit 0
  sleep 2
done
echo "k3s server did not register node node-1 within 240 s" >&2
journalctl -u k3s --no-pager -n 50 >&2
exit 1
