#!/usr/bin/env bash
# Installs the Debian packages the tests, the benchmark runner's loopback checks and the
# local lab need. Idempotent; needs root (CI and the lab run as root).
#   (shellcheck)        lints the scripts that run on the nodes
#   iperf3 wrk sockperf the measurement tools the runner drives (same as on the load generator)
#   redis-server php-cli php-redis   the guestbook for the loopback checks and the lab
#   apache2 libapache2-mod-php       the lab's frontends, served as upstream's image serves them
#                                    (Apache + mod_php, keep-alive)
#   bird2 iproute2 iptables tcpdump  the lab's datapaths, BGP and the captures that prove them
#   nftables            `nft` for kube-proxy's nftables rule sets in the lab (--service-proxy nftables)
#   wireguard-tools     `wg` for the lab's WireGuard mode (and its key test; the kernel module is separate)
#   iputils-ping curl   the lab's cross-node ping / path-MTU checks and guestbook smoke test
#   jq                  .github/scripts/destroy-stale-stacks.sh reads `pulumi stack ls --json`
#   stress-ng           the lab's reproducible disturbance (--background-load)
#   openssh-server      stock sshd for the SSH transport's tests (bench/testing/sshd.ts runs its own, on loopback)
set -euo pipefail

packages=(shellcheck iperf3 wrk sockperf redis-server php-cli php-redis wireguard-tools apache2 libapache2-mod-php
          bird2 iproute2 iptables nftables tcpdump procps iputils-ping curl jq openssh-server stress-ng)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} Debian packages present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing ${missing[*]}; run as root (sudo $0)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages start services we do not want running outside our own namespaces.
for svc in redis-server bird iperf3 apache2; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
done
# The packaged sshd would listen on every address. Only when we installed it here: a machine
# that already ran sshd (one reached over SSH) keeps its own.
if [[ " ${missing[*]} " == *" openssh-server "* ]]; then
  for unit in ssh.socket ssh; do # Ubuntu ≥ 22.10 starts sshd from ssh.socket
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  done
  service ssh stop >/dev/null 2>&1 || true
fi
echo "install-deps: done"
