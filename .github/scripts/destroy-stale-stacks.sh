#!/usr/bin/env bash
# Destroys the comparison stacks someone left running: every stack of this Pulumi project (run
# from the folder with Pulumi.yaml) that still has resources and was last updated more than
# MAX_AGE_HOURS ago, then removes the emptied stack. Stacks with an update in progress are
# left alone (a comparison is running). Needs the `pulumi` CLI, PULUMI_BACKEND_URL (the shared
# backend the operators use), PULUMI_CONFIG_PASSPHRASE and cloud credentials. Exits 1 if any
# destroy failed. See docs/review.md.
#   MAX_AGE_HOURS            default 12: `npm run compare` updates a stack when it brings it up and
#                            when it destroys it; its default limits (30 min up, 60 min of
#                            measurement per stack) keep a 5-stack run well inside 12 h
#   DRY_RUN=true             list what would be destroyed, destroy nothing
#   DESTROY_TIMEOUT_MINUTES  per stack, default 30
#   NOW_EPOCH                the current time in seconds (tests pin it)
set -euo pipefail

max_age_hours=${MAX_AGE_HOURS:-12}
dry_run=${DRY_RUN:-false}
destroy_timeout=${DESTROY_TIMEOUT_MINUTES:-30}
now=${NOW_EPOCH:-$(date +%s)}
if [[ ! "$max_age_hours" =~ ^[0-9]+$ ]]; then
  echo "MAX_AGE_HOURS: \"$max_age_hours\" must be a whole number of hours (e.g. 12)" >&2
  exit 2
fi
if [[ "$dry_run" != "true" && "$dry_run" != "false" ]]; then
  echo "DRY_RUN: \"$dry_run\" must be true or false" >&2
  exit 2
fi
if [[ ! "$destroy_timeout" =~ ^[1-9][0-9]*$ ]]; then
  echo "DESTROY_TIMEOUT_MINUTES: \"$destroy_timeout\" must be a whole number of minutes, at least 1" >&2
  exit 2
fi

stacks_json=$(pulumi stack ls --json)
# name <TAB> last update (ISO 8601, may be empty) <TAB> resource count <TAB> update in progress
listing=$(jq -r '.[] | [.name, (.lastUpdate // ""), ((.resourceCount // 0) | tostring), ((.updateInProgress // false) | tostring)] | @tsv' <<<"$stacks_json")

destroyed=0 failed=0 kept=0
while IFS=$'\t' read -r name last_update resources busy; do
  [[ -n "$name" ]] || continue
  if [[ "$busy" == "true" ]]; then
    echo "keep     $name: an update is in progress"
    kept=$((kept + 1))
    continue
  fi
  if ((resources == 0)); then
    echo "keep     $name: no resources"
    kept=$((kept + 1))
    continue
  fi
  age_hours=999999
  if [[ -n "$last_update" ]]; then
    updated=$(date -d "$last_update" +%s)
    age_hours=$(((now - updated) / 3600))
  fi
  if ((age_hours < max_age_hours)); then
    echo "keep     $name: $resources resources, updated ${age_hours} h ago (< $max_age_hours h)"
    kept=$((kept + 1))
    continue
  fi
  if [[ "$dry_run" == "true" ]]; then
    echo "would destroy $name: $resources resources, updated ${age_hours} h ago"
    continue
  fi
  echo "destroy  $name: $resources resources, updated ${age_hours} h ago"
  if timeout "${destroy_timeout}m" pulumi destroy --stack "$name" --yes --skip-preview --non-interactive \
      && pulumi stack rm --stack "$name" --yes --preserve-config --non-interactive; then
    destroyed=$((destroyed + 1))
  else
    echo "::error::destroying stack $name failed; it may still cost money: run 'pulumi destroy --stack $name' by hand"
    failed=$((failed + 1))
  fi
done <<<"$listing"

echo "cleanup: $destroyed destroyed, $failed failed, $kept kept$([[ "$dry_run" == "true" ]] && echo " (dry run)")"
((failed == 0))
