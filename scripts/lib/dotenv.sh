#!/usr/bin/env bash
# Reads .env-style files (the subset docker compose and dotenv agree on) into the associative array DOTENV,
# without executing them: KEY=VALUE lines, optional `export `, full-line # comments, values optionally in
# single or double quotes, ` #` comments after unquoted values. No ${VAR} expansion: keep .env values literal.
#   source scripts/lib/dotenv.sh; dotenv_load .env.example; dotenv_load .env; echo "${DOTENV[KAFKA_TOPIC_PARTITIONS]}"
# Later files override earlier ones.

declare -gA DOTENV=()

dotenv_load() {
  local file="$1" line key value n=0
  [[ -f "$file" ]] || return 0
  while IFS= read -r line || [[ -n "$line" ]]; do
    n=$((n + 1))
    line="${line%$'\r'}"
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ ! "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=(.*)$ ]]; then
      printf '%s:%d: not KEY=VALUE, ignored\n' "$file" "$n" >&2
      continue
    fi
    key="${BASH_REMATCH[2]}"
    value="${BASH_REMATCH[3]}"
    value="${value#"${value%%[![:space:]]*}"}"           # leading blanks
    if [[ "$value" =~ ^\"(.*)\"[[:space:]]*(#.*)?$ ]]; then
      value="${BASH_REMATCH[1]}"
    elif [[ "$value" =~ ^\'(.*)\'[[:space:]]*(#.*)?$ ]]; then
      value="${BASH_REMATCH[1]}"
    else
      value="${value%%[[:space:]]#*}"                     # inline comment after a blank
      value="${value%"${value##*[![:space:]]}"}"          # trailing blanks
    fi
    DOTENV["$key"]="$value"
  done <"$file"
}

# dotenv_get KEY [DEFAULT]: the value, or DEFAULT when unset or empty.
dotenv_get() {
  local value="${DOTENV[$1]:-}"
  printf '%s' "${value:-${2:-}}"
}
