#!/usr/bin/env bash
# promtool (Prometheus's rule checker), built once from the Go module proxy into the project's cache, keyed by
# version, then run with the given arguments:
#   bash scripts/promtool.sh check rules monitoring/prometheus/cdc-pipeline.rules.yml
#   bash scripts/promtool.sh --install      build only (idempotent)
# Built without Prometheus's service-discovery plugins (build tag remove_all_sd: the cloud and Kubernetes SDKs are most
# of the module, and the shipped scrape configuration uses static_configs only): 3.5 min on a fresh machine
# (downloads included) instead of tens of minutes; later calls find .cache/bin/promtool-<version>.
# Go: a `go` of 1.21 or later on PATH (it fetches the toolchain Prometheus's go.mod asks for itself, GOTOOLCHAIN=auto);
# without one (Debian bookworm's golang-go is 1.19) the Go toolchain module golang.org/toolchain is fetched from the
# same proxy into .cache/go-toolchain/, as GOTOOLCHAIN would. PROMTOOL_GO=fetch uses the fetched one in any case.
# PROMTOOL_VERSION picks another release of github.com/prometheus/prometheus (v0.X.Y: Prometheus 3.X.Y).
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${CDC_CACHE_DIR:-$ROOT_DIR/.cache}"
VERSION="${PROMTOOL_VERSION:-v0.316.0}"
GO_TOOLCHAIN="${PROMTOOL_GO_TOOLCHAIN:-go1.26.8}"   # v0.316.0's go.mod asks for go 1.26.7
BIN="$CACHE_DIR/bin/promtool-$VERSION-nosd"

log() { printf '[promtool] %s\n' "$*" >&2; }

# a go that can build it: the machine's when it is 1.21 or later, else the toolchain module from the proxy
go_command() {
  local minor
  if [[ "${PROMTOOL_GO:-}" != fetch ]] && command -v go >/dev/null 2>&1; then
    minor="$(go env GOVERSION 2>/dev/null | sed -nE 's/^go1\.([0-9]+).*/\1/p')"
    if [[ -n "$minor" ]] && (( minor >= 21 )); then command -v go; return 0; fi
  fi
  local arch dir module proxy zip
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) log "no Go toolchain for $(uname -m)"; return 1 ;; esac
  module="v0.0.1-$GO_TOOLCHAIN.linux-$arch"
  dir="$CACHE_DIR/go-toolchain/$GO_TOOLCHAIN"
  if [[ ! -x "$dir/bin/go" ]]; then
    # shellcheck source-path=SCRIPTDIR source=lib/prerequisites.sh
    source "$ROOT_DIR/scripts/lib/prerequisites.sh"
    require_prerequisites base python >&2
    proxy="${GOPROXY:-https://proxy.golang.org}"; proxy="${proxy%%,*}"
    [[ "$proxy" == http* ]] || proxy=https://proxy.golang.org
    log "fetching the Go toolchain module golang.org/toolchain@$module from $proxy"
    zip="$(mktemp)"
    curl -fsSL --retry 3 -o "$zip" "$proxy/golang.org/toolchain/@v/$module.zip"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    python3 -m zipfile -e "$zip" "$dir.tmp"
    rm -f "$zip"
    # a module zip keeps no file modes
    chmod -R a+x "$dir.tmp/golang.org/toolchain@$module/bin" "$dir.tmp/golang.org/toolchain@$module/pkg/tool"
    rm -rf "$dir" && mv "$dir.tmp/golang.org/toolchain@$module" "$dir" && rm -rf "$dir.tmp"
  fi
  printf '%s\n' "$dir/bin/go"
}

install_promtool() {
  [[ -x "$BIN" ]] && return 0
  mkdir -p "$CACHE_DIR/bin"
  local start=$SECONDS
  # one build at a time: two scripts starting together wait for the first
  (
    flock -w 3600 9 || { log "another build held the lock for an hour"; exit 1; }
    [[ -x "$BIN" ]] && exit 0
    go="$(go_command)"
    log "building promtool $VERSION with $("$go" env GOVERSION) (go install; once)"
    gobin="$(mktemp -d)"
    GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" GOBIN="$gobin" GOFLAGS=-buildvcs=false nice -n 10 \
      "$go" install -tags remove_all_sd "github.com/prometheus/prometheus/cmd/promtool@$VERSION"
    mv "$gobin/promtool" "$BIN"
    rm -rf "$gobin"
  ) 9>>"$CACHE_DIR/bin/.promtool.lock"
  log "$VERSION ready in $((SECONDS - start))s: $BIN"
}

install_promtool
[[ "${1:-}" == --install ]] && exit 0
exec "$BIN" "$@"
