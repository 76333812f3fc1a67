#!/usr/bin/env bash
# The shipped Prometheus files (monitoring/prometheus): the alert rules pass `promtool check rules` and their unit
# tests `promtool test rules` (cdc-pipeline.rules.test.yml: series that fire each alert and series that do not),
# the example scrape configuration `promtool check config`. npm test runs it after the tests (promtool built beside them); promtool is
# built once from the Go module proxy into the cache (scripts/promtool.sh).
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
started=$SECONDS
bash "$ROOT_DIR/scripts/promtool.sh" --install
cd "$ROOT_DIR/monitoring/prometheus"
promtool() { bash "$ROOT_DIR/scripts/promtool.sh" "$@" >&2; }
promtool check config --syntax-only prometheus.yml || { echo "monitoring/prometheus/prometheus.yml: invalid (above)" >&2; exit 1; }
promtool check rules cdc-pipeline.rules.yml || { echo "monitoring/prometheus/cdc-pipeline.rules.yml: invalid (above)" >&2; exit 1; }
promtool test rules cdc-pipeline.rules.test.yml || { echo "monitoring/prometheus: an alert rule test failed (above)" >&2; exit 1; }
echo "alert rules: promtool check and unit tests passed in $((SECONDS - started))s" >&2
