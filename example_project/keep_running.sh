# Sourced by ./run. `keep_running NAME COMMAND...` runs COMMAND, and runs it again
# whenever it stops, after a pause, saying so on stderr.
#
# db_worker reloads on code changes, and its autoreloader exits for good when an
# edit breaks a system check or an import (the reloaded process exits 1): queued
# mail would then wait with no sign. Here it starts again every few seconds (2 s,
# doubling up to 30 s; back to 2 s once it has run a minute) until the edit is
# fixed. KEEP_RUNNING_PAUSE=N sets the first pause.
keep_running() {
  local name="$1"
  shift
  local first="${KEEP_RUNNING_PAUSE:-2}"
  local pause="$first" child="" status started
  # ./run stops this loop with TERM: stop the command too (db_worker's
  # autoreloader takes its own process down with it).
  trap '[ -n "$child" ] && kill "$child" 2>/dev/null; exit 0' TERM INT
  while true; do
    started=$SECONDS
    "$@" &
    child=$!
    status=0
    wait "$child" || status=$?
    child=""
    if [ $(( SECONDS - started )) -ge 60 ]; then
      pause="$first"
    fi
    echo "[$name] stopped (exit status $status): queued mail waits until it runs again." \
         "Fix the error above; starting it again in ${pause} s." >&2
    sleep "$pause" &
    wait $! || true
    pause=$(( pause * 2 > 30 ? 30 : pause * 2 ))
  done
}
