#!/usr/bin/env bash
set -euo pipefail
deadline=$((SECONDS + 600))
for node in node-1 node-2; do
  until k3s kubectl get node "$node" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "node $node did not register within 600 s" >&2
      k3s kubectl get nodes -o wide >&2 || true
      exit 1
    fi
    sleep 5
  done
done
remaining=$((deadline - SECONDS))
if ((remaining < 1)) || ! k3s kubectl wait --for=condition=Ready node node-1 node-2 --timeout="${remaining}s"; then
  echo "nodes were not Ready within 600 s; the pod network is the usual cause:" >&2
  k3s kubectl get nodes -o wide >&2 || true
  k3s kubectl get pods -A -o wide >&2 || true
  exit 1
fi
