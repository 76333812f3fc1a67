#!/usr/bin/env bash
# tree_tar OUT: a tarball of the files of this work tree that git would commit (tracked, and new ones not
# ignored): a copy without node_modules, .cache, .run, .env or logs. Run from the tree's root.
tree_tar() {
  local out="$1" file
  while IFS= read -r -d '' file; do if [[ -e "$file" ]]; then printf '%s\0' "$file"; fi; done \
    < <(git ls-files -z --cached --others --exclude-standard) | tar --null -T - -cf "$out"
}
