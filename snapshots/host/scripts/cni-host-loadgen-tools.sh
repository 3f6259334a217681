#!/usr/bin/env bash
set -euo pipefail
cloud-init status --wait >/dev/null || true
export DEBIAN_FRONTEND=noninteractive
# On a fresh Ubuntu, unattended-upgrades (apt-daily) can hold the dpkg and package-list locks
# long after cloud-init reports done: wait for them (apt.conf(5), DPkg::Lock::Timeout) instead of
# failing, and retry the list update, bounded, since it also takes the lists lock.
apt_wait=(-o DPkg::Lock::Timeout=600)
for attempt in 1 2 3 4 5 6; do
  apt-get "${apt_wait[@]}" update -qq && break
  if ((attempt == 6)); then
    echo "apt-get update failed 6 times; is another apt run holding the package lists?" >&2
    exit 1
  fi
  sleep 10
done
apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends wrk iperf3 sockperf >/dev/null
for tool in wrk iperf3 sockperf; do
  command -v "$tool" >/dev/null || { echo "$tool missing after install" >&2; exit 1; }
done
