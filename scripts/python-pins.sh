#!/usr/bin/env bash
# Makes each requirements file the scripts install Python packages from (pip install --require-hashes) out of its
# .in file beside it: every package of the set, transitive ones included, pinned to one version, with the SHA-256
# of each file PyPI has for it (pip-tools' pip-compile, in a throwaway virtual environment). Versions already in a
# .txt are kept; run it after changing a .in file, and commit both:
#   scripts/python-pins.sh                 every *requirements.in of the repository
#   scripts/python-pins.sh FILE.in...      those only
# pip then refuses any file whose hash is not recorded: a package replaced on the index, or on the way, is caught.
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
PIP_TOOLS_PIN="pip-tools==7.7.0"

mapfile -t inputs < <(if (($# > 0)); then printf '%s\n' "$@"; else git ls-files --cached --others --exclude-standard '*requirements.in'; fi)
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools/venv"
"$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$PIP_TOOLS_PIN"
for input in "${inputs[@]}"; do
  output="${input%.in}.txt"
  echo "pinning $input -> $output" >&2
  # the header names the input and this script (never the machine's paths); no find-links of the local pip config
  "$tools/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras --no-header --no-emit-find-links \
    --no-emit-index-url --output-file "$output.new" "$input"
  header="# Made from $(basename "$input") by scripts/python-pins.sh: do not edit. pip install --require-hashes -r $(basename "$output")"
  { printf '%s\n' "$header"; cat "$output.new"; } >"$output.tmp"
  mv "$output.tmp" "$output"
  rm -f "$output.new"
done
