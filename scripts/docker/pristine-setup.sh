#!/usr/bin/env bash
# Proof that a machine with nothing installed by hand can set the project up: runs the set-up part of npm test
# (scripts/test.sh --setup-only: prerequisites, Node, npm ci with the Kafka client's native build, the build, the
# static checks, the local infrastructure's downloads) inside a pristine Debian bookworm root (the debootstrap
# root of the stand-in images: no Node, no Java, no compiler), on a copy of this work tree without its caches.
# A tool that a script uses but no script installs fails here instead of on a user's machine.
#   scripts/docker/pristine-setup.sh      (needs a Docker engine: scripts/docker/engine.sh up)
# Log: .cache/stand-ins/logs/pristine-setup.log (kept; its tail is printed on failure).
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${CDC_CACHE_DIR:-$ROOT_DIR/.cache}"
LOG="$CACHE_DIR/stand-ins/logs/pristine-setup.log"
CONTAINER="cdc-pristine-setup-$$"

log() { printf '[pristine] %s\n' "$*" >&2; }
die() { printf '[pristine] ERROR: %s\n' "$*" >&2; exit 1; }

# shellcheck source=../lib/tree.sh
source "$ROOT_DIR/scripts/lib/tree.sh"

cd "$ROOT_DIR"
base="$(bash scripts/docker/stand-in-images.sh --base)"
mkdir -p "$(dirname "$LOG")"
tree="$(mktemp -d)"
cleanup() { docker rm -f "$CONTAINER" >/dev/null 2>&1 || true; rm -rf "$tree"; }
trap cleanup EXIT
tree_tar "$tree/project.tar"
# What decides the prerequisites: the scripts, the compose and Docker files, the manifests and the base image. A set-up
# that passed with the same inputs leaves a tag (no bytes of its own), so a warm run does not repeat it.
# Only what git would commit counts: build output under scripts/ (the settings generator's dist/) appears during a
# run and would make the next run repeat the set-up.
inputs="$( { git ls-files -z --cached --others --exclude-standard -- scripts compose Dockerfile .nvmrc package.json \
    package-lock.json 'services/*/package.json' gcp-utils/package.json test/package.json | sort -z | xargs -0 sha256sum
  docker image inspect -f '{{.Id}}' "$base"; } | sha256sum | cut -c1-16)"
passed="cdc-stand-in/pristine-setup-passed:$inputs"
if docker image inspect "$passed" >/dev/null 2>&1; then
  log "up to date: a set-up with the same inputs passed ($passed)"
  exit 0
fi
log "set-up of a fresh copy in $base (log: ${LOG#"$ROOT_DIR"/})"
start=$SECONDS
# npm and node read the machine's certificate authorities (a TLS-inspecting proxy is trusted through them) from
# the system bundle, as this machine's own npm is configured to
# shellcheck disable=SC2016 # the command line is the container's, expanded there
if ! docker run --name "$CONTAINER" --init --network bridge \
  -e CI=true -e npm_config_cafile=/etc/ssl/certs/ca-certificates.crt \
  -e NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
  -v "$tree/project.tar:/project.tar:ro" "$base" \
  bash -c 'mkdir /project && tar -xf /project.tar -C /project && cd /project && bash scripts/test.sh --setup-only' \
  >"$LOG" 2>&1; then
  tail -n 40 "$LOG" >&2
  die "the set-up failed on a pristine Debian root after $((SECONDS - start))s: a prerequisite is missing from scripts/lib/prerequisites.sh, or a step fails"
fi
grep -E '^\[prerequisites\] installing' "$LOG" >&2 || true
docker tag "$base" "$passed"
log "a fresh copy set itself up on a pristine Debian root in $((SECONDS - start))s"
