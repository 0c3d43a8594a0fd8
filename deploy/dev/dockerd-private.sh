#!/usr/bin/env bash
# A private Docker engine for tests that must stop and start an engine without touching the
# machine's own (which other tests are using):
#   deploy/dev/dockerd-private.sh start DIR   start dockerd with its state under DIR, its socket
#                                             at DIR/docker.sock and its containers on a bridge
#                                             of its own (owtst0, 10.213.0.1/24); prints the
#                                             DOCKER_HOST to use. Idempotent.
#   deploy/dev/dockerd-private.sh stop DIR    stop it (SIGTERM by its pid file, wait); the
#                                             state stays, so start brings the same engine back
#   deploy/dev/dockerd-private.sh clean DIR   stop it, remove its containers' state and the bridge
# Extra dockerd flags: DOCKERD_PRIVATE_FLAGS (e.g. --live-restore).
set -euo pipefail
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|clean DIR" >&2; exit 2; }
bridge=owtst0
subnet=10.213.0.1/24
sock=$dir/docker.sock
pidfile=$dir/dockerd.pid

answers() { timeout 10 docker -H "unix://$sock" info >/dev/null 2>&1; }

start() {
  mkdir -p "$dir/data" "$dir/exec"
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add "$subnet" dev "$bridge"
  fi
  ip link set "$bridge" up
  if ! answers; then
    if ! { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }; then
      # shellcheck disable=SC2086
      nohup dockerd --host "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" \
        --pidfile "$pidfile" --bridge "$bridge" --iptables=false --ip-masq=false --ip6tables=false \
        --cgroup-parent owtst --log-driver json-file --storage-driver overlay2 \
        ${DOCKERD_PRIVATE_FLAGS:-} >>"$dir/dockerd.log" 2>&1 </dev/null &
    fi
    for _ in $(seq 1 120); do
      answers && break
      sleep 0.5
    done
    answers || { echo "dockerd-private.sh: no answer in 60 s:" >&2; tail -20 "$dir/dockerd.log" >&2; exit 1; }
  fi
  echo "unix://$sock"
}

stop() {
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { echo "dockerd-private.sh: dockerd $pid did not stop" >&2; exit 1; }
  fi
  rm -f "$pidfile"
}

clean() {
  if answers; then
    ids=$(docker -H "unix://$sock" ps -aq)
    [ -z "$ids" ] || docker -H "unix://$sock" rm -f $ids >/dev/null
  fi
  stop
  ip link del "$bridge" 2>/dev/null || true
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  clean) clean ;;
  *) echo "usage: $0 start|stop|clean DIR" >&2; exit 2 ;;
esac
