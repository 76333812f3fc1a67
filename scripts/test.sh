#!/usr/bin/env bash
# The one test command (npm test): installs what is missing (scripts/lib/setup.sh), builds and typechecks, starts the local
# infrastructure unless it is already running, runs unit + integration tests with node's test runner,
# then stops what it started.
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"

step() { printf '\n==> %s  (at %ds)\n' "$*" "$SECONDS" >&2; }

setup_only=false
case "${1:-}" in
  "") ;;
  --setup-only) setup_only=true ;;
  *) echo "usage: $0 [--setup-only]   (--setup-only: install, build, check and fetch the infrastructure; run no test)" >&2; exit 2 ;;
esac

# shellcheck source-path=SCRIPTDIR source=lib/setup.sh
source "$ROOT_DIR/scripts/lib/setup.sh"
step "set-up: prerequisites, node, npm dependencies, typecheck and build"
project_setup lint browser

step "static checks"
bash scripts/check-static.sh

if [[ "$setup_only" == true ]]; then
  step "local infrastructure: install only"
  bash scripts/infra.sh install
  exit 0
fi

# promtool is built once from the Go module proxy (minutes on a fresh machine): in the background, beside the tests;
# the alert rules are checked after them
mkdir -p .run
promtool_log=.run/promtool-build.log
bash scripts/promtool.sh --install >"$promtool_log" 2>&1 &
promtool_build=$!

step "local infrastructure"
# the broker's secured listener, for the SASL_SSL test (test/integration/kafka-security.test.ts)
export KAFKA_SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-9094}"
started=()
for component in kafka mongo gcs bigquery; do
  if ! bash scripts/infra.sh status "$component" >/dev/null 2>&1; then
    bash scripts/infra.sh up "$component"
    started+=("$component")
  fi
done
cleanup() {
  kill "$promtool_build" 2>/dev/null || true
  if [[ ${#started[@]} -gt 0 ]]; then
    step "stopping what this run started: ${started[*]}"
    bash scripts/infra.sh down "${started[@]}" || true
  fi
}
trap cleanup EXIT

# The test files share the local infrastructure, each with names of its own; a test that stops or kills a server
# does it to one of its own (test/support/private-kafka.ts, private-mongo.ts). So they run side by side.
# the end-to-end files first: the unit tests fill the gaps they leave at the end
mapfile -t test_files < <(
  find test/dist -name '*.test.js' 2>/dev/null | sort
  find services/*/dist gcp-utils/dist -name '*.test.js' -not -path '*/fixtures/*' 2>/dev/null | sort
)
[[ ${#test_files[@]} -gt 0 ]] || { echo "no test files found" >&2; exit 1; }
concurrency="${TEST_CONCURRENCY:-2}"
[[ "$concurrency" =~ ^[1-9][0-9]*$ ]] || { echo "TEST_CONCURRENCY: not a positive number: $concurrency" >&2; exit 2; }
step "tests (node --test, ${#test_files[@]} files, $concurrency at a time)"
tested=0
node --test --test-concurrency="$concurrency" --test-timeout=600000 "${test_files[@]}" || tested=$?

step "alert rules (promtool)"
checked=0
wait "$promtool_build" || { cat "$promtool_log" >&2; checked=1; }
(( checked == 0 )) && { bash scripts/check-alerts.sh || checked=$?; }
(( tested == 0 && checked == 0 ))
