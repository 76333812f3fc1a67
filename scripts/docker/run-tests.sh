#!/usr/bin/env bash
# npm run test:docker: the compose deployment in real containers. Starts a Docker engine when none answers
# (stopped again at the end), builds the stand-in base images (scripts/docker/stand-in-images.sh) while a fresh copy
# of the tree sets itself up on a pristine Debian root (scripts/docker/pristine-setup.sh), then runs
# test/docker/compose.test.mjs with node's test runner: ./deploy.sh, ./test.sh, container kills, the HA overlay,
# the bucket output (no shared volume).
# The deployment runs in a copy of the tree (.run/compose-test/tree: what git would commit), as a user's checkout
# would be, so its .env, logs/ and the developer's own .env never meet.
# MongoDB is the test-only stand-in (test/docker/compose.stand-ins.yml); see docs/test-stand-ins.md.
#   scripts/docker/run-tests.sh                  all of it
#   scripts/docker/run-tests.sh --prepare-only   engine, images and pristine set-up only; the engine is left running
#   scripts/docker/run-tests.sh --port-offset N  the deployment publishes every port of .env.example plus N, so it
#                                                runs beside npm test's local infrastructure (.ci/run does both)
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT_DIR"

step() { printf '\n==> %s  (at %ds)\n' "$*" "$SECONDS" >&2; }

usage() { echo "usage: $0 [--prepare-only | --port-offset N]" >&2; exit 2; }
prepare_only=false
port_offset=0
case "${1:-}" in
  "") ;;
  --prepare-only) prepare_only=true ;;
  --port-offset) [[ "${2:-}" =~ ^[0-9]+$ ]] || usage; port_offset="$2" ;;
  *) usage ;;
esac

step "Docker engine"
[[ "$prepare_only" == true ]] || trap 'bash scripts/docker/engine.sh down' EXIT
engine_env="$(bash scripts/docker/engine.sh up)"
[[ -n "$engine_env" ]] && export "${engine_env?}"

step "stand-in base images, and beside them the set-up of a fresh copy on a pristine Debian root"
start=$SECONDS
bash scripts/docker/stand-in-images.sh --base >/dev/null
# mostly downloads and package installs on both sides: side by side they take less time than one after the other
bash scripts/docker/pristine-setup.sh &
pristine=$!
bash scripts/docker/stand-in-images.sh
echo "stand-in images: $((SECONDS - start))s" >&2
wait "$pristine"
echo "stand-in images and pristine set-up: $((SECONDS - start))s" >&2
[[ "$prepare_only" == false ]] || exit 0

step "compose deployment tests (node --test)"
# shellcheck source=../lib/node.sh
source scripts/lib/node.sh
use_project_node
# shellcheck source=../lib/tree.sh
source scripts/lib/tree.sh
tree="${CDC_RUN_DIR:-$ROOT_DIR/.run}/compose-test/tree"
if [[ -d "$tree" ]]; then
  # a stack left by an interrupted run is removed with the copy it was deployed from
  (cd "$tree" && ./deploy.sh down --volumes >/dev/null 2>&1) || true
  rm -rf "$tree"
fi
mkdir -p "$tree"
tree_tar "$tree.tar" && tar -xf "$tree.tar" -C "$tree" && rm -f "$tree.tar"
export COMPOSE_TEST_ROOT="$tree" COMPOSE_TEST_PORT_OFFSET="$port_offset"
# the copy uses this tree's downloads (Node, the Compose CLI)
export CDC_CACHE_DIR="${CDC_CACHE_DIR:-$ROOT_DIR/.cache}"
export CDC_COMPOSE_OVERRIDES="$ROOT_DIR/test/docker/compose.stand-ins.yml"
# a shared CI machine can be far busier than a deployment host: more time per service to become healthy
export DEPLOY_WAIT_TIMEOUT="${DEPLOY_WAIT_TIMEOUT:-900}"
node --test --test-concurrency=1 test/docker/compose.test.mjs
