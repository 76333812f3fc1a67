#!/usr/bin/env bash
# pid_alive PID: true while PID runs. A process that was killed but not yet reaped by its parent (a zombie) is not
# running: kill -0 still succeeds for it, so a restart right after a crash would wait on a dead process.
pid_alive() {
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z* ]]
}
