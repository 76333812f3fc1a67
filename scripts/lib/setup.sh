#!/usr/bin/env bash
# The project's set-up on this machine, shared by npm test (scripts/test.sh) and ./deploy.sh --local
# (scripts/stack.sh): the Debian packages it needs (scripts/lib/prerequisites.sh), the project's Node
# (scripts/lib/node.sh), the npm dependencies when the lockfile changed, then the build. Idempotent; quick
# when nothing changed.
#   source scripts/lib/setup.sh; project_setup [GROUP...]
SETUP_ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=prerequisites.sh
source "$SETUP_ROOT_DIR/scripts/lib/prerequisites.sh"
# shellcheck source-path=SCRIPTDIR source=node.sh
source "$SETUP_ROOT_DIR/scripts/lib/node.sh"

# project_setup [GROUP...]: GROUPs are further prerequisite groups to install in the same apt run (npm test: lint).
project_setup() {
  # the Kafka client's native build needs the kafka-client group (librdkafka from its source, linked dynamically)
  require_prerequisites base node java python kafka-client "$@" || return 1
  use_project_node || return 1
  printf '[setup] node %s (%s), npm %s\n' "$(node --version)" "$(command -v node)" "$(npm --version)" >&2
  # npm ci rebuilds the Kafka client from source (minutes): only when the lockfile is newer than the install
  if [[ ! -d "$SETUP_ROOT_DIR/node_modules" || "$SETUP_ROOT_DIR/package-lock.json" -nt "$SETUP_ROOT_DIR/node_modules/.package-lock.json" ]]; then
    printf '[setup] npm ci\n' >&2
    (cd "$SETUP_ROOT_DIR" && npm ci --no-audit --no-fund) || return 1
    # built here (node-gyp leaves its build configuration), not a downloaded prebuilt binary
    [[ -f "$SETUP_ROOT_DIR/node_modules/@confluentinc/kafka-javascript/build/config.gypi" ]] || {
      printf '[setup] ERROR: the Kafka client was not built from its source (npm_config_build_from_source)\n' >&2; return 1; }
  fi
  printf '[setup] build (tsc -b, the console page)\n' >&2
  (cd "$SETUP_ROOT_DIR" && npx tsc -b && node services/console/build-web.mjs)
}
