#!/usr/bin/env bash
set -euo pipefail
count=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
template='{"apiVersion":"v1","kind":"Service","metadata":{"name":"@NAME@","namespace":"extra-services","labels":{"cni-compare/extra-service":"true"}},"spec":{"type":"ClusterIP","selector":{"app.kubernetes.io/name":"extra-service-backend","app.kubernetes.io/part-of":"cni-compare"},"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":80}]}}'
for ((i = 0; i < count; i++)); do printf 'extra-%05d\n' "$i"; done > "$work/want"
# 200 Services per kubectl process, 32 processes at once (kubectl throttles itself).
split -l 200 "$work/want" "$work/names-"
for names in "$work"/names-*; do
  [[ -e "$names" ]] || continue
  while IFS= read -r name; do printf -- '---\n%s\n' "${template//@NAME@/$name}"; done < "$names" > "$names.yaml"
done
if ! find "$work" -name 'names-*.yaml' -print0 | timeout 900 xargs -0 -r -n 1 -P 32 k3s kubectl --namespace extra-services apply --server-side --field-manager=cni-compare -o name -f > /dev/null; then
  echo "applying $count extra Services in namespace extra-services failed or took over 900 s" >&2
  exit 1
fi
# Any labelled Service beyond the count goes (a smaller count than the last run's).
k3s kubectl --namespace extra-services get services -l 'cni-compare/extra-service=true' -o name | sed 's|^service/||' | sort > "$work/have"
sort "$work/want" | comm -23 "$work/have" - > "$work/surplus"
if [[ -s "$work/surplus" ]] && ! xargs -r -n 200 -P 8 k3s kubectl --namespace extra-services delete service --wait=false < "$work/surplus" > /dev/null; then
  echo "deleting $(wc -l < "$work/surplus") surplus extra Services failed" >&2
  exit 1
fi
have=$(k3s kubectl --namespace extra-services get services -l 'cni-compare/extra-service=true' -o name | wc -l)
if ((have != count)); then
  echo "namespace extra-services holds $have labelled Services, not $count" >&2
  exit 1
fi
