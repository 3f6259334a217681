#!/usr/bin/env bash
# Prints the stacks of this project as a JSON array for a GitHub Actions matrix, one per stack
# file stacks/Pulumi.<stack>.yaml (Pulumi.yaml: stackConfigDir: stacks), sorted. A new stack
# file is previewed without editing any workflow.
#   usage: stack-matrix.sh [stacks-dir]     (default: stacks)
set -euo pipefail
dir=${1:-stacks}
if [[ ! -d "$dir" ]]; then
  echo "stack-matrix: $dir is not a folder (expected the stack files' folder, e.g. stacks)" >&2
  exit 1
fi
names=()
shopt -s nullglob
for file in "$dir"/Pulumi.*.yaml; do
  name=${file##*/Pulumi.}
  name=${name%.yaml}
  # Pulumi stack names: letters, digits, -, _ and . (quoting below relies on it).
  if [[ ! "$name" =~ ^[A-Za-z0-9._-]+$ ]]; then
    echo "stack-matrix: $file: stack name \"$name\" may only contain letters, digits, '-', '_' and '.'" >&2
    exit 1
  fi
  names+=("$name")
done
if ((${#names[@]} == 0)); then
  echo "stack-matrix: no stack files ($dir/Pulumi.<stack>.yaml)" >&2
  exit 1
fi
mapfile -t sorted < <(printf '%s\n' "${names[@]}" | LC_ALL=C sort)
json=$(printf '"%s",' "${sorted[@]}")
echo "[${json%,}]"
