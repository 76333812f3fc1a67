#!/usr/bin/env bash
# Local infrastructure, one command: real Kafka (KRaft), the MongoDB stand-in, GCS and BigQuery emulators.
#   scripts/infra.sh up|down|status|install [component...]   (components: kafka mongo gcs bigquery)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ALL_COMPONENTS=(kafka mongo gcs bigquery)

usage() { echo "usage: $0 up|down|status|install [${ALL_COMPONENTS[*]}]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
action="$1"; shift
case "$action" in up|down|status|install) ;; *) usage ;; esac
components=("$@")
[[ ${#components[@]} -gt 0 ]] || components=("${ALL_COMPONENTS[@]}")

rc=0
for component in "${components[@]}"; do
  [[ -f "$here/infra/$component.sh" ]] || { echo "unknown component: $component" >&2; exit 2; }
  started=$SECONDS
  if ! bash "$here/infra/$component.sh" "$action"; then
    rc=1
    [[ "$action" == "status" ]] || { echo "[infra] $component $action failed" >&2; exit 1; }
  fi
  if [[ "$action" == "up" || "$action" == "install" ]]; then
    echo "[infra] $component $action done in $((SECONDS - started))s" >&2
  fi
done
exit "$rc"
