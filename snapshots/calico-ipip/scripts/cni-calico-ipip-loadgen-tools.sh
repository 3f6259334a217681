#!/usr/bin/env bash
set -euo pipefail
cloud-init status --wait >/dev/null || true
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends wrk iperf3 sockperf >/dev/null
for tool in wrk iperf3 sockperf; do
  command -v "$tool" >/dev/null || { echo "$tool missing after install" >&2; exit 1; }
done
