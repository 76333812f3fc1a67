#!/usr/bin/env bash
# pid_alive PID: true while PID runs. A process that was killed but not yet reaped by its parent (a zombie) is not
# running: kill -0 still succeeds for it, so a restart right after a crash would wait on a dead process. A zombie
# thread-group leader whose other threads are still exiting (state Zl: a JVM tearing down) still holds its ports
# and files, so it counts as running until the last thread is gone.
pid_alive() {
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [[ -n "$state" ]] || return 1
  [[ "$state" != Z* || "$state" == *l* ]]
}
