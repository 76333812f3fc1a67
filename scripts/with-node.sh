#!/usr/bin/env bash
# Runs a shell command line with the project's Node runtime first on PATH (scripts/lib/node.sh); the npm scripts
# of package.json that start node go through it:  bash scripts/with-node.sh 'tsc -b && node bench/dist/cdc.js' [ARGS...]
# (ARGS are appended to the command line, as npm appends the arguments given after --).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/node.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/node.sh"
use_project_node
command_line="$1"
shift
exec bash -c "$command_line \"\$@\"" with-node "$@"
