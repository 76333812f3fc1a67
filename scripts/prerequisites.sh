#!/usr/bin/env bash
# Installs what the project's scripts need and this machine lacks (Debian packages, named before they are
# installed; without root: prints the command to run and exits 1). The list: scripts/lib/prerequisites.sh.
#   scripts/prerequisites.sh            what npm test and ./deploy.sh --local need
#   scripts/prerequisites.sh --docker   that, and what npm run test:docker needs (Docker engine, debootstrap)
#   scripts/prerequisites.sh --list     the whole list: group, probe, Debian package
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/prerequisites.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prerequisites.sh"
case "${1:-}" in
  "") require_prerequisites "${PREREQUISITE_GROUPS_LOCAL[@]}" ;;
  --docker) require_prerequisites "${PREREQUISITE_GROUPS_LOCAL[@]}" docker ;;
  --list) sed '/^$/d' <<<"$PREREQUISITES" ;;
  *) echo "usage: $0 [--docker | --list]" >&2; exit 2 ;;
esac
