#!/usr/bin/env bash
# promtool (Prometheus's rule checker), built once from the Go module proxy into the project's cache, keyed by
# version, then run with the given arguments:
#   bash scripts/promtool.sh check rules monitoring/prometheus/cdc-pipeline.rules.yml
#   bash scripts/promtool.sh --install      build only (idempotent)
# The first build on a machine takes long (28 min on one busy core: the Prometheus module is large; 21 s for another
# clone once Go's build cache has it); later calls find .cache/bin/promtool-<version>.
# PROMTOOL_VERSION picks another release of github.com/prometheus/prometheus (v0.X.Y: Prometheus 3.X.Y).
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${CDC_CACHE_DIR:-$ROOT_DIR/.cache}"
VERSION="${PROMTOOL_VERSION:-v0.316.0}"
BIN="$CACHE_DIR/bin/promtool-$VERSION"

install_promtool() {
  [[ -x "$BIN" ]] && return 0
  # shellcheck source-path=SCRIPTDIR source=lib/prerequisites.sh
  source "$ROOT_DIR/scripts/lib/prerequisites.sh"
  require_prerequisites go
  local gobin start=$SECONDS
  gobin="$(mktemp -d)"
  echo "[promtool] building promtool $VERSION with go install (once; minutes)" >&2
  # one build at a time: two scripts starting together wait for the first
  mkdir -p "$CACHE_DIR/bin"
  (
    flock -w 1800 9 || { echo "[promtool] another build held the lock for 30 min" >&2; exit 1; }
    [[ -x "$BIN" ]] && exit 0
    GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" GOBIN="$gobin" GOFLAGS=-buildvcs=false nice -n 10 go install "github.com/prometheus/prometheus/cmd/promtool@$VERSION"
    mv "$gobin/promtool" "$BIN"
  ) 9>>"$CACHE_DIR/bin/.promtool.lock"
  rm -rf "$gobin"
  echo "[promtool] $VERSION ready in $((SECONDS - start))s: $BIN" >&2
}

install_promtool
[[ "${1:-}" == --install ]] && exit 0
exec "$BIN" "$@"
