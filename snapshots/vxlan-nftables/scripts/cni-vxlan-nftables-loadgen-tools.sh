#!/usr/bin/env bash
set -euo pipefail
cloud-init status --wait >/dev/null || true
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
apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends wrk iperf3 sockperf >/dev/null
for tool in wrk iperf3 sockperf; do
  command -v "$tool" >/dev/null || { echo "$tool missing after install" >&2; exit 1; }
done
if systemctl is-active --quiet iperf3.service || systemctl is-enabled --quiet iperf3.service; then
  echo "an iperf3 daemon is running or enabled after the install; it would hold the benchmark's port" >&2
  exit 1
fi
