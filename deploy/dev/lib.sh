# Shared helpers for the deploy/dev scripts. Sourced, not run.
# State (pid files, logs, data, chosen ports) lives in $OW_DEV_STATE, by default .dev/ in the
# checkout (git-ignored), so two checkouts never share a broker or a database.
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
state=${OW_DEV_STATE:-$repo_root/.dev}
mkdir -p "$state"

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# port_answers HOST PORT: exit 0 when something accepts TCP connections there.
port_answers() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# running PIDFILE: exit 0 when the pid in the file is alive.
running() {
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# stop_pid PIDFILE: end the process we started (by its pid) and wait for it.
stop_pid() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# with_lock NAME CMD...: run CMD while holding an exclusive lock, so parallel test
# binaries starting the same service do not race.
with_lock() {
  local name=$1; shift
  exec {lockfd}>"$state/$name.lock"
  flock "$lockfd"
  "$@"
  local rc=$?
  flock -u "$lockfd"
  return $rc
}
