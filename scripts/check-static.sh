#!/usr/bin/env bash
# Static checks that need no running service: shell scripts lint clean.
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"

if ! command -v shellcheck >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null
fi
mapfile -t scripts < <(git ls-files '*.sh' .ci/run 2>/dev/null; find scripts -name '*.sh' 2>/dev/null)
mapfile -t scripts < <(printf '%s\n' "${scripts[@]}" | sort -u)
shellcheck -x -P SCRIPTDIR "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts clean" >&2
