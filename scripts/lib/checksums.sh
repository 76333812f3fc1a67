#!/usr/bin/env bash
# Downloads are checked against SHA-256 sums recorded in the repository before they are used: a file whose sum
# differs, a file not recorded, or a recorded file missing stops the script, naming each. The sums come from the
# registry's copy when a version was chosen; a changed version means a new record, reviewed like code.
#   source scripts/lib/checksums.sh
#   verify_checksums RECORD DIR    the files directly in DIR against RECORD (lines "SHA256  NAME"; # comments)
#   scripts/lib/checksums.sh record RECORD DIR    write RECORD from DIR (after a deliberate version change)
#   scripts/lib/checksums.sh verify RECORD DIR

# sums_of DIR: "SHA256  NAME" of every file directly in DIR, sorted by name
sums_of() {
  (cd "$1" && find . -maxdepth 1 -type f -printf '%P\0' | sort -z | xargs -0 -r sha256sum)
}

verify_checksums() {
  local record="$1" dir="$2" differences
  if [[ ! -f "$record" ]]; then
    printf 'ERROR: no recorded checksums %s for the files downloaded into %s: record them (scripts/lib/checksums.sh record) once their origin is checked\n' "$record" "$dir" >&2
    return 1
  fi
  differences="$(diff <(grep -v '^#' "$record" | sed '/^$/d' | sort -k2) <(sums_of "$dir" | sort -k2) \
    | sed -n -e 's/^< \([0-9a-f]*\)  \(.*\)/  recorded: \2 \1/p' -e 's/^> \([0-9a-f]*\)  \(.*\)/  downloaded: \2 \1/p')" || true
  if [[ -n "$differences" ]]; then
    printf 'ERROR: the files downloaded into %s are not the ones recorded in %s (changed, added or missing): not used\n%s\n' \
      "$dir" "$record" "$differences" >&2
    return 1
  fi
}

record_checksums() {
  local record="$1" dir="$2" header
  header="$(grep '^#' "$record" 2>/dev/null || true)"
  { [[ -z "$header" ]] || printf '%s\n' "$header"; sums_of "$dir"; } >"$record.tmp" && mv "$record.tmp" "$record"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    record) record_checksums "$2" "$3" ;;
    verify) verify_checksums "$2" "$3" ;;
    *) echo "usage: $0 record|verify RECORD DIR" >&2; exit 2 ;;
  esac
fi
